"""OpenTelemetry traces of the request path, exported by OTLP/HTTP, and only when asked.

Tracing is on when the standard ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``
is set (the exporter reads the rest of the standard variables: headers, timeout, compression;
``OTEL_SERVICE_NAME`` names the service, ``semdns`` by default). When neither is set nothing is
created — no tracer, no provider, no wrapper — and the request path pays one ``is None`` check at
the request and one at the response cache.

When on, the steps are wrapped, CoreDNS ``trace``-style, so the steps themselves know nothing of it:

* ``semdns.request`` (server span, continuing the caller's ``traceparent``) around each API request;
* ``semdns.resolve`` with one ``semdns.resolve.level`` child per level of the descent (stage, outcome,
  chosen names, the top scores, its own duration) — :class:`TracedResolver`;
* ``semdns.cache.lookup`` around the response cache (status, similarity) — in :class:`~.edge.Edge`;
* ``semdns.dispatch`` around dispatch (name served, replica, hops, attempts) — :class:`TracedDispatcher`;
  one ``semdns.attempt`` per attempt on a replica (outcome) — :class:`TracedEngine`; a
  ``semdns.fallback`` span when a name falls back to its parent; retries as events;
* ``semdns.engine.http`` (client span) around each HTTP call to an engine, a child gateway or a
  delegated resolver, whose ``traceparent`` header carries the trace on — an aiohttp trace hook.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import Any

import aiohttp
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.requests import Request
from starlette.responses import Response

from semdns.dispatch import Dispatcher, DispatchObserver, Served
from semdns.engines.pool import Pool
from semdns.engines.protocol import Endpoint, Engine, EngineCall
from semdns.errors import EngineError
from semdns.names import Name
from semdns.resolve.decision import RoutingDecision

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_TOP_SCORES = 5


class Tracing:
    """The tracer of one gateway process (shared by the generations a reload builds)."""

    def __init__(self, exporter: SpanExporter, *, service: str = "semdns") -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer: Tracer = self.provider.get_tracer("semdns")
        self.propagator = TraceContextTextMapPropagator()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Tracing | None:
        """A tracer exporting by OTLP/HTTP when an OTLP endpoint variable is set; None otherwise."""
        source = os.environ if env is None else env
        if not any(source.get(v, "").strip() for v in ENDPOINT_VARIABLES):
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return cls(OTLPSpanExporter(), service=source.get("OTEL_SERVICE_NAME", "").strip() or "semdns")

    def flush(self) -> bool:
        return self.provider.force_flush()

    def shutdown(self) -> None:
        self.provider.shutdown()

    # -- wrappers, applied by Runtime.build -------------------------------------------------------

    async def serve(self, request: Request, handler: Callable[[Request], Awaitable[Response]]) -> Response:
        """Run an API request inside its ``semdns.request`` span (a child of the caller's trace)."""
        parent = self.propagator.extract(request.headers)
        with self.tracer.start_as_current_span(
            f"semdns.request {request.url.path}", context=parent, kind=SpanKind.SERVER,
            attributes={"http.request.method": request.method, "url.path": request.url.path},
        ) as span:  # fmt: skip
            response = await handler(request)
            span.set_attribute("http.response.status_code", response.status_code)
            for header in ("x-semdns-name", "x-semdns-stage", "x-semdns-degraded", "x-semdns-cache"):
                value = response.headers.get(header)
                if value is not None:
                    span.set_attribute("semdns." + header[9:], value)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    def instrument(self, pools: Iterable[Pool]) -> None:
        """Wrap every replica's engine (once: a replica a reload kept is wrapped already)."""
        for pool in pools:
            for replica in pool.replicas:
                if not isinstance(replica.engine, TracedEngine):
                    replica.engine = TracedEngine(replica.engine, self.tracer)

    def trace_configs(self) -> list[aiohttp.TraceConfig]:
        """The aiohttp hook: a client span around each HTTP request, its ``traceparent`` injected."""
        config = aiohttp.TraceConfig()
        tracer, propagator = self.tracer, self.propagator

        async def start(session: Any, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams) -> None:
            if not trace.get_current_span().get_span_context().is_valid:
                return  # outside a request (health probes): no trace to continue
            span = tracer.start_span(
                f"semdns.engine.http {params.method}", kind=SpanKind.CLIENT,
                attributes={"http.request.method": params.method, "url.full": str(params.url)},
            )  # fmt: skip
            ctx.span = span
            propagator.inject(params.headers, context=trace.set_span_in_context(span))

        async def end(session: Any, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams) -> None:
            span: Span | None = getattr(ctx, "span", None)
            if span is not None:
                span.set_attribute("http.response.status_code", params.response.status)
                if params.response.status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                span.end()

        async def failed(
            session: Any, ctx: SimpleNamespace, params: aiohttp.TraceRequestExceptionParams
        ) -> None:
            span: Span | None = getattr(ctx, "span", None)
            if span is not None:
                span.record_exception(params.exception)
                span.set_status(Status(StatusCode.ERROR, type(params.exception).__name__))
                span.end()

        config.on_request_start.append(start)
        config.on_request_end.append(end)
        config.on_request_exception.append(failed)
        return [config]


class TracedResolver:
    """The resolver, with a ``semdns.resolve`` span and one child span per level of the descent.

    The levels' spans are laid end to end from the times the resolver measured (the descent runs in
    a worker thread, where no span can be current). Every other attribute is the wrapped resolver's.
    """

    def __init__(self, inner: Any, tracer: Tracer) -> None:
        self.inner = inner
        self._tracer = tracer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def aresolve(self, query: str, context: str | None = None) -> RoutingDecision:
        with self._tracer.start_as_current_span("semdns.resolve") as span:
            start_ns = time.time_ns()
            decision: RoutingDecision = await self.inner.aresolve(query, context)
            span.set_attributes(
                {
                    "semdns.name": str(decision.name),
                    "semdns.names": [str(a.name) for a in decision.answers],
                    "semdns.stage": decision.stage,
                    "semdns.confidence": round(decision.confidence, 4),
                    "semdns.decision_cache": decision.cache,
                    "semdns.levels": len(decision.trace),
                }
            )
            at = start_ns
            for depth, level in enumerate(decision.trace):
                end = at + int(level.elapsed_us * 1000)
                child = self._tracer.start_span(
                    "semdns.resolve.level",
                    start_time=at,
                    attributes={
                        "semdns.depth": depth,
                        "semdns.node": str(level.node),
                        "semdns.outcome": level.outcome,
                        "semdns.stage": level.stages_tried[-1] if level.stages_tried else "",
                        "semdns.stages_tried": list(level.stages_tried),
                        "semdns.chosen": [str(n) for n in level.chosen],
                        "semdns.score_names": [str(s.name) for s in level.scores[:_TOP_SCORES]],
                        "semdns.scores": [round(s.score, 4) for s in level.scores[:_TOP_SCORES]],
                    },
                )
                child.end(end_time=end)
                at = end
            return decision


class TracedDispatcher(Dispatcher):
    """The dispatcher, with a ``semdns.dispatch`` span around each request's dispatch."""

    def __init__(self, *args: Any, tracer: Tracer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracer = tracer

    async def complete(
        self, endpoint: Endpoint, body: dict[str, Any], name: Name, session: str | None = None
    ) -> tuple[dict[str, Any], Served]:
        with self.tracer.start_as_current_span("semdns.dispatch", attributes=_asked(name, False)) as span:
            result, served = await super().complete(endpoint, body, name, session)
            _served(span, served)
            return result, served

    async def open_stream(
        self,
        endpoint: Endpoint,
        body: dict[str, Any],
        name: Name,
        session: str | None = None,
        *,
        coalesce: bool = False,
    ) -> tuple[AsyncIterator[bytes], Served]:
        with self.tracer.start_as_current_span("semdns.dispatch", attributes=_asked(name, True)) as span:
            events, served = await super().open_stream(endpoint, body, name, session, coalesce=coalesce)
            _served(span, served)
            return events, served


def _asked(name: Name, stream: bool) -> dict[str, Any]:
    return {"semdns.asked": str(name), "semdns.stream": stream}


def _served(span: Span, served: Served) -> None:
    span.set_attributes(
        {
            "semdns.name": str(served.name),
            "semdns.replica": served.replica,
            "semdns.attempts": served.attempts,
            "semdns.degraded": served.degraded,
            "semdns.hops": [f"{h.name}:{h.reason}" for h in served.hops],
        }
    )


class TracedObserver:
    """The dispatch observer (metrics), plus a ``semdns.fallback`` span per fallback and an event per
    retry on the span current at the time (the request's dispatch)."""

    def __init__(self, inner: DispatchObserver, tracer: Tracer) -> None:
        self.inner = inner
        self._tracer = tracer

    def attempt(self, name: Name, replica: str, outcome: str, seconds: float) -> None:
        self.inner.attempt(name, replica, outcome, seconds)

    def fallback(self, source: Name, target: Name) -> None:
        self.inner.fallback(source, target)
        attributes = {"semdns.source": str(source), "semdns.target": str(target)}
        self._tracer.start_span("semdns.fallback", attributes=attributes).end()

    def retry(self, name: Name, allowed: bool) -> None:
        self.inner.retry(name, allowed)
        trace.get_current_span().add_event("semdns.retry", {"semdns.name": str(name), "allowed": allowed})


class TracedEngine:
    """An engine whose every call (one dispatch attempt) is a ``semdns.attempt`` span; the HTTP call
    inside it, when there is one, is that span's child and carries its ``traceparent``."""

    def __init__(self, inner: Engine, tracer: Tracer) -> None:
        self.inner = inner
        self._tracer = tracer

    @property
    def label(self) -> str:
        return self.inner.label

    def _span(self, call: EngineCall, stream: bool) -> Span:
        return self._tracer.start_span(
            "semdns.attempt",
            attributes={
                "semdns.replica": self.inner.label,
                "semdns.endpoint": call.endpoint,
                "semdns.stream": stream,
                "semdns.timeout_s": call.timeout_s,
            },
        )

    async def complete(self, call: EngineCall) -> dict[str, Any]:
        span = self._span(call, False)
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                result = await self.inner.complete(call)
            except BaseException as exc:
                _failed(span, exc)
                raise
            span.set_attribute("semdns.outcome", "ok")
            return result

    async def stream(self, call: EngineCall) -> AsyncIterator[bytes]:
        span = self._span(call, True)
        events = self.inner.stream(call)
        events_seen = 0
        try:
            # The request goes out during the first step: make the span current for it only (a
            # generator must not leave a context attached across its yields).
            token = otel_context.attach(trace.set_span_in_context(span))
            try:
                first = await anext(events)
            finally:
                otel_context.detach(token)
            span.add_event("first event")
            # Counted by their terminators: a coalesced item (EngineCall.coalesce) holds several.
            events_seen = first.count(b"\n\n")
            yield first
            async for event in events:
                events_seen += event.count(b"\n\n")
                yield event
            span.set_attribute("semdns.outcome", "ok")
        except BaseException as exc:
            _failed(span, exc)
            raise
        finally:
            span.set_attribute("semdns.events", events_seen)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
            span.end()

    async def probe(self) -> bool:
        return await self.inner.probe()

    async def aclose(self) -> None:
        await self.inner.aclose()


def _failed(span: Span, exc: BaseException) -> None:
    kind = exc.kind if isinstance(exc, EngineError) else type(exc).__name__
    span.set_attribute("semdns.outcome", kind)
    if not isinstance(exc, GeneratorExit):
        span.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
