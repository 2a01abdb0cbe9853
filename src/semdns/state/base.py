"""The :class:`State` protocol and its small result values.

The interface is deliberately narrow (key/value with TTL, a token bucket, a quota counter, counters,
an event stream): each operation maps to one Redis command or one Lua script, so that the Redis
implementation is atomic operation by operation and the in-process twin is a few dictionaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

BucketMode = Literal["take", "check", "debit"]
"""``take``: spend ``amount`` if the bucket holds it; ``check``: report whether it does, spend nothing;
``debit``: spend ``amount`` unconditionally (post-paid token usage may drive a bucket into debt)."""


@dataclass(frozen=True, slots=True)
class BucketResult:
    """The outcome of one token-bucket operation."""

    allowed: bool
    remaining: float
    """Tokens left after the operation (negative when in debt)."""
    retry_after_s: float
    """Seconds until ``amount`` would be available (0 when allowed)."""
    reset_s: float
    """Seconds until the bucket is full again."""


@dataclass(frozen=True, slots=True)
class QuotaResult:
    """The outcome of one quota-counter operation."""

    allowed: bool
    used: int


@dataclass(frozen=True, slots=True)
class StateEvent:
    """One entry of the shared event stream (cache inserts, evictions, observations)."""

    id: str
    data: bytes


class State(Protocol):
    """What the cache and the rate limiter need from shared state."""

    @property
    def shared(self) -> bool:
        """True when other processes see the same state (Redis, reachable)."""
        ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def delete(self, keys: Sequence[str]) -> None: ...

    async def scan(self, prefix: str, limit: int) -> list[tuple[str, bytes]]:
        """Up to ``limit`` live ``(key, value)`` pairs whose key starts with ``prefix``."""
        ...

    async def bucket(
        self, key: str, capacity: float, per_s: float, amount: float, mode: BucketMode
    ) -> BucketResult: ...

    async def quota(self, key: str, amount: int, limit: int, ttl_s: int, *, add: bool) -> QuotaResult:
        """``add=False``: is ``used < limit``? ``add=True``: add ``amount`` (the key expires after
        ``ttl_s`` from its first use, which is how a daily quota resets)."""
        ...

    async def incr(self, key: str, field: str, by: int = 1) -> None: ...

    async def counters(self, key: str) -> dict[str, int]: ...

    async def publish(self, data: bytes) -> None:
        """Append to the event stream (a no-op for a state no other process reads)."""
        ...

    async def events(self, after: str, block_ms: int) -> list[StateEvent]:
        """Stream entries after ``after`` (``"$"``: only new ones), waiting up to ``block_ms``."""
        ...

    async def last_event_id(self) -> str:
        """The id of the newest stream entry (``"0-0"`` when empty), to read onward from it."""
        ...

    def health(self) -> dict[str, Any]:
        """For ``/readyz`` and metrics: backend, reachable, reconnects, errors."""
        ...
