"""Replica pools: which replica of a name takes the next attempt.

A :class:`Pool` holds the replicas of one name (one per engine record) and picks among those that can
take traffic (healthy by active probes, admitted by their circuit breaker, not yet tried by this
request) with the node's balancing policy:

* ``least_outstanding`` (default): fewest requests in flight, ties rotated; the best general choice
  when generation times vary as much as LLM ones do.
* ``power_of_two``: two random replicas, the less loaded one; near least-outstanding quality with no
  global scan, and no herd on one replica when load figures are stale.
* ``weighted_round_robin``: smooth weighted round robin (nginx's), for replicas of unequal capacity.
* ``session_affinity``: consistent hashing (a ring with virtual nodes) of the ``user`` field or the
  ``x-session-id`` header, so a conversation keeps its replica and losing one replica moves only its
  own sessions; requests with no session key use least-outstanding.
* ``prefix_affinity``: rendezvous hashing of the leading prompt tokens, so requests sharing a prefix
  (system prompt, few-shot examples, earlier turns) land on the replica that holds its KV cache.

Hashes are BLAKE2b, stable across processes (Python's ``hash`` is salted per process).
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from semdns.engines.breaker import BreakerState, CircuitBreaker
from semdns.engines.protocol import Engine
from semdns.names import Name
from semdns.zone.schema import Balancing, GatewayPolicy

_VNODES = 64


def stable_hash(text: str) -> int:
    """A 64-bit hash that is the same in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


@dataclass(eq=False, slots=True)
class Replica:
    """One engine serving a name, with its live state."""

    name: Name
    engine: Engine
    weight: int
    breaker: CircuitBreaker
    timeout_s: float | None = None
    outstanding: int = 0
    healthy: bool = True
    _wrr_current: int = field(default=0, repr=False)

    @property
    def label(self) -> str:
        return self.engine.label

    def available(self) -> bool:
        return self.healthy and self.breaker.admits()

    def begin(self) -> None:
        self.outstanding += 1
        self.breaker.begin()

    def end(self, ok: bool | None) -> None:
        """Finish an attempt: ``None`` when it ended without an outcome (cancelled)."""
        self.outstanding -= 1
        if ok is None:
            self.breaker.release()
        else:
            self.breaker.record(ok)


def leading_tokens(body: Mapping[str, Any], count: int) -> str:
    """The first ``count`` whitespace tokens of the prompt (all messages in order), for prefix affinity."""
    parts: list[str] = []
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
            if sum(len(p) for p in parts) > count * 16:
                break
    else:
        prompt = body.get("prompt")
        parts.append(prompt if isinstance(prompt, str) else str(prompt))
    return " ".join(" ".join(parts).split()[:count])


class Pool:
    """The replicas of one name and the policy that picks among them."""

    def __init__(
        self,
        name: Name,
        replicas: Sequence[Replica],
        policy: GatewayPolicy,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if not replicas:
            raise ValueError(f"a pool needs at least one replica ({name})")
        self.name = name
        self.replicas = tuple(replicas)
        self.policy = policy
        self._rng = rng or random.Random()
        self._rotation = 0
        self._ring: list[tuple[int, int]] = sorted(
            (stable_hash(f"{r.label}#{i}#{k}"), k)
            for k, r in enumerate(self.replicas)
            for i in range(_VNODES)
        )
        self._ring_keys = [h for h, _ in self._ring]
        self._select: Callable[[list[Replica], Mapping[str, Any], str | None], Replica] = {
            "least_outstanding": self._least_outstanding,
            "power_of_two": self._power_of_two,
            "weighted_round_robin": self._weighted_round_robin,
            "session_affinity": self._session_affinity,
            "prefix_affinity": self._prefix_affinity,
        }[policy.balancing]

    @property
    def balancing(self) -> Balancing:
        return self.policy.balancing

    def select(
        self,
        body: Mapping[str, Any],
        session: str | None = None,
        exclude: Collection[Replica] = (),
    ) -> Replica | None:
        """The replica for the next attempt, or ``None`` when none can take it."""
        if len(self.replicas) == 1:
            only = self.replicas[0]
            return only if only not in exclude and only.available() else None
        candidates = [r for r in self.replicas if r not in exclude and r.available()]
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        return self._select(candidates, body, session)

    def available_count(self) -> int:
        return sum(1 for r in self.replicas if r.available())

    def breaker_states(self) -> list[tuple[str, BreakerState]]:
        return [(r.label, r.breaker.state) for r in self.replicas]

    # -- policies ---------------------------------------------------------------------------------

    def _least_outstanding(
        self, candidates: list[Replica], body: Mapping[str, Any], session: str | None
    ) -> Replica:
        self._rotation = (self._rotation + 1) % len(candidates)
        rotated = candidates[self._rotation :] + candidates[: self._rotation]
        return min(rotated, key=_load)

    def _power_of_two(
        self, candidates: list[Replica], body: Mapping[str, Any], session: str | None
    ) -> Replica:
        a, b = self._rng.sample(candidates, 2)
        return a if _load(a) <= _load(b) else b

    def _weighted_round_robin(
        self, candidates: list[Replica], body: Mapping[str, Any], session: str | None
    ) -> Replica:
        total = 0
        best = candidates[0]
        for replica in candidates:
            replica._wrr_current += replica.weight
            total += replica.weight
            if replica._wrr_current > best._wrr_current:
                best = replica
        best._wrr_current -= total
        return best

    def _session_affinity(
        self, candidates: list[Replica], body: Mapping[str, Any], session: str | None
    ) -> Replica:
        if not session:
            return self._least_outstanding(candidates, body, session)
        allowed = {id(r) for r in candidates}
        start = bisect.bisect(self._ring_keys, stable_hash(session))
        ring = self._ring
        for offset in range(len(ring)):
            replica = self.replicas[ring[(start + offset) % len(ring)][1]]
            if id(replica) in allowed:
                return replica
        return candidates[0]  # unreachable: every candidate is on the ring

    def _prefix_affinity(
        self, candidates: list[Replica], body: Mapping[str, Any], session: str | None
    ) -> Replica:
        prefix = leading_tokens(body, self.policy.prefix_tokens)
        return max(candidates, key=lambda r: stable_hash(f"{r.label}\x00{prefix}"))


def _load(replica: Replica) -> float:
    return replica.outstanding / replica.weight
