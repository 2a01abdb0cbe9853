"""The state interface: the Redis implementation and its in-process twin behave alike; Redis buckets
are atomic across processes; an outage degrades to the twin and the state reconnects by itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from semdns.state import MemoryState, RedisState, State, open_state
from semdns.testing.redis_server import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest, redis_server: RedisServer) -> AsyncIterator[State]:
    made: State = MemoryState() if request.param == "memory" else RedisState(redis_server.url)
    await made.start()
    try:
        yield made
    finally:
        await made.aclose()


async def test_key_value_with_ttl_and_scan(state: State) -> None:
    await state.put("cache:e:a", b"one", 30)
    await state.put("cache:e:b", b"two", 30)
    await state.put("other", b"x", 30)
    await state.put("never", b"x", 0)
    assert await state.get("cache:e:a") == b"one"
    assert await state.get("never") is None, "a TTL of 0 stores nothing"
    assert sorted(await state.scan("cache:e:", 100)) == [("cache:e:a", b"one"), ("cache:e:b", b"two")]
    await state.delete(["cache:e:a"])
    assert await state.get("cache:e:a") is None


async def test_bucket_take_check_debit(state: State) -> None:
    results = [await state.bucket("b", 3, 0.001, 1, "take") for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert results[-1].retry_after_s > 0
    assert (await state.bucket("t", 100, 1, 1, "check")).allowed
    debit = await state.bucket("t", 100, 1, 150, "debit")
    assert debit.allowed and debit.remaining < 0, "post-paid usage may run a bucket into debt"
    assert not (await state.bucket("t", 100, 1, 1, "check")).allowed


async def test_quota_and_counters(state: State) -> None:
    assert (await state.quota("q", 0, 10, 60, add=False)).allowed
    assert (await state.quota("q", 7, 10, 60, add=True)).used == 7
    over = await state.quota("q", 7, 10, 60, add=True)
    assert not over.allowed and over.used == 14
    assert not (await state.quota("q", 0, 10, 60, add=False)).allowed
    await state.incr("stats", "hit", 2)
    await state.incr("stats", "hit")
    assert (await state.counters("stats"))["hit"] == 3


async def test_two_processes_never_both_spend_the_last_token(redis_server: RedisServer) -> None:
    a, b = RedisState(redis_server.url), RedisState(redis_server.url)
    await a.start()
    await b.start()
    try:
        calls = [s.bucket("shared", 10, 0.0001, 1, "take") for s in (a, b) for _ in range(25)]
        results = await asyncio.gather(*calls)
        assert sum(r.allowed for r in results) == 10
    finally:
        await a.aclose()
        await b.aclose()


async def test_event_stream_is_seen_by_another_client(redis_server: RedisServer) -> None:
    a, b = RedisState(redis_server.url), RedisState(redis_server.url)
    await a.start()
    await b.start()
    try:
        start = await b.last_event_id()
        await a.publish(b"insert 1")
        await a.publish(b"insert 2")
        events = await b.events(start, 500)
        assert [e.data for e in events] == [b"insert 1", b"insert 2"]
        assert await b.events(events[-1].id, 50) == []
    finally:
        await a.aclose()
        await b.aclose()


async def test_outage_degrades_to_the_twin_then_reconnects(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url, op_timeout_s=0.5, reconnect_every_s=0.05)
    reconnected = asyncio.Event()

    async def on_up() -> None:
        reconnected.set()

    state.on_reconnect(on_up)
    await state.start()
    try:
        await state.put("k", b"v", 30)
        redis_server.stop()
        # Still answering: from the process-local twin, which did not see the Redis-only key.
        assert await state.get("k") is None
        assert state.health()["degraded"] is True and state.health()["last_error"]
        await state.put("k2", b"local", 30)
        assert await state.get("k2") == b"local"
        assert (await state.bucket("b", 2, 0.001, 1, "take")).allowed
        redis_server.start()
        await asyncio.wait_for(reconnected.wait(), 10)
        assert state.shared and state.reconnects == 1
        await state.put("k3", b"back", 30)
        assert await state.get("k3") == b"back"
    finally:
        await state.aclose()


async def test_writes_during_an_outage_are_copied_back(redis_server: RedisServer) -> None:
    state = RedisState(redis_server.url, op_timeout_s=0.5, reconnect_every_s=0.05, max_pending=2)
    reconnected = asyncio.Event()

    async def on_up() -> None:
        reconnected.set()

    state.on_reconnect(on_up)
    await state.start()
    other = RedisState(redis_server.url)
    try:
        redis_server.stop()
        await state.put("dropped", b"oldest", 30)  # beyond max_pending=2: forgotten first
        await state.put("kept", b"v1", 30)
        await state.put("gone", b"x", 30)
        await state.delete(["gone"])
        await state.put("kept", b"v2", 30)  # the newest value is the one copied
        await state.publish(b"event during the outage")
        assert state.health()["pending_replay"] == 3 and state.replay_dropped == 1
        redis_server.start()
        await asyncio.wait_for(reconnected.wait(), 10)
        await other.start()
        assert await other.get("kept") == b"v2"
        assert await other.get("gone") is None and await other.get("dropped") is None
        assert [e.data for e in await other.events("0-0", 10)] == [b"event during the outage"]
        assert state.health()["pending_replay"] == 0
    finally:
        await other.aclose()
        await state.aclose()


async def test_unreachable_at_start_is_not_a_crash() -> None:
    from semdns.testing.redis_server import free_port

    state = RedisState(f"redis://127.0.0.1:{free_port()}/0", op_timeout_s=0.2, reconnect_every_s=0.05)
    await state.start()
    try:
        assert not state.shared
        await state.put("k", b"v", 10)
        assert await state.get("k") == b"v"
    finally:
        await state.aclose()


def test_bad_redis_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="is not a Redis URL; write redis://HOST:PORT"):
        open_state("http://localhost:6379")
    assert isinstance(open_state(None), MemoryState)
