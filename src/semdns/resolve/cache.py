"""The decision cache: DNS-style TTLs, an LRU bound and negative entries.

Keyed by the normalised query (and the normalised context, when there is one). A positive entry lives
for the TTL of its answer names (the smallest, as for a DNS answer built from several records); a
negative entry, "no child was confident at the top of the tree", lives for the zone's ``negative_ttl``,
like the SOA minimum in DNS. Expired entries are removed on access and counted apart from misses, so
an operator can tell a cold cache from a TTL that is too short.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from semdns.resolve.decision import RoutingDecision


@dataclass(slots=True)
class _Entry:
    decision: RoutingDecision
    expires_at: float
    negative: bool


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """The outcome of a lookup: the decision on a (negative) hit, else ``None`` with the reason."""

    decision: RoutingDecision | None
    status: str  # "hit" | "negative-hit" | "miss" | "expired"


class DecisionCache:
    """A thread-safe TTL + LRU map from query key to :class:`RoutingDecision`."""

    def __init__(self, max_entries: int = 100_000, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.negative_hits = 0
        self.misses = 0
        self.expired = 0
        self.evictions = 0
        self.inserts = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CacheLookup:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return CacheLookup(None, "miss")
            if self._clock() >= entry.expires_at:
                del self._entries[key]
                self.expired += 1
                return CacheLookup(None, "expired")
            self._entries.move_to_end(key)
            if entry.negative:
                self.negative_hits += 1
                return CacheLookup(entry.decision, "negative-hit")
            self.hits += 1
            return CacheLookup(entry.decision, "hit")

    def put(self, key: str, decision: RoutingDecision, ttl: float, *, negative: bool = False) -> None:
        """Store ``decision`` for ``ttl`` seconds (a TTL of 0 stores nothing, as in DNS)."""
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = _Entry(decision, self._clock() + ttl, negative)
            self._entries.move_to_end(key)
            self.inserts += 1
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def stats(self) -> dict[str, int]:
        """Counters for ``dig``, metrics and benchmarks."""
        return {
            "entries": len(self._entries),
            "max_entries": self.max_entries,
            "hits": self.hits,
            "negative_hits": self.negative_hits,
            "misses": self.misses,
            "expired": self.expired,
            "evictions": self.evictions,
            "inserts": self.inserts,
        }
