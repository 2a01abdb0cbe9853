"""Cross-domain answers that stream: each part as it arrives, delimited, then the aggregation notes.

A streamed multi-name request opens one stream per name at once. The client receives one ordinary
OpenAI stream in which the parts follow each other, never interleaved: the first part to produce a
token streams live; the others buffer meanwhile, and when the live part ends, a part that has
already finished is flushed whole, or the one furthest along continues live. Each part starts with
a heading line ``[name] (confidence 0.82)`` and its first event carries
``semdns.part = {"name", "confidence", "index", "status": "start"}``; its last event ``status``
``done`` or ``failed``. After the last part, the aggregation notes (RAP conflicts: missing parts,
divergent answers) follow as text under ``[notes]`` when there are any, and the final event carries
the finish reason and ``semdns.aggregation`` (the same object as a non-streamed answer's) with
``degraded``. A part that fails before its first token is only noted; one that fails mid-stream
ends its section with a line saying it was cut off: either way the other parts go on. Only when
every part fails before any token does the request fail, with an ordinary HTTP error status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from semdns.cache import CacheLookup
from semdns.dispatch import Dispatcher, Served
from semdns.engines.protocol import Endpoint
from semdns.errors import EngineError, SemdnsError
from semdns.gateway.fanout import FanOut, Part, _partial, aggregation_field
from semdns.gateway.params import usage_event, wants_usage
from semdns.gateway.parse import ParsedRequest
from semdns.gateway.runtime import Runtime
from semdns.gateway.wire import decision_headers
from semdns.names import Name
from semdns.protocol.rap import aggregate
from semdns.resolve.decision import RoutingDecision
from semdns.tenancy import Admission

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

log = logging.getLogger(__name__)


@dataclass
class _State:
    name: Name
    confidence: float
    index: int
    started: float
    pieces: list[str] = field(default_factory=list)
    flushed: int = 0
    shown: bool = False
    status: str = "pending"  # pending | streaming | done | failed
    served: Served | None = None
    error: SemdnsError | None = None
    latency_ms: float = 0.0
    usage: dict[str, Any] | None = None
    """The part's token usage, when its backend reported it (``stream_options.include_usage``)."""

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass
class StreamedFanOut:
    """An opened streamed fan-out: iterate :meth:`events`; ``parts`` tells what happened after."""

    endpoint: Endpoint
    states: list[_State]
    queue: asyncio.Queue[tuple[int, str, Any]]
    tasks: list[asyncio.Task[None]]
    early: list[tuple[int, str, Any]]
    semdns_field: dict[str, Any] = field(default_factory=dict)
    """The request's ``semdns`` field, carried by the first event."""
    ident: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: int = field(default_factory=lambda: int(time.time()))
    degraded: bool = False
    include_usage: bool = False
    """The client asked for ``stream_options.include_usage``: the stream ends with the parts' usage
    summed, in OpenAI's shape (a chunk with empty ``choices``), before ``[DONE]``."""

    def usage_event(self) -> bytes:
        totals = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for state in self.states:
            for key in totals:
                value = (state.usage or {}).get(key)
                totals[key] += value if isinstance(value, int) else 0
        return usage_event({"id": self.ident, "created": self.created, "usage": totals}, self.endpoint)

    def _event(self, text: str | None, finish: str | None = None, semdns: Any = None) -> bytes:
        if self.endpoint == "chat":
            delta: dict[str, Any] = {"content": text} if text is not None else {}
            choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
            kind, prefix = "chat.completion.chunk", "chatcmpl-"
        else:
            choice = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
            kind, prefix = "text_completion", "cmpl-"
        event: dict[str, Any] = {
            "id": prefix + self.ident,
            "object": kind,
            "created": self.created,
            "model": "semdns-aggregate",
            "choices": [choice],
        }
        if semdns is not None:
            event = {"semdns": semdns, **event}
        return b"data: " + orjson.dumps(event) + b"\n\n"

    def _heading(self, state: _State, first: bool) -> bytes:
        marker = {"name": str(state.name), "confidence": round(state.confidence, 4), "index": state.index}
        semdns: dict[str, Any] = {"part": {**marker, "status": "start"}}
        if first:
            semdns = {**self.semdns_field, **semdns}
        prefix = "" if first else "\n\n"
        return self._event(f"{prefix}[{state.name}] (confidence {state.confidence:.2f})\n", semdns=semdns)

    def _end(self, state: _State) -> bytes:
        marker: dict[str, Any] = {"name": str(state.name), "index": state.index, "status": state.status}
        text = None
        if state.status == "failed" and state.error is not None:
            marker["error"] = {"code": state.error.code, "message": str(state.error)[:500]}
            text = f"\n[{state.name} was cut off: {state.error.code}]"
        return self._event(text, semdns={"part": marker})

    async def events(self) -> AsyncIterator[bytes]:
        """The client's stream (see the module docstring). Closing it cancels the open parts."""
        live: _State | None = None
        first = True
        pending = list(self.early)
        self.early = []
        try:
            while True:
                if live is None:
                    live = self._next_live()
                    if live is not None:
                        yield self._heading(live, first)
                        first = False
                        live.shown = True
                if live is not None:
                    if live.flushed < len(live.pieces):
                        text = "".join(live.pieces[live.flushed :])
                        live.flushed = len(live.pieces)
                        yield self._event(text)
                    if live.status in ("done", "failed"):
                        yield self._end(live)
                        live = None
                        continue
                if all(s.status in ("done", "failed") for s in self.states) and live is None:
                    if not any(not s.shown and (s.pieces or s.status == "done") for s in self.states):
                        break
                    continue
                item = pending.pop(0) if pending else await self.queue.get()
                self._apply(item)
            yield from_notes(self)
            if self.include_usage:
                yield self.usage_event()
            yield b"data: [DONE]\n\n"
        finally:
            for task in self.tasks:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*self.tasks, return_exceptions=True)

    def _apply(self, item: tuple[int, str, Any]) -> None:
        index, kind, value = item
        state = self.states[index]
        if kind == "text":
            state.pieces.append(value)
            state.status = "streaming"
        elif kind == "usage":
            state.usage = value
        elif kind == "done":
            state.status, state.served = "done", value
            state.latency_ms = (time.perf_counter() - state.started) * 1e3
        else:
            state.status, state.error = "failed", value
            state.latency_ms = (time.perf_counter() - state.started) * 1e3

    def _next_live(self) -> _State | None:
        """The part to show next: a finished one first (it flushes whole), else the one furthest along."""
        waiting = [s for s in self.states if not s.shown and (s.pieces or s.status == "done")]
        if not waiting:
            return None
        finished = [s for s in waiting if s.status in ("done", "failed")]
        if finished:
            return finished[0]
        return max(waiting, key=lambda s: len(s.pieces))


