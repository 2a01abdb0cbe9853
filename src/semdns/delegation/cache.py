"""A TTL cache that can also serve stale entries within a bound (RFC 8767, "serve-stale").

Referrals and answers from other resolvers are cached for their TTL. After the TTL an entry is no
longer *fresh*, but it is kept for ``max_stale`` more seconds: when the resolver it came from is down,
the stale entry is served (flagged stale) instead of failing; past that bound it is gone. The clock is
injectable so tests can move time without sleeping. Bounded: least recently used entries go first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

K = TypeVar("K")
V = TypeVar("V")

Freshness = Literal["fresh", "stale"]

DEFAULT_MAX_STALE_S = 86_400.0  # RFC 8767 suggests 1 to 3 days


@dataclass(frozen=True, slots=True)
class Cached(Generic[V]):
    value: V
    freshness: Freshness
    age_s: float


class StaleCache(Generic[K, V]):
    """Entries live ``ttl`` seconds fresh, then ``max_stale`` seconds stale, then disappear."""

    def __init__(
        self,
        max_entries: int = 10_000,
        *,
        max_stale_s: float = DEFAULT_MAX_STALE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[K, tuple[V, float, float]] = OrderedDict()
        self._max = max_entries
        self.max_stale_s = max_stale_s
        self.clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: K, value: V, ttl: float) -> None:
        now = self.clock()
        self._entries[key] = (value, now, now + max(0.0, ttl))
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def get(self, key: K, *, allow_stale: bool = False) -> Cached[V] | None:
        """The entry when fresh (or stale within the bound, with ``allow_stale``); else None."""
        found = self._entries.get(key)
        if found is None:
            return None
        value, stored, expires = found
        now = self.clock()
        if now < expires:
            self._entries.move_to_end(key)
            return Cached(value, "fresh", now - stored)
        if now >= expires + self.max_stale_s:
            del self._entries[key]
            return None
        return Cached(value, "stale", now - stored) if allow_stale else None

    def clear(self) -> None:
        self._entries.clear()
