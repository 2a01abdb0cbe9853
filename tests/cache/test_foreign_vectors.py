"""Cached vectors belong to the encoder that made them: a process never compares its prompts' vectors
with another encoder's (another version of semdns sharing the same Redis, say, after a change of
encoder), and serves those entries on their exact keys only."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from prometheus_client import CollectorRegistry

from semdns.cache import ResponseCache
from semdns.cache.entry import CacheEntry
from semdns.cache.response_cache import ENTRY_PREFIX
from semdns.state import MemoryState
from semdns.state.redis_state import RedisState
from semdns.testing.redis_server import RedisServer

from .test_response_cache import SAME_MEANING, fake_embed, request, store

pytestmark = pytest.mark.anyio
OLD, NEW = "encoder@before/w128x2", "encoder@after/w128x2"
QUESTION, PARAPHRASE = "How do I reset my router?", "How can I reset my router?"


def setup_module() -> None:
    SAME_MEANING[PARAPHRASE] = QUESTION  # one fake vector for both: a semantic hit when comparable


async def test_entries_record_their_encoder_and_a_restart_on_another_skips_their_vectors() -> None:
    state = MemoryState()
    old = ResponseCache(state, fake_embed, judge=None, encoder_id=OLD)
    await old.start()
    await store(old, QUESTION, "Hold the button for ten seconds.")
    assert (await old.lookup(request(PARAPHRASE))).status == "semantic-hit"
    ((_, raw),) = await state.scan(ENTRY_PREFIX, 10)
    assert CacheEntry.from_bytes(raw).encoder == OLD
    await old.aclose()

    registry = CollectorRegistry()
    new = ResponseCache(state, fake_embed, judge=None, encoder_id=NEW, registry=registry)
    await new.start()
    assert new.foreign_vectors == 1 and new.indexes.sizes() == {}
    assert registry.get_sample_value("semdns_response_cache_foreign_vectors_total") == 1.0
    assert (await new.lookup(request(PARAPHRASE))).status == "miss", "no cosine across encoders"
    exact = await new.lookup(request(QUESTION))
    assert exact.status == "hit" and b"ten seconds" in exact.body(), "the answer itself is still good"
    await new.aclose()

    again = ResponseCache(state, fake_embed, judge=None, encoder_id=OLD)  # the same encoder: all back
    await again.start()
    assert again.foreign_vectors == 0 and (await again.lookup(request(PARAPHRASE))).status == "semantic-hit"
    await again.aclose()


async def test_an_entry_without_an_encoder_is_compared_only_by_a_cache_that_names_none() -> None:
    """Entries written before encoders were recorded: unknown vectors, so exact keys only."""
    state = MemoryState()
    legacy = ResponseCache(state, fake_embed, judge=None)  # encoder_id None: as before
    await store(legacy, QUESTION, "Hold the button.")
    ((_, raw),) = await state.scan(ENTRY_PREFIX, 10)
    assert CacheEntry.from_bytes(raw).encoder is None
    named = ResponseCache(state, fake_embed, judge=None, encoder_id=NEW)
    await named.start()
    assert named.foreign_vectors == 1
    assert (await named.lookup(request(PARAPHRASE))).status == "miss"
    unnamed = ResponseCache(state, fake_embed, judge=None)
    await unnamed.start()
    assert (await unnamed.lookup(request(PARAPHRASE))).status == "semantic-hit"
    await named.aclose()
    await unnamed.aclose()


def test_a_malformed_encoder_field_is_an_unreadable_entry() -> None:
    entry = {"id": "x", "scope": "s", "name": "n.", "endpoint": "chat", "prefix": "p", "prompt": "q",
             "kind": "json", "payload": "{}", "created": 1.0, "ttl": 60, "stale_ttl": 0}  # fmt: skip
    for bad in (3, ["a"], {"id": "x"}):
        with pytest.raises(ValueError, match="must be a model id"):
            CacheEntry.from_bytes(orjson.dumps({**entry, "encoder": bad}))
    assert CacheEntry.from_bytes(orjson.dumps(entry)).encoder is None


async def test_live_inserts_from_a_process_on_another_encoder_are_not_indexed(
    redis_server: RedisServer,
) -> None:
    state_a, state_b, state_c = (RedisState(redis_server.url) for _ in range(3))
    for state in (state_a, state_b, state_c):
        await state.start()
    try:
        same = ResponseCache(state_a, fake_embed, judge=None, encoder_id=NEW)
        other = ResponseCache(state_b, fake_embed, judge=None, encoder_id=NEW)
        older = ResponseCache(state_c, fake_embed, judge=None, encoder_id=OLD)
        for cache in (same, other, older):
            await cache.start()
        await store(older, QUESTION, "Hold the button.")
        await store(same, "What is the capital of Peru?", "Lima.")
        for _ in range(100):  # the event stream reaches the other process
            if other.indexes.sizes():
                break
            await asyncio.sleep(0.02)
        assert sum(other.indexes.sizes().values()) == 1, "the same encoder's entry only"
        assert other.foreign_vectors == 1
        assert (await other.lookup(request(PARAPHRASE))).status == "miss"
        assert (await other.lookup(request(QUESTION))).status == "hit"
        for cache in (same, other, older):
            await cache.aclose()
    finally:
        for state in (state_a, state_b, state_c):
            await state.aclose()
