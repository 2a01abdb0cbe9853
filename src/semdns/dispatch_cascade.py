"""Confidence cascades: a name whose answer is unsure hands the request over (escalation).

Dispatch as usual, but ask the engine for token log-probabilities; score the answer by the mean or
the minimum of them (the name's ``cascade`` policy, :mod:`semdns.zone.cascade_spec`); below the
threshold, dispatch again to the policy's ``target`` or the parent name, while the deadline leaves
time, at most ``max_escalations`` times. A stream is decided before its first byte reaches the
client: on a prefix of its tokens, or on the whole answer, buffered. The note says whether it
escalated, from where, to where and why; log-probabilities the client did not ask for are removed
from what it receives. An answer without log-probabilities (an engine that does not return them) is
kept as it is, and the note says so.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from prometheus_client import CollectorRegistry, Counter

from semdns.dispatch import Dispatcher, Served
from semdns.engines.protocol import Endpoint
from semdns.errors import SemdnsError
from semdns.names import Name
from semdns.zone.cascade_spec import CascadeSpec
from semdns.zone.tree import ZoneTree

_Answer = TypeVar("_Answer")


@dataclass(frozen=True)
class CascadeNote:
    """What the cascade did: the names asked in order, each answer's score, and why it stopped."""

    path: tuple[str, ...]
    scores: tuple[float | None, ...]
    statistic: str
    threshold: float
    reason: str
    """``confident``, ``escalated`` (the last answer is kept whatever its score), ``no_logprobs``,
    ``no_target``, ``deadline``, ``max_escalations`` or ``target_failed``."""

    @property
    def escalated(self) -> bool:
        return len(self.path) > 1

    def header(self) -> str:
        score = self.scores[0]
        shown = "none" if score is None else f"{score:.3f}"
        if not self.escalated:
            return f"kept; score={shown}; threshold={self.threshold}; reason={self.reason}"
        return f"escalated; from={self.path[0]}; to={self.path[-1]}; score={shown}; reason={self.reason}"

    def field(self) -> dict[str, Any]:
        return {
            "escalated": self.escalated,
            "path": list(self.path),
            "scores": [None if s is None else round(s, 4) for s in self.scores],
            "statistic": self.statistic,
            "threshold": self.threshold,
            "reason": self.reason,
        }


def token_logprobs(choice: Any) -> list[float]:
    """The token log-probabilities of one response choice or stream chunk choice (OpenAI's
    ``logprobs.content[*].logprob``, or the legacy completions ``logprobs.token_logprobs``)."""
    if not isinstance(choice, dict):
        return []
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        return []
    content = logprobs.get("content")
    if isinstance(content, list):
        return [float(t["logprob"]) for t in content if isinstance(t, dict) and _number(t.get("logprob"))]
    legacy = logprobs.get("token_logprobs")
    if isinstance(legacy, list):
        return [float(v) for v in legacy if _number(v)]
    return []


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def score(values: list[float], statistic: str) -> float | None:
    """The answer's confidence: mean or minimum token log-probability (None without tokens)."""
    if not values:
        return None
    return min(values) if statistic == "min" else sum(values) / len(values)


def _choice(result: dict[str, Any]) -> Any:
    choices = result.get("choices")
    return choices[0] if isinstance(choices, list) and choices else None


def _strip(result: dict[str, Any]) -> None:
    choices = result.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, dict) and "logprobs" in choice:
                choice["logprobs"] = None