def from_notes(stream: StreamedFanOut) -> bytes:
    """The aggregation notes (text, when there are conflicts) and the final event."""
    parts = [
        Part(
            s.name,
            s.confidence,
            _result(stream.endpoint, s.text) if s.status == "done" else None,
            s.served,
            s.error if s.status != "done" else None,
            s.latency_ms,
        )
        for s in stream.states
    ]
    partials = [_partial(p, stream.endpoint) for p in parts]
    combined = aggregate(partials, id=stream.ident)
    served = tuple(p.served for p in parts if p.served is not None)
    stream.degraded = combined.degraded or any(s.degraded for s in served)
    summary = aggregation_field(FanOut({}, combined, tuple(parts)))
    out = b""
    if combined.conflicts:
        lines = [f"- {c.kind}: {', '.join(c.names)}: {c.note}" for c in combined.conflicts]
        out += stream._event("\n\n[notes]\n" + "\n".join(lines))
    semdns = {"aggregation": summary, "degraded": stream.degraded, "served": [str(s.name) for s in served]}
    return out + stream._event(None, finish="stop", semdns=semdns)


def _result(endpoint: Endpoint, text: str) -> dict[str, Any]:
    if endpoint == "chat":
        return {"choices": [{"message": {"role": "assistant", "content": text}}]}
    return {"choices": [{"text": text}]}


def _piece(event: bytes, endpoint: Endpoint) -> str | None:
    """The text of one backend SSE event (None for [DONE], role-only deltas and non-JSON lines)."""
    if not event.startswith(b"data: {"):
        return None
    try:
        payload = orjson.loads(event[6:])
    except orjson.JSONDecodeError:
        return None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        raise EngineError(f"the backend ended its stream with an error: {payload['error'].get('message')}")
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    if endpoint == "chat":
        delta = choice.get("delta")
        text = delta.get("content") if isinstance(delta, dict) else None
    else:
        text = choice.get("text")
    return text if isinstance(text, str) and text else None


