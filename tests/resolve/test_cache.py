"""The decision cache: TTL expiry, LRU eviction, negative entries and counters (with a fake clock)."""

from __future__ import annotations

import pytest

from semdns.names import ROOT, Name
from semdns.resolve.cache import DecisionCache
from semdns.resolve.decision import Answer, RoutingDecision


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def decision(name: str = "legal.") -> RoutingDecision:
    parsed = Name.parse(name)
    return RoutingDecision(
        query="q", answers=(Answer(parsed, "", 0.9),), trace=(), confidence=0.9, stage="keyword", ttl=60
    )


def test_hit_until_ttl_then_expired() -> None:
    clock = FakeClock()
    cache = DecisionCache(10, clock=clock)
    cache.put("k", decision(), ttl=60)
    assert cache.get("k").status == "hit"
    clock.now += 59.9
    assert cache.get("k").status == "hit"
    clock.now += 0.1
    found = cache.get("k")
    assert found.status == "expired" and found.decision is None
    assert cache.get("k").status == "miss", "an expired entry is removed"
    assert cache.stats() | {} == {
        "entries": 0,
        "max_entries": 10,
        "hits": 2,
        "negative_hits": 0,
        "misses": 1,
        "expired": 1,
        "evictions": 0,
        "inserts": 1,
        "prefetches": 0,
        "stale_served": 0,
    }


def test_lru_eviction_keeps_recently_used() -> None:
    cache = DecisionCache(3, clock=FakeClock())
    for key in "abc":
        cache.put(key, decision(), ttl=60)
    assert cache.get("a").status == "hit"  # a is now most recently used
    cache.put("d", decision(), ttl=60)  # evicts b, the least recently used
    assert cache.get("b").status == "miss"
    assert {k: cache.get(k).status for k in "acd"} == {"a": "hit", "c": "hit", "d": "hit"}
    assert cache.evictions == 1
    assert len(cache) == 3


def test_negative_entries_and_zero_ttl() -> None:
    clock = FakeClock()
    cache = DecisionCache(10, clock=clock)
    cache.put("nothing", decision("."), ttl=5, negative=True)
    found = cache.get("nothing")
    assert found.status == "negative-hit"
    assert found.decision is not None and found.decision.names == (ROOT,)
    clock.now += 5
    assert cache.get("nothing").status == "expired"
    cache.put("zero", decision(), ttl=0)
    assert cache.get("zero").status == "miss", "a TTL of 0 means do not cache, as in DNS"


def test_rewriting_a_key_refreshes_it() -> None:
    clock = FakeClock()
    cache = DecisionCache(10, clock=clock)
    cache.put("k", decision("legal."), ttl=10)
    clock.now += 8
    cache.put("k", decision("medical."), ttl=10)
    clock.now += 8
    found = cache.get("k")
    assert found.decision is not None and found.decision.names == (Name.parse("medical."),)


def test_bad_size() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DecisionCache(0)


def test_prefetch_flags_a_popular_entry_once_near_expiry() -> None:
    clock = FakeClock()
    cache = DecisionCache(10, clock=clock, prefetch_fraction=0.1, prefetch_min_hits=2)
    cache.put("k", decision(), ttl=100)
    clock.now += 95
    assert not cache.get("k").prefetch, "one hit is not yet popular"
    assert cache.get("k").prefetch, "popular and in the last 10% of its TTL"
    assert not cache.get("k").prefetch, "flagged once, not on every hit"
    cache.put("k", decision(), ttl=100)  # the background refresh
    clock.now += 95
    assert cache.get("k").prefetch, "a refreshed entry keeps its popularity"
    assert cache.stats()["prefetches"] == 2


def test_serve_stale_window() -> None:
    clock = FakeClock()
    cache = DecisionCache(10, clock=clock, stale_s=50)
    cache.put("k", decision(), ttl=10)
    assert cache.stale("k") is None, "a fresh entry is not stale"
    clock.now += 30
    assert cache.get("k").status == "expired"
    stale = cache.stale("k")
    assert stale is not None and stale.names == (Name.parse("legal."),)
    clock.now += 40
    assert cache.stale("k") is None, "past the stale window"
    assert cache.get("k").status == "expired" and cache.get("k").status == "miss"


def test_bad_stale_and_prefetch_settings() -> None:
    with pytest.raises(ValueError, match="prefetch_fraction"):
        DecisionCache(10, prefetch_fraction=1.5)
    with pytest.raises(ValueError, match="stale_s"):
        DecisionCache(10, stale_s=-1)
