"""Ablation variants and baseline routers, with the real encoder on the small test zone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semdns.eval.ablate import MemoEncoder, Variant, ablate, without_stage
from semdns.eval.dataset import load_jsonl
from semdns.eval.routers import (
    FlatCentroidRouter,
    NearestExamplesRouter,
    RandomRouter,
    ResolverRouter,
    RoundRobinRouter,
    leaves,
)
from semdns.names import Name
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import ZoneTree, load_zone_files

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def tree() -> ZoneTree:
    return load_zone_files([DATA / "zones" / "small.yaml"])


def test_without_stage_copies_the_tree(tree: ZoneTree) -> None:
    stripped = without_stage(tree, "keyword")
    assert set(stripped.nodes) == set(tree.nodes)
    assert all(node.policy.stages == ("embedding", "classifier") for node in stripped)
    assert all(node.policy.stages == ("keyword", "embedding", "classifier") for node in tree)
    assert stripped.children(Name.parse("animals.")) == tree.children(Name.parse("animals."))


def test_resolver_without_keyword_stage_never_decides_by_keyword(
    tree: ZoneTree, encoder: MiniLMEncoder
) -> None:
    resolver = Resolver(without_stage(tree, "keyword"), encoder, cache_size=0)
    try:
        decision = resolver.resolve("is catnip safe for kittens and cats", use_cache=False)
    finally:
        resolver.close()
    assert all("keyword" not in level.stages_tried for level in decision.trace)
    assert decision.stage in ("embedding", "classifier")


def test_memo_encoder_embeds_a_query_once(encoder: MiniLMEncoder) -> None:
    calls: list[int] = []

    class Counting:
        model_id, dim = encoder.model_id, encoder.dim

        def encode(self, texts: list[str]) -> np.ndarray:  # type: ignore[type-arg]
            calls.append(len(texts))
            return encoder.encode(texts)

    memo = MemoEncoder(Counting())  # type: ignore[arg-type]
    first = memo.encode(["hello there"])
    assert np.array_equal(memo.encode(["hello there"]), first) and calls == [1]


def test_baseline_routers_answer_names_of_the_tree(tree: ZoneTree, encoder: MiniLMEncoder) -> None:
    dog = "how long can my labrador puppy stay alone at home"
    assert FlatCentroidRouter(tree, encoder).route(dog).name == Name.parse("dogs.animals.")
    routed = NearestExamplesRouter(tree, encoder).route(dog)
    assert routed.name == Name.parse("dogs.animals.") and 0.0 < routed.confidence <= 1.0
    assert routed.stage == "embedding" and routed.elapsed_us > 0
    tips = leaves(tree)
    assert set(tips) == {
        Name.parse(n) for n in ("dogs.animals.", "cats.animals.", "cars.vehicles.", "bikes.vehicles.")
    }
    rr = RoundRobinRouter(tree)
    assert [rr.route("q").name for _ in range(5)] == [*tips, tips[0]]
    first = [RandomRouter(tree, seed=5).route("q").name for _ in range(3)]
    assert first == [RandomRouter(tree, seed=5).route("q").name for _ in range(3)]


def test_ablate_pairs_differences_against_the_first_variant(tree: ZoneTree, encoder: MiniLMEncoder) -> None:
    items = load_jsonl([DATA / "eval" / "small.jsonl"], tree)
    resolver = Resolver(tree, encoder, cache_size=0)
    try:
        result = ablate(
            [
                Variant("full", ResolverRouter(resolver)),
                Variant("same", ResolverRouter(resolver)),
                Variant("round-robin", RoundRobinRouter(tree)),
            ],
            items,
            seed=0,
        )
    finally:
        resolver.close()
    assert result.baseline == "full" and set(result.paired) == {"same", "round-robin"}
    assert result.paired["same"]["exact"] == {"diff": 0.0, "ci95": [0.0, 0.0]}
    rr = result.paired["round-robin"]["exact"]
    assert rr["diff"] == pytest.approx(
        result.rates["round-robin"]["exact"] - result.rates["full"]["exact"], abs=1e-4
    )
    assert rr["diff"] < 0 and rr["ci95"][0] <= rr["diff"] <= rr["ci95"][1]
    assert result.to_json()["variants"]["full"]["ci95"]["exact"][1] <= 1.0