class Cascade:
    """Applies each name's cascade policy around the dispatcher."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.outcomes = Counter(
            "semdns_cascade_total",
            "Requests under a cascade policy by the name first asked, outcome (kept/escalated) and reason",
            ["name", "outcome", "reason"],
            registry=registry,
        )

    def _spec(self, tree: ZoneTree, name: Name) -> CascadeSpec | None:
        node = tree.nodes.get(name)
        return node.cascade if node is not None and node.cascade.enabled else None

    def _next(self, tree: ZoneTree, spec: CascadeSpec, current: Name, first: Name) -> Name | None:
        if spec.target is not None and current == first:
            target = Name.parse(spec.target)
            return target if target != current else None
        parent = current.parent
        while parent is not None and parent not in tree.nodes:
            parent = parent.parent
        return parent

    def _stop_reason(
        self, tree: ZoneTree, spec: CascadeSpec, value: float | None, hops: int, started: float, name: Name
    ) -> str | None:
        """Why not to escalate from ``name`` (None: escalate)."""
        if value is None:
            return "no_logprobs"
        if value >= spec.threshold:
            return "confident"
        if hops >= spec.max_escalations:
            return "max_escalations"
        node = tree.nodes.get(name)
        deadline = node.gateway.deadline_s if node is not None else 0.0
        if deadline - (time.monotonic() - started) < spec.min_remaining_s:
            return "deadline"
        return None

    async def _escalate(
        self,
        tree: ZoneTree,
        spec: CascadeSpec,
        name: Name,
        started: float,
        first_score: float | None,
        open_target: Callable[[Name], Awaitable[_Answer]],
        adopt: Callable[[_Answer], Awaitable[float | None]],
    ) -> tuple[list[Name], list[float | None], str]:
        """The escalation loop of both forms: while the last answer's score says so and a target is
        left within the deadline, ask the next name (``open_target``: a failure there ends the
        cascade with the answer in hand) and take its answer (``adopt``, which scores it). Returns
        the names asked, their scores and why the cascade stopped (``escalated:<why>`` once it moved)."""
        path, scores = [name], [first_score]
        while True:
            reason = self._stop_reason(tree, spec, scores[-1], len(path) - 1, started, path[-1])
            target = None if reason else self._next(tree, spec, path[-1], name)
            if reason is not None or target is None:
                reason = reason or "no_target"
                break
            try:
                opened = await open_target(target)
            except SemdnsError:
                reason = "target_failed"
                break
            path.append(target)
            scores.append(await adopt(opened))
        if len(path) > 1 and reason != "target_failed":
            reason = f"escalated:{reason}"
        return path, scores, reason

    def _count(self, note: CascadeNote) -> None:
        self.outcomes.labels(note.path[0], "escalated" if note.escalated else "kept", note.reason).inc()

    async def complete(
        self,
        dispatcher: Dispatcher,
        tree: ZoneTree,
        endpoint: Endpoint,
        body: dict[str, Any],
        name: Name,
        session: str | None,
    ) -> tuple[dict[str, Any], Served, CascadeNote | None]:
        """A non-streaming answer, escalated per ``name``'s policy (no note when it has none)."""
        spec = self._spec(tree, name)
        if spec is None:
            result, served = await dispatcher.complete(endpoint, body, name, session)
            return result, served, None
        started = time.monotonic()
        asked = {**body, "logprobs": True}
        result, served = await dispatcher.complete(endpoint, asked, name, session)

        async def open_target(target: Name) -> tuple[dict[str, Any], Served]:
            return await dispatcher.complete(endpoint, asked, target, session)

        async def adopt(answer: tuple[dict[str, Any], Served]) -> float | None:
            nonlocal result, served
            result, served = answer
            return score(token_logprobs(_choice(result)), spec.score)

        first = score(token_logprobs(_choice(result)), spec.score)
        path, scores, reason = await self._escalate(tree, spec, name, started, first, open_target, adopt)
        if not body.get("logprobs"):
            _strip(result)
        note = CascadeNote(tuple(str(p) for p in path), tuple(scores), spec.score, spec.threshold, reason)
        self._count(note)
        return result, served, note

    async def open_stream(
        self,
        dispatcher: Dispatcher,
        tree: ZoneTree,
        endpoint: Endpoint,
        body: dict[str, Any],
        name: Name,
        session: str | None,
        *,
        coalesce: bool = False,
    ) -> tuple[AsyncIterator[bytes], Served, CascadeNote | None]:
        """A stream decided before its first byte: on its first ``prefix_tokens`` tokens (or all of
        it, with ``stream: buffer``); the events read to decide are replayed, then the rest. Only a
        name without a cascade passes ``coalesce`` on (a cascade reads and rewrites event by event)."""
        spec = self._spec(tree, name)
        if spec is None:
            events, served = await dispatcher.open_stream(endpoint, body, name, session, coalesce=coalesce)
            return events, served, None
        started = time.monotonic()
        asked = {**body, "logprobs": True}
        keep_logprobs = bool(body.get("logprobs"))
        events, served = await dispatcher.open_stream(endpoint, asked, name, session)
        buffered, first, ended = await self._read_prefix(events, spec)

        async def open_target(target: Name) -> tuple[AsyncIterator[bytes], Served]:
            return await dispatcher.open_stream(endpoint, asked, target, session)

        async def adopt(opened: tuple[AsyncIterator[bytes], Served]) -> float | None:
            nonlocal events, served, buffered, ended
            await events.aclose()  # type: ignore[attr-defined]
            events, served = opened
            buffered, value, ended = await self._read_prefix(events, spec)
            return value

        path, scores, reason = await self._escalate(tree, spec, name, started, first, open_target, adopt)
        note = CascadeNote(tuple(str(p) for p in path), tuple(scores), spec.score, spec.threshold, reason)
        self._count(note)
        return _replay(buffered, events, ended, keep_logprobs), served, note

    @staticmethod
    async def _read_prefix(
        events: AsyncIterator[bytes], spec: CascadeSpec
    ) -> tuple[list[bytes], float | None, bool]:
        """Read events until ``prefix_tokens`` tokens (or the end, buffering); their score."""
        buffered: list[bytes] = []
        values: list[float] = []
        ended = True
        async for event in events:
            buffered.append(event)
            if event.startswith(b"data: {"):
                try:
                    payload = orjson.loads(event[6:])
                except orjson.JSONDecodeError:
                    payload = None
                if isinstance(payload, dict):
                    values.extend(token_logprobs(_choice(payload)))
            if spec.stream == "prefix" and len(values) >= spec.prefix_tokens:
                ended = False
                break
        return buffered, score(values, spec.score), ended


async def _replay(
    buffered: list[bytes], events: AsyncIterator[bytes], ended: bool, keep_logprobs: bool
) -> AsyncIterator[bytes]:
    """The events read to decide, then the rest of the stream (log-probabilities removed unless the
    client asked for them)."""
    try:
        for event in buffered:
            yield event if keep_logprobs else _without_logprobs(event)
        if not ended:
            async for event in events:
                yield event if keep_logprobs else _without_logprobs(event)
    finally:
        await events.aclose()  # type: ignore[attr-defined]


def _without_logprobs(event: bytes) -> bytes:
    if b'"logprobs"' not in event or not event.startswith(b"data: {"):
        return event
    try:
        payload = orjson.loads(event[6:])
    except orjson.JSONDecodeError:
        return event
    if isinstance(payload, dict):
        _strip(payload)
    return b"data: " + orjson.dumps(payload) + b"\n\n"
