"""The OpenAI-compatible routes: ``POST /v1/chat/completions`` and ``POST /v1/completions``.

One path through: read the body (bounded), validate it, address it (``auto`` → resolve the last user
message; a name or DN → that node), dispatch it (replicas, retries, failover, fallback), answer with
the backend's own JSON or SSE events plus the ``semdns`` explanation. Every error a client or a backend
can cause becomes an OpenAI-style error body; nothing escapes as a crash.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from semdns.cache import CacheLookup
from semdns.dispatch import delegation_point
from semdns.dispatch_cascade import Cascade, CascadeNote
from semdns.engines.protocol import Endpoint
from semdns.errors import (
    DeadlineExceeded,
    EngineError,
    Forbidden,
    NoEngineAvailable,
    ResolutionError,
    SemdnsError,
    UnknownName,
)
from semdns.gateway.body import read_body
from semdns.gateway.compression import REPORT_HEADER, CompressionNote, CompressionStep
from semdns.gateway.fanout import aggregation_field, fan_out
from semdns.gateway.fanout_stream import streamed_fan_out_response
from semdns.gateway.params import fit_usage, single_name_only, wants_usage
from semdns.gateway.parse import ParsedRequest, parse_request
from semdns.gateway.privacy_gate import shield, unmask
from semdns.gateway.recursion import Followed
from semdns.gateway.runtime import Runtime
from semdns.gateway.sse import EventStream
from semdns.gateway.wire import (
    JSON,
    decision_headers,
    error_event,
    error_response,
    explain_delegation,
    semdns_field,
)
from semdns.names import InvalidName, Name
from semdns.resolve.decision import Answer, LevelTrace, RoutingDecision
from semdns.tenancy import Admission
from semdns.ui.events import decision_event

log = logging.getLogger(__name__)

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class OpenAIRoutes:
    """Route handlers bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._explicit: dict[str, RoutingDecision] = {}
        # Built once per metrics registry: every generation of a hot-reloading gateway shares them.
        metrics = runtime.metrics
        encoder = getattr(runtime.resolver, "encoder", None)
        self.compression = metrics.once("compression", lambda: CompressionStep(encoder, metrics.registry))
        self.cascade = metrics.once("cascade", lambda: Cascade(metrics.registry))

    async def chat_completions(self, request: Request) -> Response:
        return await self._observed(request, "chat")

    async def completions(self, request: Request) -> Response:
        return await self._observed(request, "completion")

    async def _observed(self, request: Request, endpoint: Endpoint) -> Response:
        """:meth:`_handle`, and the finished response offered to the console's live feed, only
        when someone watches it (one attribute test otherwise)."""
        feed = self.runtime.feed
        if not feed.watching:
            return unmask(await self._handle(request, endpoint), request)
        started = time.perf_counter()
        response = unmask(await self._handle(request, endpoint), request)
        feed.publish(decision_event(self.runtime, request, response, started, endpoint))
        return response

    async def _handle(self, request: Request, endpoint: Endpoint) -> Response:
        metrics = self.runtime.metrics
        decision: RoutingDecision | None = None
        try:
            settings = self.runtime.settings
            raw = await read_body(request, settings.max_body_bytes, settings.body_timeout_s)
            parsed = parse_request(raw, endpoint, request.headers.get("x-session-id"))
            edge = self.runtime.edge
            # Auth and rate limits before any work is spent on the request.
            admission = await edge.admit(request.headers) if edge is not None else None
            tree = self.runtime.tree
            shield(tree, parsed, (tree.apex,), request)  # privacy: the apex's policy, before resolution
            decision = await self._address(parsed)
            shield(tree, parsed, decision.names, request)  # before a peer resolver sees the query
            followed = await self._follow(parsed, decision)
            if followed is not None:
                decision = followed.decision
            name = decision.name
            lookup: CacheLookup | None = None
            extra: dict[str, str] = {}
            if edge is not None and admission is not None:
                name = edge.permit(admission, decision.name)
            shield(tree, parsed, (name, *decision.names), request)  # before the cache and the engine
            if edge is not None and admission is not None:
                extra.update(admission.headers)
                lookup = await edge.lookup(
                    admission, endpoint, parsed.body, parsed.query, name, decision, request.headers
                )
                if lookup is not None:
                    if lookup.served:
                        return self._replay(lookup, parsed, decision, name, extra)
                    extra.update(lookup.headers())
            note = await self.compression.apply(parsed, self.runtime.tree, name, request.headers)
            if note is not None:
                extra[REPORT_HEADER] = note.header()
            if decision.is_multi:
                targets = self._targets(decision, admission)
                single = single_name_only(parsed.body, endpoint) if len(targets) > 1 else None
                if len(targets) > 1 and single is None:
                    return await self._fan_out(parsed, decision, targets, admission, lookup, extra, note)
                if single is not None:
                    # Tools, JSON, n, logprobs: no merge exists, the most confident name answers whole.
                    extra["x-semdns-single-name"] = single
                name = targets[0][0]
            if parsed.stream:
                return await self._stream(parsed, decision, name, admission, lookup, extra, followed, note)
            started = time.perf_counter()
            try:
                result, served, cascaded = await self.cascade.complete(
                    self.runtime.dispatcher, self.runtime.tree, endpoint, parsed.body, name, parsed.session
                )
            except (NoEngineAvailable, DeadlineExceeded, EngineError):
                cache = edge.cache if edge is not None else None
                if lookup is not None and cache is not None and cache.serve_stale(lookup):
                    return self._replay(lookup, parsed, decision, name, extra)
                raise
            # A child gateway's own explanation moves under semdns.child (ours replaces it).
            child = result.pop("semdns", None) if served.delegated_to is not None else None
            if edge is not None and admission is not None and edge.wants_answer(admission, lookup):
                edge.after_answer(
                    admission, lookup, "json", orjson.dumps(result), endpoint,
                    degraded=served.degraded, engine_s=time.perf_counter() - started,
                )  # fmt: skip
            field = semdns_field(decision, served)
            headers = {**decision_headers(decision, served), **extra}
            explain_delegation(field, headers, served, followed, child)
            _note(field, note)
            _explain_cascade(field, headers, cascaded)
            result["semdns"] = field
            metrics.requests.labels(str(served.name), decision.stage, "200").inc()
            return Response(orjson.dumps(result), headers=headers, media_type=JSON)
        except SemdnsError as exc:
            self._count_failure(decision, exc.http_status)
            return error_response(exc, decision)
        except Exception:
            log.exception("unexpected error while serving %s", request.url.path)
            self._count_failure(decision, 500)
            return error_response(SemdnsError("internal error in the gateway (logged)"), decision)

    def _targets(self, decision: RoutingDecision, admission: Admission | None) -> list[tuple[Name, float]]:
        """The names a cross-domain decision fans out to, each as the tenant may use it (a name outside
        the tenant's subtrees becomes its permitted ancestor, or is dropped when refused), without
        duplicates. Raises the first refusal when no name is left."""
        edge = self.runtime.edge
        targets: list[tuple[Name, float]] = []
        refused: Forbidden | None = None
        for answer in decision.answers:
            name = answer.name
            if edge is not None and admission is not None:
                try:
                    name = edge.permit(admission, name)
                except Forbidden as exc:
                    refused = refused or exc
                    continue
            if all(name != seen for seen, _ in targets):
                targets.append((name, answer.confidence))
        if not targets:
            assert refused is not None
            raise refused
        return targets

    async def _fan_out(
        self,
        parsed: ParsedRequest,
        decision: RoutingDecision,
        targets: list[tuple[Name, float]],
        admission: Admission | None,
        lookup: CacheLookup | None,
        extra: dict[str, str],
        note: CompressionNote | None = None,
    ) -> Response:
        """A cross-domain answer: every name asked at once, the answers aggregated (RAP). Streamed,
        each part streams as it arrives (semdns.gateway.fanout_stream)."""
        edge = self.runtime.edge
        started = time.perf_counter()
        try:
            if parsed.stream:
                compression = note.field() if note is not None else None
                return await streamed_fan_out_response(
                    self.runtime, parsed, decision, targets, admission, lookup, extra, compression
                )
            result = await fan_out(
                self.runtime.dispatcher, parsed.endpoint, parsed.body, targets, parsed.session
            )
        except (NoEngineAvailable, DeadlineExceeded, EngineError):
            cache = edge.cache if edge is not None else None
            if lookup is not None and cache is not None and cache.serve_stale(lookup):
                return self._replay(lookup, parsed, decision, targets[0][0], extra)
            raise
        lead = result.served[0]
        field = semdns_field(decision, lead)
        field["degraded"] = result.degraded
        field["served"] = [str(s.name) for s in result.served]
        field["aggregation"] = aggregation_field(result)
        _note(field, note)
        headers = {**decision_headers(decision, lead), **extra}
        headers["x-semdns-name"] = ",".join(field["served"])
        if result.degraded:
            headers["x-semdns-degraded"] = "true"
        self.runtime.metrics.requests.labels(str(decision.name), decision.stage, "200").inc()
        payload = orjson.dumps(result.response)
        response = Response(
            orjson.dumps({**result.response, "semdns": field}), headers=headers, media_type=JSON
        )
        if edge is not None and admission is not None:
            edge.after_answer(
                admission, lookup, "json", payload, parsed.endpoint,
                degraded=result.degraded, engine_s=time.perf_counter() - started,
            )  # fmt: skip
        return response

    def _count_failure(self, decision: RoutingDecision | None, status: int) -> None:
        name = str(decision.name) if decision is not None else "-"
        stage = decision.stage if decision is not None else "-"
        self.runtime.metrics.requests.labels(name, stage, str(status)).inc()

    async def _follow(self, parsed: ParsedRequest, decision: RoutingDecision) -> Followed | None:
        """For ``auto``: follow the delegations the local decision stopped at (None when this gateway
        does not recurse, or for an explicit name). A failure keeps the local decision, degraded."""
        recursion = self.runtime.recursion
        if recursion is None or parsed.model is not None:
            return None
        context = "\n".join(parsed.context) if parsed.context else None
        try:
            return await recursion.follow(decision, parsed.query, context)
        except Exception:
            log.exception("following a delegation failed; serving the local decision")
            return Followed(decision, followed=True, degraded=True)

    async def _address(self, parsed: ParsedRequest) -> RoutingDecision:
        """The routing decision: resolved for ``auto``, or the named node's (404 when unknown)."""
        if parsed.model is not None:
            decision = self._explicit.get(parsed.model)
            if decision is None:
                decision = self._explicit_decision(parsed.model)
                if len(self._explicit) < 10_000:
                    self._explicit[parsed.model] = decision
            return decision
        started = time.perf_counter()
        try:
            context = "\n".join(parsed.context) if parsed.context else None
            decision = await self.runtime.resolver.aresolve(parsed.query, context)
        except SemdnsError:
            raise
        except Exception as exc:
            log.exception("the resolver failed")
            raise ResolutionError(f"the resolver failed on this query: {exc}") from exc
        metrics = self.runtime.metrics
        metrics.resolution_seconds.labels(decision.stage).observe(time.perf_counter() - started)
        metrics.decision_cache.labels(decision.cache).inc()
        return decision

    def _explicit_decision(self, model: str) -> RoutingDecision:
        """The decision for a name the client chose: a node of this tree, or a name under one of its
        delegations (the child defines it; dispatch forwards it there). UnknownName (404) otherwise."""
        tree = self.runtime.tree
        try:
            node = tree.lookup(model)
            name, dn, ttl = node.name, str(node.dn), node.ttl
        except UnknownName:
            try:
                name = Name.parse(model.strip())
            except InvalidName:
                raise UnknownName(f"no zone defines {model!r}") from None
            point = delegation_point(tree, name)
            if point is None:
                raise
            dn, ttl = "", tree.nodes[point].ttl
        return RoutingDecision(
            query="",
            answers=(Answer(name, dn, 1.0),),
            trace=(LevelTrace(name, "explicit", (name,), (), (), 0.0),),
            confidence=1.0,
            stage="explicit",
            ttl=ttl,
            cache="bypass",
        )

    def _replay(
        self,
        lookup: CacheLookup,
        parsed: ParsedRequest,
        decision: RoutingDecision,
        name: Name,
        extra: dict[str, str],
    ) -> Response:
        """Answer from the response cache (a hit, or a stale entry when every engine failed)."""
        edge = self.runtime.edge
        assert edge is not None and lookup.entry is not None
        field: dict[str, object] = {
            "name": str(name),
            "resolved": str(decision.name),
            "stage": decision.stage,
            "confidence": round(decision.confidence, 4),
            "cache": decision.cache,
            "response_cache": lookup.status,
            "entry": lookup.entry.id[:16],
        }
        if lookup.similarity is not None:
            field["similarity"] = round(lookup.similarity, 4)
        headers = {**decision_headers(decision, None), "x-semdns-name": str(name), **extra}
        self.runtime.metrics.requests.labels(str(name), decision.stage, "200").inc()
        response = edge.replay(lookup, parsed.stream, headers, field)
        if isinstance(response, StreamingResponse):
            answer = orjson.loads(lookup.body())
            want = wants_usage(parsed.body)
            response.body_iterator = fit_usage(response.body_iterator, answer, want, parsed.endpoint)
        return response

    async def _stream(
        self,
        parsed: ParsedRequest,
        decision: RoutingDecision,
        name: Name,
        admission: Admission | None = None,
        lookup: CacheLookup | None = None,
        extra: dict[str, str] | None = None,
        followed: Followed | None = None,
        note: CompressionNote | None = None,
    ) -> Response:
        edge = self.runtime.edge
        started = time.perf_counter()
        try:
            # Coalesced: the events pass through untouched but for the first one's ``semdns`` field,
            # so each read from the backend becomes one write to the client (EngineCall.coalesce).
            events, served, cascaded = await self.cascade.open_stream(
                self.runtime.dispatcher,
                self.runtime.tree,
                parsed.endpoint,
                parsed.body,
                name,
                parsed.session,
                coalesce=True,
            )
        except (NoEngineAvailable, DeadlineExceeded, EngineError):
            cache = edge.cache if edge is not None else None
            if lookup is not None and cache is not None and cache.serve_stale(lookup):
                return self._replay(lookup, parsed, decision, name, extra or {})
            raise
        field = semdns_field(decision, served)
        headers = {**decision_headers(decision, served), **(extra or {}), **_SSE_HEADERS}
        explain_delegation(field, headers, served, followed)
        _note(field, note)
        _explain_cascade(field, headers, cascaded)
        forwarded = served.delegated_to is not None
        metrics = self.runtime.metrics
        served_name = str(served.name)
        keep = edge is not None and edge.wants_answer(admission, lookup)
        raw: list[bytes] = []

        async def body() -> AsyncIterator[bytes]:
            status = "200"
            try:
                first = True
                async for chunk in events:
                    if keep:
                        raw.append(chunk)
                    if first:
                        first = False
                        chunk = _first_with_semdns(chunk, field, replace=forwarded)
                    yield chunk
                if keep and edge is not None and admission is not None:
                    # Complete streams only: the write-back checks for [DONE] and no error event.
                    edge.after_answer(
                        admission, lookup, "sse", split_events(raw), parsed.endpoint,
                        degraded=served.degraded, engine_s=time.perf_counter() - started,
                    )  # fmt: skip
            except SemdnsError as exc:
                # After the first byte there is no status code left to change: end with an error event,
                # never a silent truncation.
                status = "stream_error"
                log.warning("stream from %s failed mid-way: %s", served.replica, exc)
                yield error_event(exc)
            finally:
                await events.aclose()  # type: ignore[attr-defined]
                metrics.requests.labels(served_name, decision.stage, status).inc()

        return EventStream(body(), headers=headers, media_type="text/event-stream")


