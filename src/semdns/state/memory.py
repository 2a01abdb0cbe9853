"""The in-process twin of :class:`~semdns.state.RedisState`: the same semantics in dictionaries.

Used on its own when semdns runs without ``--redis`` (one process: nothing to share), and inside
:class:`~semdns.state.RedisState` while Redis is unreachable, so that limits still hold per process.
Single-threaded by design: every caller is on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from semdns.state.base import BucketMode, BucketResult, QuotaResult, StateEvent


class MemoryState:
    """Key/value with TTL, buckets, quotas and counters for one process."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 1_000_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._kv: dict[str, tuple[bytes, float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._quotas: dict[str, tuple[int, float]] = {}
        self._counters: dict[str, dict[str, int]] = {}

    @property
    def shared(self) -> bool:
        return False

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def get(self, key: str) -> bytes | None:
        return self.get_now(key)

    def get_now(self, key: str) -> bytes | None:
        item = self._kv.get(key)
        if item is None:
            return None
        if self._clock() >= item[1]:
            del self._kv[key]
            return None
        return item[0]

    def peek(self, key: str) -> tuple[bytes, float] | None:
        """The live value of ``key`` and the seconds it has left (``None`` when absent or expired)."""
        value = self.get_now(key)
        if value is None:
            return None
        return value, self._kv[key][1] - self._clock()

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        if len(self._kv) >= self._max_keys and key not in self._kv:
            self._expire_some()
            if len(self._kv) >= self._max_keys:
                self._kv.pop(next(iter(self._kv)))  # the oldest insert
        self._kv[key] = (value, self._clock() + ttl_s)

    def _expire_some(self) -> None:
        now = self._clock()
        for key in [k for k, (_, exp) in self._kv.items() if exp <= now][:10_000]:
            del self._kv[key]

    async def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._kv.pop(key, None)

    async def scan(self, prefix: str, limit: int) -> list[tuple[str, bytes]]:
        now = self._clock()
        out: list[tuple[str, bytes]] = []
        for key, (value, exp) in self._kv.items():
            if key.startswith(prefix) and exp > now:
                out.append((key, value))
                if len(out) >= limit:
                    break
        return out

    async def bucket(
        self, key: str, capacity: float, per_s: float, amount: float, mode: BucketMode
    ) -> BucketResult:
        return self.bucket_now(key, capacity, per_s, amount, mode)

    def bucket_now(
        self, key: str, capacity: float, per_s: float, amount: float, mode: BucketMode
    ) -> BucketResult:
        now = self._clock()
        tokens, stamp = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - stamp) * per_s)
        allowed = mode == "debit" or tokens >= amount
        if allowed and mode != "check":
            tokens -= amount
        self._buckets[key] = (tokens, now)
        return bucket_result(allowed, tokens, capacity, per_s, amount)

    async def quota(self, key: str, amount: int, limit: int, ttl_s: int, *, add: bool) -> QuotaResult:
        now = self._clock()
        used, expires = self._quotas.get(key, (0, now + ttl_s))
        if now >= expires:
            used, expires = 0, now + ttl_s
        if add:
            used += amount
            self._quotas[key] = (used, expires)
            return QuotaResult(used <= limit, used)
        return QuotaResult(used < limit, used)

    async def incr(self, key: str, field: str, by: int = 1) -> None:
        fields = self._counters.setdefault(key, {})
        fields[field] = fields.get(field, 0) + by

    async def counters(self, key: str) -> dict[str, int]:
        return dict(self._counters.get(key, {}))

    async def publish(self, data: bytes) -> None:
        return None

    async def events(self, after: str, block_ms: int) -> list[StateEvent]:
        await asyncio.sleep(block_ms / 1000)
        return []

    async def last_event_id(self) -> str:
        return "0-0"

    def health(self) -> dict[str, Any]:
        return {"backend": "memory", "shared": False, "reachable": True}


def bucket_result(allowed: bool, tokens: float, capacity: float, per_s: float, amount: float) -> BucketResult:
    """Derive the waits of a bucket from its level (shared by both implementations)."""
    retry = 0.0 if allowed else max(0.0, (amount - tokens) / per_s)
    reset = max(0.0, (capacity - tokens) / per_s)
    return BucketResult(allowed, tokens, retry, reset)
