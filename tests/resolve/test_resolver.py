"""The resolver on a small test namespace: each stage decides, abstention, fan-out, caching, async."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from semdns.names import ROOT, Name
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import ZoneTree, load_zone_files

SMALL = Path(__file__).parent.parent / "data" / "zones" / "small.yaml"


def tree_with(policy: str = "") -> ZoneTree:
    text = SMALL.read_text()
    if policy:
        text = text.replace("policy:\n  negative_ttl: 10\n", "policy:\n  negative_ttl: 10\n" + policy)
    path = SMALL.parent / "_generated.yaml"
    try:
        path.write_text(text)
        return load_zone_files([path])
    finally:
        path.unlink()


@pytest.fixture(scope="module")
def resolver(encoder: MiniLMEncoder) -> Resolver:
    return Resolver(load_zone_files([SMALL]), encoder)


def n(text: str) -> Name:
    return Name.parse(text)


def test_keyword_stage_decides_every_level_without_embedding(resolver: Resolver) -> None:
    decision = resolver.resolve("my puppy chews the leash of my other dog", use_cache=False)
    assert decision.names == (n("dogs.animals"),)
    assert decision.stage == "keyword"
    assert decision.embedding is None, "a keyword-only resolution must not run the model"
    assert [t.outcome for t in decision.trace] == ["keyword", "keyword", "leaf"]
    assert decision.trace[0].chosen == (n("animals"),)
    assert decision.trace[0].scores[0].name == n("animals")
    assert decision.trace[0].scores[0].score > 0.85
    assert decision.confidence > 0.85
    assert decision.answers[0].dn == "CN=dogs,OU=animals"
    assert decision.ttl == 60


def test_embedding_stage_decides_when_no_keyword_matches(encoder: MiniLMEncoder) -> None:
    tree = tree_with("  embedding_threshold: 0.3\n  embedding_margin: 0.02\n  stages: [keyword, embedding]\n")
    decision = Resolver(tree, encoder).resolve("my kitty keeps meowing and scratching the couch")
    assert decision.name == n("cats.animals")
    assert decision.stage == "embedding"
    assert decision.trace[0].outcome == "embedding"
    assert decision.trace[0].stages_tried == ("keyword", "embedding")
    assert decision.embedding is not None and decision.embedding.shape == (384,)


def test_classifier_stage_decides_when_embedding_is_unsure(encoder: MiniLMEncoder) -> None:
    tree = tree_with("  embedding_threshold: 0.99\n  classifier_threshold: 0.5\n  classifier_margin: 0.1\n")
    decision = Resolver(tree, encoder).resolve(
        "the wipers smear the glass whenever it rains on my drive to work"
    )
    assert decision.name == n("cars.vehicles")
    assert decision.stage == "classifier"
    assert decision.trace[0].stages_tried[-1] == "classifier"


def test_abstains_at_the_root_when_nothing_is_confident(encoder: MiniLMEncoder) -> None:
    tree = tree_with("  embedding_threshold: 0.99\n  classifier_threshold: 0.99\n")
    decision = Resolver(tree, encoder).resolve("qwzx plorb fnarg")
    assert decision.names == (ROOT,)
    assert decision.trace[0].outcome == "abstain"
    assert decision.abstained
    assert decision.answers[0].dn == ""


def test_abstains_at_the_parent_when_children_are_ambiguous(encoder: MiniLMEncoder) -> None:
    tree = tree_with("  embedding_threshold: 0.99\n  stages: [keyword, embedding]\n")
    decision = Resolver(tree, encoder).resolve("which pets and animals are easiest to look after")
    assert decision.names == (n("animals"),)
    assert decision.trace[0].outcome == "keyword"
    assert decision.trace[1].outcome == "abstain"
    assert decision.trace[1].chosen == (n("animals"),)


def test_stays_at_the_parent_when_its_own_examples_fit_best(encoder: MiniLMEncoder) -> None:
    tree = tree_with("  keyword_threshold: 0.99\n  embedding_threshold: 0.99\n  classifier_threshold: 0.5\n")
    decision = Resolver(tree, encoder).resolve("tell me something funny")
    assert decision.names == (ROOT,)
    assert decision.trace[0].outcome == "classifier"
    assert decision.trace[0].chosen == (ROOT,)


def test_multi_domain_query_fans_out(resolver: Resolver) -> None:
    decision = resolver.resolve(
        "can my dog ride in the car, and does a puppy need a car seat or a kennel in a sedan", use_cache=False
    )
    assert decision.is_multi
    assert set(decision.names) == {n("dogs.animals"), n("cars.vehicles")}
    assert decision.trace[0].outcome == "keyword"
    assert set(decision.trace[0].chosen) == {n("animals"), n("vehicles")}


def test_fan_out_respects_max_fanout(encoder: MiniLMEncoder) -> None:
    tree = tree_with("  max_fanout: 1\n")
    decision = Resolver(tree, encoder).resolve(
        "can my dog ride in the car, and does a puppy need a car seat or a kennel in a sedan"
    )
    assert len(decision.names) == 1


def test_decision_cache_hit_and_normalisation(resolver: Resolver) -> None:
    assert resolver.cache is not None
    resolver.cache.clear()
    first = resolver.resolve("Is catnip safe for my kitten?")
    second = resolver.resolve("  is CATNIP safe for my kitten  ")
    assert first.cache == "miss"
    assert second.cache == "hit"
    assert second.names == first.names
    assert resolver.resolve("is catnip safe for my kitten", use_cache=False).cache == "bypass"


def test_negative_entries_for_no_confident_child(encoder: MiniLMEncoder) -> None:
    tree = tree_with("  embedding_threshold: 0.99\n  classifier_threshold: 0.99\n")
    resolver = Resolver(tree, encoder)
    resolver.resolve("qwzx plorb fnarg")
    again = resolver.resolve("qwzx plorb fnarg")
    assert again.cache == "negative-hit"
    assert resolver.cache is not None and resolver.cache.negative_hits == 1


def test_context_feeds_the_classifier(encoder: MiniLMEncoder) -> None:
    tree = tree_with(
        "  keyword_threshold: 0.99\n  embedding_threshold: 0.99\n"
        "  classifier_threshold: 0.4\n  classifier_margin: 0.05\n"
    )
    resolver = Resolver(tree, encoder)
    with_context = resolver.resolve("how often should I do that?", context="I just adopted a labrador puppy")
    assert with_context.names[0].is_under(n("animals"))
    assert resolver.resolve("how often should I do that?").cache == "miss", "context is part of the cache key"


def test_aresolve_keyword_path_stays_on_the_loop_and_model_path_leaves_it(resolver: Resolver) -> None:
    seen_threads: list[str] = []
    assert resolver.batcher is not None  # the model runs in the batcher's thread
    original = resolver.batcher._encode_ids

    def spy(token_ids: list[list[int]]) -> object:
        seen_threads.append(threading.current_thread().name)
        return original(token_ids)

    resolver.batcher._encode_ids = spy  # type: ignore[assignment]
    try:

        async def run() -> tuple[Name, ...]:
            fast = await resolver.aresolve("my puppy chews the leash of my other dog", use_cache=False)
            assert fast.stage == "keyword"
            slow = await resolver.aresolve("my kitty keeps meowing at the door", use_cache=False)
            return slow.names

        asyncio.run(run())
    finally:
        resolver.batcher._encode_ids = original
    assert seen_threads, "the model path must run the encoder"
    assert all(name != threading.main_thread().name for name in seen_threads)


def test_one_embedding_per_request(encoder: MiniLMEncoder) -> None:
    calls: list[int] = []

    class Counting:
        model_id = encoder.model_id
        dim = encoder.dim

        def encode(self, texts: list[str]) -> object:
            calls.append(len(texts))
            return encoder.encode(texts)

    tree = tree_with("  embedding_threshold: 0.99\n  classifier_threshold: 0.3\n  classifier_margin: 0.0\n")
    resolver = Resolver(tree, Counting(), warm=False)  # type: ignore[arg-type]
    calls.clear()
    decision = resolver.resolve("my kitty keeps meowing at the door", use_cache=False)
    assert len(decision.trace) >= 2
    assert calls == [1], "one embedding per request, reused at every level"


def _check_empty_stage_list(encoder: MiniLMEncoder, make: Callable[[str], ZoneTree]) -> None:
    decision = Resolver(make("  stages: []\n"), encoder).resolve("my puppy chews the leash of my other dog")
    assert decision.names == (ROOT,)


def test_stages_can_be_disabled(encoder: MiniLMEncoder) -> None:
    _check_empty_stage_list(encoder, tree_with)
