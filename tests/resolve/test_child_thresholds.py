"""A child the fast passes may choose only above a stricter threshold of its own
(``fast_pass_child_thresholds``): below it they are unsure and the next stage decides; other children,
and the full classifier, are untouched.

Real parts: the shipped zones and classifier, the packaged MiniLM."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from semdns.names import Name
from semdns.resolve import Resolver
from semdns.resolve.decision import RoutingDecision
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import load_default_tree

# Settled at the root by the lexical pass with a probability under 1 (0.996 when written).
SLOGAN = (
    "Write a catchy slogan and a short jingle for a new brand of sparkling lemonade aimed at teenagers "
    "who love summer festivals and the beach."
)
CREATIVE = Name.parse("creative.")


def _resolve(encoder: MiniLMEncoder, thresholds: dict[str, float] | None) -> RoutingDecision:
    tree = load_default_tree()
    if thresholds is not None:
        tree = tree.with_policies(fast_pass_child_thresholds=thresholds)
    resolver = Resolver(tree, encoder, cache_size=0)
    try:
        return resolver.resolve(SLOGAN, use_cache=False)
    finally:
        resolver.close()


@pytest.fixture(scope="module")
def shipped(encoder: MiniLMEncoder) -> RoutingDecision:
    decision = _resolve(encoder, None)
    root = decision.trace[0]
    assert root.outcome == "lexical" and root.chosen == (CREATIVE,), "the prompt no longer fits this test"
    assert 0.9 < root.scores[0].score < 1.0
    return decision


def test_the_shipped_root_asks_more_of_the_fast_passes_for_creative() -> None:
    assert load_default_tree().node(Name.parse(".")).policy.fast_pass_child_thresholds == (("creative", 0.9),)


def test_below_the_child_threshold_the_next_stages_decide(
    encoder: MiniLMEncoder, shipped: RoutingDecision
) -> None:
    strict = _resolve(encoder, {"creative": 1.0})
    root = strict.trace[0]
    assert root.stages_tried[:3] == ("lexical", "shallow", "classifier")
    assert root.outcome == "classifier"  # the full classifier has no child threshold
    assert strict.embedding is not None
    assert strict.names[0].is_under(CREATIVE)


def test_the_threshold_is_strict_like_every_other(encoder: MiniLMEncoder, shipped: RoutingDecision) -> None:
    probability = shipped.trace[0].scores[0].score
    assert _resolve(encoder, {"creative": probability}).trace[0].outcome != "lexical"
    below = _resolve(encoder, {"creative": probability - 1e-6})
    assert below.trace[0].outcome == "lexical"
    assert below.names == shipped.names


def test_other_children_are_untouched(encoder: MiniLMEncoder, shipped: RoutingDecision) -> None:
    other = _resolve(encoder, {"code": 1.0, "math": 1.0})
    assert other.trace[0].outcome == "lexical"
    assert other.names == shipped.names
    assert other.stage == shipped.stage


@pytest.fixture(scope="module")
def strict_resolver(encoder: MiniLMEncoder) -> Iterator[Resolver]:
    resolver = Resolver(
        load_default_tree().with_policies(fast_pass_child_thresholds={"creative": 1.0}), encoder, cache_size=0
    )
    yield resolver
    resolver.close()


def test_async_resolution_defers_the_same_way(strict_resolver: Resolver) -> None:
    sync = strict_resolver.resolve(SLOGAN, use_cache=False)
    concurrent = asyncio.run(strict_resolver.aresolve(SLOGAN, use_cache=False))
    assert concurrent.names == sync.names
    assert concurrent.trace[0].stages_tried == sync.trace[0].stages_tried
    assert concurrent.trace[0].outcome == "classifier"
