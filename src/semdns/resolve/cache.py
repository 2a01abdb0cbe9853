"""The decision cache: DNS-style TTLs, an LRU bound and negative entries.

Keyed by the normalised query (and the normalised context, when there is one). A positive entry lives
for the TTL of its answer names (the smallest, as for a DNS answer built from several records); a
negative entry, "no child was confident at the top of the tree", lives for the zone's ``negative_ttl``,
like the SOA minimum in DNS. Expired entries are removed on access and counted apart from misses, so
an operator can tell a cold cache from a TTL that is too short.

Two DNS-grade behaviours, both off unless asked for (the resolver turns them on):

* **prefetch** (Unbound's ``prefetch: yes``): a hit on a popular entry (``prefetch_min_hits`` hits)
  in the last ``prefetch_fraction`` of its TTL is answered from the cache *and* flagged, once, so that
  the resolver re-resolves it in the background before it expires — popular names never miss;
* **serve-stale** (RFC 8767): an expired entry is kept for ``stale_s`` more seconds; :meth:`stale`
  returns it, so that a resolver that cannot answer in time can answer with it, marked stale.
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
    ttl: float = 0.0
    hits: int = 0
    prefetching: bool = False


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """The outcome of a lookup: the decision on a (negative) hit, else ``None`` with the reason."""

    decision: RoutingDecision | None
    status: str  # "hit" | "negative-hit" | "miss" | "expired"
    prefetch: bool = False
    """A popular entry close to expiry: re-resolve it in the background (flagged once per entry)."""


class DecisionCache:
    """A thread-safe TTL + LRU map from query key to :class:`RoutingDecision`."""

    def __init__(
        self,
        max_entries: int = 100_000,
        *,
        clock: Callable[[], float] = time.monotonic,
        stale_s: float = 0.0,
        prefetch_fraction: float = 0.0,
        prefetch_min_hits: int = 2,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if stale_s < 0 or not 0.0 <= prefetch_fraction < 1.0 or prefetch_min_hits < 1:
            raise ValueError("stale_s must be >= 0, prefetch_fraction in [0, 1), prefetch_min_hits >= 1")
        self.max_entries = max_entries
        self.stale_s = stale_s
        self.prefetch_fraction = prefetch_fraction
        self.prefetch_min_hits = prefetch_min_hits
        self.prefetches = 0
        self.stale_served = 0
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
            now = self._clock()
            if now >= entry.expires_at:
                if now >= entry.expires_at + self.stale_s:
                    del self._entries[key]
                self.expired += 1
                return CacheLookup(None, "expired")
            self._entries.move_to_end(key)
            if entry.negative:
                self.negative_hits += 1
                return CacheLookup(entry.decision, "negative-hit")
            self.hits += 1
            entry.hits += 1
            prefetch = (
                self.prefetch_fraction > 0
                and not entry.prefetching
                and entry.hits >= self.prefetch_min_hits
                and entry.expires_at - now <= self.prefetch_fraction * entry.ttl
            )
            if prefetch:
                entry.prefetching = True
                self.prefetches += 1
            return CacheLookup(entry.decision, "hit", prefetch)

    def stale(self, key: str) -> RoutingDecision | None:
        """The decision of an expired entry still within its serve-stale window (RFC 8767)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            now = self._clock()
            if entry.expires_at <= now < entry.expires_at + self.stale_s:
                return entry.decision
            return None

    def put(self, key: str, decision: RoutingDecision, ttl: float, *, negative: bool = False) -> None:
        """Store ``decision`` for ``ttl`` seconds (a TTL of 0 stores nothing, as in DNS)."""
        if ttl <= 0:
            return
        with self._lock:
            old = self._entries.get(key)
            hits = old.hits if old is not None else 0  # a refresh keeps the entry's popularity
            self._entries[key] = _Entry(decision, self._clock() + ttl, negative, ttl, hits)
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
            "prefetches": self.prefetches,
            "stale_served": self.stale_served,
        }
