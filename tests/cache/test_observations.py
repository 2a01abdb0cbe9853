"""The learned thresholds' observations outlive the process: persisted with their entry in the shared
state, read back by a restarted cache and by another process sharing the same Redis."""

from __future__ import annotations

import pytest

from semdns.cache import ResponseCache
from semdns.cache.response_cache import OBSERVATIONS_PREFIX
from semdns.state import MemoryState
from semdns.state.base import State
from semdns.state.redis_state import RedisState
from semdns.testing.redis_server import RedisServer
from semdns.zone.schema import CacheSpec

from .test_response_cache import fake_embed, request, store

pytestmark = pytest.mark.anyio
SPEC = CacheSpec(learn=True)


async def _observed_cache(state: State) -> tuple[ResponseCache, str]:
    cache = ResponseCache(state, fake_embed, judge=None)
    await cache.start()
    await store(cache, "How tall is Mount Fuji?", "3,776 m", spec=SPEC)
    found = await cache.lookup(request("How tall is Mount Fuji?", spec=CacheSpec(learn=True)))
    (index,) = cache.indexes._indexes.values()
    (entry_id,) = [e.id for e in index._slots if e is not None]
    entry = index.get(entry_id)
    assert found.status == "hit" and entry is not None
    await cache._observe(entry, 0.93, False)
    await cache._observe(entry, 0.97, True)
    return cache, entry_id


async def _observations(cache: ResponseCache, entry_id: str) -> list[tuple[float, bool]]:
    located = cache.indexes.find(entry_id)
    assert located is not None
    entry = located[1].get(entry_id)
    assert entry is not None
    return entry.threshold.observations


async def test_observations_survive_a_restart() -> None:
    state = MemoryState()
    first, entry_id = await _observed_cache(state)
    await first.aclose()
    assert await state.get(OBSERVATIONS_PREFIX + entry_id) is not None
    restarted = ResponseCache(state, fake_embed, judge=None)
    await restarted.start()
    assert await _observations(restarted, entry_id) == [(0.93, False), (0.97, True)]
    assert restarted.indexes.find(entry_id) is not None
    await restarted.purge()
    assert await state.get(OBSERVATIONS_PREFIX + entry_id) is None, "purged with their entry"
    await restarted.aclose()


async def test_observations_are_shared_through_redis(redis_server: RedisServer) -> None:
    state_a, state_b = RedisState(redis_server.url), RedisState(redis_server.url)
    await state_a.start()
    await state_b.start()
    try:
        a, entry_id = await _observed_cache(state_a)
        b = ResponseCache(state_b, fake_embed, judge=None)  # a process started later
        await b.start()
        assert await _observations(b, entry_id) == [(0.93, False), (0.97, True)]
        await a.aclose()
        await b.aclose()
    finally:
        await state_a.aclose()
        await state_b.aclose()
