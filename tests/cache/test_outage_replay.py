"""Entries cached while Redis was down are copied back when it returns: a real redis-server is stopped
after a first answer is cached, a second answer (with observations of its learned threshold) is cached
in the same process from the in-process twin, and Redis is restarted empty on the same port; a process
following the stream and one started afterwards both find the second entry."""

from __future__ import annotations

import asyncio

import pytest

from semdns.cache import ResponseCache
from semdns.cache.response_cache import ENTRY_PREFIX, OBSERVATIONS_PREFIX
from semdns.state.redis_state import RedisState
from semdns.testing.redis_server import RedisServer
from semdns.zone.schema import CacheSpec

from .test_response_cache import fake_embed, request, store

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
SPEC = CacheSpec(learn=True)


async def _eventually(check: object, timeout_s: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if callable(check) and check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_entries_written_during_an_outage_are_copied_back(redis_server: RedisServer) -> None:
    state_a = RedisState(redis_server.url, op_timeout_s=0.5, reconnect_every_s=0.05)
    state_b = RedisState(redis_server.url, op_timeout_s=0.5, reconnect_every_s=0.05)
    await state_a.start()
    await state_b.start()
    a = ResponseCache(state_a, fake_embed, judge=None)
    b = ResponseCache(state_b, fake_embed, judge=None)  # another process, following the stream
    await a.start()
    await b.start()
    back = asyncio.Event()

    async def on_back() -> None:  # registered after a's rebuild: runs once the copy and rebuild are done
        back.set()

    state_a.on_reconnect(on_back)
    try:
        await store(a, "How tall is Mount Fuji?", "3,776 m", spec=SPEC)
        redis_server.stop()
        await store(a, "How deep is Lake Baikal?", "1,642 m", spec=SPEC)
        assert not state_a.shared, "written to the in-process twin"
        found = a.indexes.find(_id(a, "How deep is Lake Baikal?"))
        assert found is not None
        entry = found[1].get(_id(a, "How deep is Lake Baikal?"))
        assert entry is not None
        await a._observe(entry, 0.93, False)
        await a._observe(entry, 0.97, True)
        assert state_a.health()["pending_replay"] >= 2

        redis_server.start()  # empty: persistence is off
        await asyncio.wait_for(back.wait(), 15)
        assert state_a.health()["pending_replay"] == 0 and state_a.replayed >= 2
        outage_id = entry.id
        assert await state_a.get(ENTRY_PREFIX + outage_id) is not None
        assert await state_a.get(OBSERVATIONS_PREFIX + outage_id) is not None
        assert a.indexes.find(outage_id) is not None, "kept in a's own index after its rebuild"

        # The process following the stream gets it (from the replayed events or its own rebuild).
        assert await _eventually(lambda: b.indexes.find(outage_id) is not None), "b's index has it"
        assert (await b.lookup(request("How deep is Lake Baikal?"))).status == "hit"

        # A process started after the outage: exact hit and the observations read back.
        state_c = RedisState(redis_server.url)
        await state_c.start()
        c = ResponseCache(state_c, fake_embed, judge=None)
        await c.start()
        try:
            hit = await c.lookup(request("How deep is Lake Baikal?"))
            assert hit.status == "hit" and b"1,642 m" in hit.body()
            located = c.indexes.find(outage_id)
            assert located is not None
            indexed = located[1].get(outage_id)
            assert indexed is not None
            assert indexed.threshold.observations == [(0.93, False), (0.97, True)]
            before = await c.lookup(request("How tall is Mount Fuji?"))
            assert before.status == "miss", "written before the outage: lost with Redis, not copied"
        finally:
            await c.aclose()
            await state_c.aclose()
    finally:
        await a.aclose()
        await b.aclose()
        await state_a.aclose()
        await state_b.aclose()


def _id(cache: ResponseCache, text: str) -> str:
    for index in cache.indexes._indexes.values():
        for slot in index._slots:
            if slot is not None and slot.prompt == text:
                return slot.id
    raise AssertionError(f"{text!r} is not indexed")