def _usage(event: bytes) -> dict[str, Any] | None:
    """The ``usage`` object of a backend's last chunk (asked for by ``include_usage``), if any."""
    if not event.startswith(b"data: {") or b'"usage"' not in event:
        return None
    try:
        payload = orjson.loads(event[6:])
    except orjson.JSONDecodeError:
        return None
    usage = payload.get("usage") if isinstance(payload, dict) else None
    return usage if isinstance(usage, dict) else None


async def open_streamed_fan_out(
    dispatcher: Dispatcher,
    endpoint: Endpoint,
    body: dict[str, Any],
    targets: Sequence[tuple[Name, float]],
    session: str | None,
) -> StreamedFanOut:
    """Open every part; return once one part has produced something. Raises the first part's error
    when every part failed before its first token (nothing has been sent to the client yet)."""
    streamed = {**body, "stream": True}
    queue: asyncio.Queue[tuple[int, str, Any]] = asyncio.Queue()
    now = time.perf_counter()
    states = [_State(name, confidence, i, now) for i, (name, confidence) in enumerate(targets)]

    async def run(index: int) -> None:
        state = states[index]
        events: AsyncIterator[bytes] | None = None
        try:
            events, served = await dispatcher.open_stream(endpoint, streamed, state.name, session)
            async for event in events:
                text = _piece(event, endpoint)
                if text is not None:
                    await queue.put((index, "text", text))
                elif (usage := _usage(event)) is not None:
                    await queue.put((index, "usage", usage))
            await queue.put((index, "done", served))
        except SemdnsError as exc:
            log.warning("part %s of a streamed fan-out failed: %s", state.name, exc)
            await queue.put((index, "error", exc))
        finally:
            if events is not None:
                with contextlib.suppress(Exception):
                    await events.aclose()  # type: ignore[attr-defined]

    tasks = [asyncio.create_task(run(i)) for i in range(len(states))]
    early: list[tuple[int, str, Any]] = []
    failed: list[SemdnsError] = []
    while len(failed) < len(states):
        item = await queue.get()
        early.append(item)
        if item[1] != "error":
            break
        failed.append(item[2])
    else:
        first = next(item[2] for item in early if item[0] == 0) if early else failed[0]
        raise first
    return StreamedFanOut(endpoint, states, queue, tasks, early, include_usage=wants_usage(body))


def opening_field(decision: RoutingDecision) -> dict[str, Any]:
    """The ``semdns`` field of a streamed fan-out's first event: the decision (who served each part
    and whether the answer degraded are only known at the end, in the final event)."""
    return {
        "resolved": str(decision.name),
        "names": [str(n) for n in decision.names],
        "stage": decision.stage,
        "confidence": round(decision.confidence, 4),
        "cache": decision.cache,
        "cross_domain": True,
        "aggregation": "streamed",
    }


async def streamed_fan_out_response(
    runtime: Runtime,
    parsed: ParsedRequest,
    decision: RoutingDecision,
    targets: Sequence[tuple[Name, float]],
    admission: Admission | None,
    lookup: CacheLookup | None,
    extra: dict[str, str],
    note: dict[str, Any] | None,
) -> Response:
    """The gateway's answer to a streamed cross-domain request (raises before any byte when every
    part failed, so the caller can serve stale or map the error to a status)."""
    edge = runtime.edge
    started = time.perf_counter()
    opened = await open_streamed_fan_out(
        runtime.dispatcher, parsed.endpoint, parsed.body, targets, parsed.session
    )
    opened.semdns_field = opening_field(decision)
    if note is not None:
        opened.semdns_field["compression"] = note
    headers = {
        **decision_headers(decision, None),
        **extra,
        "x-semdns-name": ",".join(str(n) for n, _ in targets),
        "x-semdns-aggregation": "streamed",
        **SSE_HEADERS,
    }
    metrics = runtime.metrics
    raw: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        async for event in opened.events():
            raw.append(event)
            yield event
        metrics.requests.labels(str(decision.name), decision.stage, "200").inc()
        if edge is not None and admission is not None:
            edge.after_answer(
                admission, lookup, "sse", raw, parsed.endpoint,
                degraded=opened.degraded, engine_s=time.perf_counter() - started,
            )  # fmt: skip

    return StreamingResponse(body(), headers=headers, media_type="text/event-stream")
