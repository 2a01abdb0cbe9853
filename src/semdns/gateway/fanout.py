"""Cross-domain answers: ask every name of a multi-name decision at once and aggregate with RAP.

A query such as "the legal risks of a medical device's firmware" resolves to several names
(``litigation.legal.``, ``security.code.``). Each name is dispatched on its own, concurrently, with
the same replicas, retries and fallback as a single-name request; each outcome becomes a RAP
:class:`PartialResult` (content, the resolver's confidence for that name, who served it, latency, or
the error), and :func:`semdns.protocol.rap.aggregate` combines them: every answer under a heading
naming its specialist, most confident first, with conflict notes for parts that failed or disagree.
The client gets one ordinary OpenAI response whose text is the aggregate; the ``semdns`` field carries
the parts and the notes. A part that failed does not fail the request while another part answered.
A streamed request streams each part as it arrives instead (:mod:`semdns.gateway.fanout_stream`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from semdns.dispatch import Dispatcher, Served
from semdns.engines.protocol import Endpoint
from semdns.errors import SemdnsError
from semdns.gateway.wire import fallback_path
from semdns.names import Name
from semdns.protocol.messages import AggregatedResult, PartialResult, WireError
from semdns.protocol.rap import aggregate


@dataclass(frozen=True, slots=True)
class Part:
    """One name's outcome: the backend's response and who served it, or the error."""

    name: Name
    confidence: float
    result: dict[str, Any] | None
    served: Served | None
    error: SemdnsError | None
    latency_ms: float


@dataclass(frozen=True, slots=True)
class FanOut:
    """The aggregated answer as an OpenAI response object, plus the parts it came from."""

    response: dict[str, Any]
    aggregate: AggregatedResult
    parts: tuple[Part, ...]

    @property
    def served(self) -> tuple[Served, ...]:
        return tuple(p.served for p in self.parts if p.served is not None)

    @property
    def degraded(self) -> bool:
        """A part failed, or a part was answered by a more general name than the one resolved."""
        return self.aggregate.degraded or any(s.degraded for s in self.served)


async def fan_out(
    dispatcher: Dispatcher,
    endpoint: Endpoint,
    body: dict[str, Any],
    targets: Sequence[tuple[Name, float]],
    session: str | None,
) -> FanOut:
    """Dispatch ``body`` to every (name, confidence) concurrently and aggregate the answers.

    Raises the first part's error when no part answered (the gateway maps it to a status as usual).
    """
    single = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}

    async def one(name: Name, confidence: float) -> Part:
        started = time.perf_counter()
        try:
            result, served = await dispatcher.complete(endpoint, single, name, session)
        except SemdnsError as exc:
            return Part(name, confidence, None, None, exc, (time.perf_counter() - started) * 1e3)
        return Part(name, confidence, result, served, None, (time.perf_counter() - started) * 1e3)

    parts = tuple(await asyncio.gather(*(one(n, c) for n, c in targets)))
    answered = [p for p in parts if p.result is not None]
    if not answered:
        error = parts[0].error
        assert error is not None
        raise error
    partials = [_partial(p, endpoint) for p in parts]
    combined = aggregate(partials, id=uuid.uuid4().hex)
    return FanOut(_response(answered, combined.content, endpoint), combined, parts)


def _partial(part: Part, endpoint: Endpoint) -> PartialResult:
    if part.result is None or part.served is None:
        assert part.error is not None
        return PartialResult(
            name=str(part.name),
            confidence=part.confidence,
            latency_ms=part.latency_ms,
            error=WireError(code=part.error.code, message=str(part.error)[:4000]),
        )
    source = f"{fallback_path(part.served)} via {part.served.replica}"
    return PartialResult(
        name=str(part.name),
        content=_text(part.result, endpoint),
        confidence=part.confidence,
        source=source[:2048],
        latency_ms=part.latency_ms,
    )


def _text(result: dict[str, Any], endpoint: Endpoint) -> str:
    """The answer text of an OpenAI response (first choice), or '' when it has none."""
    choices = result.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return ""
    choice = choices[0]
    if endpoint == "chat":
        message = choice.get("message")
        content = message.get("content") if isinstance(message, dict) else None
    else:
        content = choice.get("text")
    return content if isinstance(content, str) else ""


def _response(answered: Sequence[Part], content: str, endpoint: Endpoint) -> dict[str, Any]:
    """One OpenAI response shaped like the most confident part's, carrying the aggregated text and the
    summed token usage of every part."""
    lead = max(answered, key=lambda p: p.confidence)
    assert lead.result is not None
    response = dict(lead.result)
    finish = "stop"
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        finish = str(choices[0].get("finish_reason") or "stop")
    if endpoint == "chat":
        response["choices"] = [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
        ]
    else:
        response["choices"] = [{"index": 0, "text": content, "finish_reason": finish, "logprobs": None}]
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    for part in answered:
        assert part.result is not None
        part_usage = part.result.get("usage")
        if isinstance(part_usage, dict):
            for key in usage:
                value = part_usage.get(key)
                if isinstance(value, int):
                    usage[key] += value
    response["usage"] = usage
    return response


def aggregation_field(result: FanOut) -> dict[str, Any]:
    """What the ``semdns`` field says about a fan-out: the parts (without their text) and the notes."""
    combined = result.aggregate
    return {
        "strategy": combined.strategy,
        "confidence": round(combined.confidence, 4),
        "parts": [
            {
                "name": p.name,
                "confidence": round(p.confidence, 4),
                "source": p.source,
                "latency_ms": round(p.latency_ms, 2),
                "error": None if p.error is None else {"code": p.error.code, "message": p.error.message},
            }
            for p in combined.results
        ],
        "conflicts": [{"names": c.names, "kind": c.kind, "note": c.note} for c in combined.conflicts],
    }