def _note(field: dict[str, object], note: CompressionNote | None) -> None:
    """What the compression step did, under ``semdns.compression``."""
    if note is not None:
        field["compression"] = note.field()


def _explain_cascade(field: dict[str, object], headers: dict[str, str], note: CascadeNote | None) -> None:
    """What the confidence cascade did: ``semdns.cascade`` and ``x-semdns-cascade``."""
    if note is not None:
        field["cascade"] = note.field()
        headers["x-semdns-cascade"] = note.header()


def _with_semdns(event: bytes, field: dict[str, object], *, replace: bool = False) -> bytes:
    """The first SSE event with the ``semdns`` field added (one splice, the event is not re-encoded).
    With ``replace`` (a child gateway's stream, which carries its own field) the event is decoded once
    and the child's field moves under ``semdns.child``."""
    if replace and event.startswith(b"data: {"):
        try:
            payload = orjson.loads(event[6:])
        except orjson.JSONDecodeError:
            return event
        if isinstance(payload, dict) and "semdns" in payload:
            child = payload.pop("semdns")
            if isinstance(child, dict):
                field["child"] = child
            return b"data: " + orjson.dumps({"semdns": field, **payload}) + b"\n\n"
    if event.startswith(b"data: {") and not event.startswith(b"data: {}"):
        return b'data: {"semdns":' + orjson.dumps(field) + b"," + event[7:]
    return event


def _first_with_semdns(chunk: bytes, field: dict[str, object], *, replace: bool) -> bytes:
    """:func:`_with_semdns` on the first event of ``chunk`` (which may hold several): a splice needs
    only its start; a replacement decodes the first event alone."""
    if replace:
        end = chunk.find(b"\n\n") + 2
        if 1 < end < len(chunk):
            return _with_semdns(chunk[:end], field, replace=True) + chunk[end:]
    return _with_semdns(chunk, field, replace=replace)


def split_events(chunks: list[bytes]) -> list[bytes]:
    """Coalesced chunks back into one item per SSE event (what the cache and usage accounting read)."""
    joined = b"".join(chunks)
    return [event + b"\n\n" for event in joined.split(b"\n\n") if event]
