"""DNS-grade decision cache in the resolver: prefetch of popular entries before they expire (Unbound)
and serve-stale when resolution fails or is too slow (RFC 8767)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from semdns.names import Name
from semdns.resolve import Resolver
from semdns.resolve.cache import DecisionCache
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import load_zone_files

SMALL = Path(__file__).parent.parent / "data" / "zones" / "small.yaml"
QUERY = "my puppy chews the leash of my other dog"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def build(encoder: MiniLMEncoder, clock: FakeClock) -> Resolver:
    cache = DecisionCache(100, clock=clock, stale_s=600, prefetch_fraction=0.1, prefetch_min_hits=2)
    return Resolver(load_zone_files([SMALL]), encoder, cache=cache)


def wait_for(predicate: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached in time")


def test_popular_entry_is_prefetched_before_expiry(encoder: MiniLMEncoder) -> None:
    clock = FakeClock()
    resolver = build(encoder, clock)
    assert resolver.cache is not None
    first = resolver.resolve(QUERY)
    assert first.cache == "miss" and first.ttl == 60
    clock.now += 57  # the last 10% of the TTL
    calls: list[str] = []
    original = resolver._resolve_uncached

    def counting(*args: object, **kwargs: object) -> object:
        calls.append("resolve")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    resolver._resolve_uncached = counting  # type: ignore[method-assign]
    assert resolver.resolve(QUERY).cache == "hit"
    assert resolver.resolve(QUERY).cache == "hit", "the popular hit is answered from the cache..."
    wait_for(lambda: resolver.cache is not None and resolver.cache.inserts == 2)
    assert calls == ["resolve"], "...and re-resolved once in the background"
    clock.now += 10  # past the original expiry: the refreshed entry still answers
    assert resolver.resolve(QUERY).cache == "hit"
    assert resolver.cache.stats()["prefetches"] == 1
    resolver.close()


@pytest.mark.anyio
async def test_serve_stale_when_resolution_fails(encoder: MiniLMEncoder) -> None:
    clock = FakeClock()
    resolver = build(encoder, clock)
    await resolver.aresolve(QUERY)
    clock.now += 120  # expired, within the 600 s stale window

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("classifier exploded")

    resolver._resolve_state = broken  # type: ignore[method-assign]
    stale = await resolver.aresolve(QUERY)
    assert stale.cache == "stale" and stale.ttl == 30
    assert stale.names == (Name.parse("dogs.animals."),)
    clock.now += 1000  # past the stale window: the failure surfaces
    with pytest.raises(RuntimeError, match="exploded"):
        await resolver.aresolve(QUERY)
    resolver.close()


@pytest.mark.anyio
async def test_serve_stale_when_resolution_is_slow_then_refresh(encoder: MiniLMEncoder) -> None:
    clock = FakeClock()
    resolver = build(encoder, clock)
    resolver.stale_after_s = 0.05
    await resolver.aresolve(QUERY)
    clock.now += 120
    release = threading.Event()
    original = resolver._resolve_uncached

    def slow(*args: object, **kwargs: object) -> object:
        release.wait(10)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    resolver._resolve_uncached = slow  # type: ignore[method-assign]
    stale = await resolver.aresolve(QUERY)
    assert stale.cache == "stale"
    release.set()
    for _ in range(500):  # the slow resolution finishes in the background and refreshes the entry
        if resolver.cache is not None and resolver.cache.inserts == 2:
            break
        await asyncio.sleep(0.01)
    assert (await resolver.aresolve(QUERY)).cache == "hit"
    resolver.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
