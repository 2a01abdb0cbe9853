"""The response cache over the in-process state: tiers, client controls, what is never stored,
replay between JSON and SSE, multi-turn prefixes, tenant isolation, learning, shadow mode, purge."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semdns.cache import CacheRequest, ClientControl, ResponseCache, client_control
from semdns.cache.entry import Vector, assemble, synthesize
from semdns.state import MemoryState
from semdns.zone.schema import CacheSpec

pytestmark = pytest.mark.anyio

SAME_MEANING: dict[str, str] = {}


def fake_vector(text: str) -> Vector:
    """A deterministic unit vector per text; texts registered in SAME_MEANING share one."""
    text = SAME_MEANING.get(text, text)
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    vector = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    result: Vector = vector / np.linalg.norm(vector)
    return result


async def fake_embed(text: str) -> Vector:
    return fake_vector(text)


def chat(
    text: str, *, temperature: float | None = 0, history: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "auto",
        "messages": [*(history or []), {"role": "user", "content": text}],
    }
    if temperature is not None:
        body["temperature"] = temperature
    return body


def answer(text: str) -> bytes:
    return orjson.dumps(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
    )


def request(text: str, scope: str = "anon", name: str = "code.", **kw: Any) -> CacheRequest:
    control = kw.pop("control", ClientControl())
    spec = kw.pop("spec", CacheSpec(learn=False))
    return CacheRequest(scope, name, "chat", chat(text, **kw), text, spec, control)


async def store(cache: ResponseCache, text: str, reply: str, **kw: Any) -> None:
    found = await cache.lookup(request(text, **kw))
    cache.complete(found, "json", answer(reply))
    await cache.drain()


async def test_exact_then_semantic_hit_with_headers() -> None:
    SAME_MEANING["How can I activate my card?"] = "How do I activate my card?"
    # Fake vectors: the tiers alone, without the near-miss judge (its features assume MiniLM's space;
    # tests/cache/test_judge.py covers the cache with it).
    cache = ResponseCache(MemoryState(), fake_embed, judge=None)
    assert (await cache.lookup(request("How do I activate my card?"))).status == "miss"
    await store(cache, "How do I activate my card?", "Open the app and tap Activate.")
    exact = await cache.lookup(request("How do I activate my card?"))
    assert exact.status == "hit" and b"tap Activate" in exact.body()
    semantic = await cache.lookup(request("How can I activate my card?"))
    assert semantic.status == "semantic-hit" and semantic.similarity == pytest.approx(1.0, abs=1e-5)
    headers = semantic.headers()
    assert headers["x-semdns-response-cache"] == "semantic-hit"
    assert float(headers["x-semdns-cache-similarity"]) > 0.99 and len(headers["x-semdns-cache-entry"]) == 16


async def test_the_verifier_stops_a_false_hit_even_at_similarity_one() -> None:
    SAME_MEANING["How do I cancel my card?"] = "How do I activate my card?"  # the embedding is fooled
    cache = ResponseCache(MemoryState(), fake_embed)
    await store(cache, "How do I activate my card?", "Tap Activate.")
    found = await cache.lookup(request("How do I cancel my card?"))
    assert found.status == "miss" and found.reason == "opposite actions"


async def test_client_controls_and_nondeterministic_requests() -> None:
    cache = ResponseCache(MemoryState(), fake_embed)
    await store(cache, "q", "a")
    bypass = await cache.lookup(request("q", control=client_control(None, "bypass")))
    assert bypass.status == "bypass" and not bypass.storable
    no_cache = await cache.lookup(request("q", control=client_control("no-cache", None)))
    assert no_cache.status == "bypass" and no_cache.storable, "no-cache: do not serve, may store"
    no_store = await cache.lookup(request("other", control=client_control("no-store", None)))
    cache.complete(no_store, "json", answer("x"))
    await cache.drain()
    assert (await cache.lookup(request("other"))).status == "miss", "no-store answers are not kept"
    hot = await cache.lookup(request("warm", temperature=0.7))
    assert hot.status == "bypass" and hot.reason == "nondeterministic"
    cache.complete(hot, "json", answer("x"))
    await cache.drain()
    assert (await cache.lookup(request("warm"))).status == "miss", "temperature > 0 is never stored"
    assert (await cache.lookup(request("q", temperature=None))).status == "bypass", "default temperature is 1"
    opted = CacheSpec(nondeterministic=True, learn=False)
    assert (await cache.lookup(request("q", temperature=0.7, spec=opted))).status == "miss"


async def test_errors_degraded_and_failed_streams_are_never_stored() -> None:
    cache = ResponseCache(MemoryState(), fake_embed)
    err = await cache.lookup(request("e"))
    cache.complete(err, "json", b'{"error": {"message": "boom"}}')
    degraded = await cache.lookup(request("d"))
    cache.complete(degraded, "json", answer("from the parent"), degraded=True)
    broken = await cache.lookup(request("s"))
    cache.complete(broken, "sse", [b'data: {"choices":[{"index":0,"delta":{"content":"he"}}]}\n\n'])
    failed = await cache.lookup(request("f"))
    cache.complete(
        failed,
        "sse",
        [b'data: {"choices":[]}\n\n', b'data: {"error":{"message":"x"}}\n\n', b"data: [DONE]\n\n"],
    )
    await cache.drain()
    for text in "edsf":
        assert (await cache.lookup(request(text))).status == "miss", text
    assert cache.counts[("store-skipped", "code.")] == 3


async def test_stream_stored_and_replayed_identically_and_as_json() -> None:
    cache = ResponseCache(MemoryState(), fake_embed)
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    first = {"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}
    last = {"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}
    events = [
        b"data: " + orjson.dumps({**head, "choices": [first]}) + b"\n\n",
        b"data: " + orjson.dumps({**head, "choices": [last]}) + b"\n\n",
        b"data: [DONE]\n\n",
    ]
    found = await cache.lookup(request("stream me"))
    cache.complete(found, "sse", events)
    await cache.drain()
    hit = await cache.lookup(request("stream me"))
    assert hit.status == "hit" and hit.events() == events
    assert orjson.loads(hit.body())["choices"][0]["message"]["content"] == "Hello"


def test_json_and_sse_convert_both_ways() -> None:
    body = answer("It is 42.")
    events = synthesize(body, "chat")
    assert events[-1] == b"data: [DONE]\n\n"
    again = orjson.loads(assemble(events, "chat"))
    assert again["choices"][0]["message"]["content"] == "It is 42." and again["usage"]["total_tokens"] == 5


async def test_multi_turn_semantic_hit_needs_identical_earlier_turns() -> None:
    SAME_MEANING["and in June?"] = "and in June"
    cache = ResponseCache(MemoryState(), fake_embed)
    history = [{"role": "user", "content": "weather in Paris"}, {"role": "assistant", "content": "sunny"}]
    await store(cache, "and in June", "warm", history=history)
    assert (await cache.lookup(request("and in June?", history=history))).status == "semantic-hit"
    other = [{"role": "user", "content": "weather in Oslo"}, {"role": "assistant", "content": "cold"}]
    assert (await cache.lookup(request("and in June?", history=other))).status == "miss"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tenants=st.lists(st.text("abcdefgh", min_size=1, max_size=6), min_size=2, max_size=4, unique=True),
    prompts=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=4),
)
async def test_a_tenant_never_receives_another_tenants_entry(tenants: list[str], prompts: list[str]) -> None:
    cache = ResponseCache(MemoryState(), fake_embed)
    owner, *others = tenants
    for prompt in prompts:
        await store(cache, prompt, f"secret of {owner}", scope="t:" + owner)
    for tenant in others:
        for prompt in prompts:
            found = await cache.lookup(request(prompt, scope="t:" + tenant))
            assert found.status == "miss"
            assert found.entry is None
    for prompt in prompts:
        assert (await cache.lookup(request(prompt, scope="t:" + owner))).status == "hit"


async def test_learned_threshold_raises_after_a_wrong_explored_candidate() -> None:
    a, b = "How tall is the Eiffel tower", "How heavy is the Eiffel tower"
    base = fake_vector(a)
    noise = fake_vector(b)
    tilted = base * 0.95 + noise * np.sqrt(1 - 0.95**2)
    vectors = {a: base, b: (tilted / np.linalg.norm(tilted)).astype(np.float32)}

    async def embed(text: str) -> Vector:
        return vectors.get(text, fake_vector(text))

    spec = CacheSpec(similarity=0.96, learn=True)
    cache = ResponseCache(MemoryState(), embed)
    await store(cache, a, "330 m", spec=spec)
    probe = await cache.lookup(request(b, spec=spec))
    assert probe.status == "miss" and probe.candidate is not None, "below the threshold: explored"
    cache.complete(probe, "json", answer("10,100 tonnes"))  # a different answer: a wrong candidate
    await cache.drain()
    entry = probe.candidate
    assert entry.threshold.floor > 0.95
    assert entry.threshold.threshold(0.90, 0.02) > 0.95, "even a lower static threshold is overridden"


async def test_shadow_mode_decides_counts_and_never_serves() -> None:
    cache = ResponseCache(MemoryState(), fake_embed, shadow_all=True)
    await store(cache, "q", "first answer")
    found = await cache.lookup(request("q"))
    assert found.status == "miss" and found.shadow is not None and found.shadow_status == "hit"
    cache.complete(found, "json", answer("a different answer"))
    await cache.drain()
    stats = await cache.stats()
    assert stats["shadow"] == {"would_hit": 1, "agree": 0, "false_hits": 1}


async def test_purge_and_stats() -> None:
    cache = ResponseCache(MemoryState(), fake_embed)
    await store(cache, "q1", "a", scope="t:acme")
    await store(cache, "q2", "b", scope="t:other", name="legal.")
    await cache.lookup(request("q1", scope="t:acme"))
    stats = await cache.stats()
    assert stats["entries"] == 2 and stats["totals"]["hit"] == 1 and stats["by_name"]["code."]["hit"] == 1
    assert await cache.purge(scope="t:acme") == 1
    assert (await cache.lookup(request("q1", scope="t:acme"))).status == "miss"
    assert (await cache.lookup(request("q2", scope="t:other", name="legal."))).status == "hit"


async def test_stale_entry_served_only_when_asked() -> None:
    now = [1000.0]
    cache = ResponseCache(MemoryState(), fake_embed, clock=lambda: now[0])
    await store(cache, "q", "old", spec=CacheSpec(ttl=10, stale_ttl=100, learn=False))
    now[0] += 50
    found = await cache.lookup(request("q", spec=CacheSpec(ttl=10, stale_ttl=100, learn=False)))
    assert found.status == "miss" and found.stale is not None
    assert cache.serve_stale(found) and found.status == "stale" and b"old" in found.body()
