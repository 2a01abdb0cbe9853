"""The labelled pairs (bench/data/cache_pairs.yaml) through the real cache with the real encoder:
near misses (numbers, dates, units, negation, entities, opposite actions) never hit; paraphrases do."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from semdns.cache import CacheRequest, ResponseCache, verify
from semdns.cache.entry import Vector
from semdns.resolve.encoder import MiniLMEncoder
from semdns.state import MemoryState
from semdns.zone.schema import CacheSpec

pytestmark = pytest.mark.anyio

PAIRS = Path(__file__).parent.parent.parent / "bench" / "data" / "cache_pairs.yaml"
KINDS = ("numbers", "dates", "units", "quantities", "negation", "opposite", "direction", "language", "drug",
         "law", "library", "country", "role", "tier", "names", "qualifiers", "os", "cloud")  # fmt: skip


def groups() -> list[dict[str, list[str] | str]]:
    loaded: list[dict[str, list[str] | str]] = yaml.safe_load(PAIRS.read_text(encoding="utf-8"))
    return loaded


async def test_near_misses_never_hit_and_paraphrases_do(encoder: MiniLMEncoder) -> None:
    texts = sorted({t for g in groups() for t in [g["anchor"], *g["hit"], *g["miss"]]})  # type: ignore[misc]
    vectors = dict(zip(texts, encoder.encode(texts), strict=True))

    async def embed(text: str) -> Vector:
        return vectors[text]

    spec = CacheSpec(learn=False)  # the default threshold and the verifier, nothing learned
    cache = ResponseCache(MemoryState(), embed)
    for g in groups():
        anchor = str(g["anchor"])
        found = await cache.lookup(CacheRequest("anon", "x.", "chat", _body(anchor), anchor, spec))
        cache.complete(found, "json", b'{"choices":[{"index":0,"message":{"content":"a"}}]}')
    await cache.drain()

    checked_kinds = 0
    false_hits, hits = [], 0
    paraphrases = near_misses = 0
    for g in groups():
        for probe in g["miss"]:
            near_misses += 1
            found = await cache.lookup(CacheRequest("anon", "x.", "chat", _body(probe), probe, spec))
            reason = verify(str(g["anchor"]), probe).reason
            if any(reason.startswith(k) for k in KINDS):
                checked_kinds += 1
                assert found.status == "miss", f"{probe!r} hit {g['anchor']!r}"
            if found.status != "miss":
                false_hits.append(probe)
        for probe in g["hit"]:
            paraphrases += 1
            found = await cache.lookup(CacheRequest("anon", "x.", "chat", _body(probe), probe, spec))
            hits += found.status == "semantic-hit"
    assert checked_kinds >= 40, "at least 40 near misses of the listed kinds"
    assert len(false_hits) / near_misses <= 0.01, false_hits
    assert hits / paraphrases >= 0.6
    assert near_misses + paraphrases >= 300


def _body(text: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}], "temperature": 0}


def test_verifier_examples() -> None:
    cases = {
        ("How do I activate my card?", "How do I cancel my card?"): "opposite actions",
        ("Convert 5 km to miles", "Convert 5 miles to km"): "quantities differ",
        ("Convert Celsius to Fahrenheit", "Convert Fahrenheit to Celsius"): "direction reversed",
        ("What is 15% of 240?", "What is 240% of 15?"): "quantities differ",
        ("Sort a list in Python", "Sort a list in Rust"): "language differs",
        ("Is ibuprofen safe with alcohol?", "Is aspirin safe with alcohol?"): "drug differs",
        ("What happened in 1989?", "What happened in 1991?"): "numbers differ",
        (
            "Should I store bread in the fridge?",
            "Should I not store bread in the fridge?",
        ): "negation differs",
        ("Is it open on Monday?", "Is it open on Sunday?"): "dates differ",
        ("Explain the GDPR right to erasure", "Explain the CCPA right to erasure"): "law differs",
    }
    for (a, b), reason in cases.items():
        verdict = verify(a, b)
        assert not verdict.ok and verdict.reason.startswith(reason), (a, b, verdict)
    assert verify("What is the capital of France?", "Tell me the capital city of France").ok
    assert verify("Is the museum open on Monday?", "Is the museum open on Mondays?").ok
