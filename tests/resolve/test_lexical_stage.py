"""The lexical stage: the resolver's cheap first pass settles what it is sure of, and nothing else.

Real parts throughout: the shipped zones and classifier, the packaged MiniLM, the token table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from semdns.names import Name
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder, Vectors
from semdns.zone import load_default_tree
from semdns.zone.schema import LONG_PROMPT_TOKENS, Policy
from semdns.zone.tree import ZoneTree

STUB = 'def running_median(values: list[float]) -> list[float]:\n    """Median of each prefix."""\n'
WORD_PROBLEM = (
    "A train leaves the station at 3 pm travelling at 60 miles per hour. A second train leaves one hour "
    "later at 80 miles per hour on the same track. At what time does the second train catch up?"
)


def tree_with(**changes: object) -> ZoneTree:
    """The shipped namespace with every node's policy changed as given."""
    return load_default_tree().with_policies(**changes)


class CountingEncoder(MiniLMEncoder):
    """The packaged encoder, counting what reaches the transformer and the tokenizer."""

    def __init__(self) -> None:
        super().__init__()
        self.transformer_rows = 0
        self.tokenised: list[str] = []

    def token_ids(self, text: str) -> list[int]:
        self.tokenised.append(text)
        return super().token_ids(text)

    def token_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        self.tokenised.extend(texts)
        return super().token_ids_batch(texts)

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors:
        self.transformer_rows += len(token_ids)
        return super().encode_ids(token_ids)


@pytest.fixture(scope="module")
def counting() -> CountingEncoder:
    return CountingEncoder()


@pytest.fixture(scope="module")
def resolver(counting: CountingEncoder) -> Iterator[Resolver]:
    built = Resolver(load_default_tree(), counting, cache_size=0)
    yield built
    built.close()


def test_a_python_stub_is_settled_without_the_transformer(
    resolver: Resolver, counting: CountingEncoder
) -> None:
    before = counting.transformer_rows
    decision = resolver.resolve(STUB, use_cache=False)
    assert decision.names == (Name.parse("python.code."),)
    assert decision.stage == "lexical"
    assert [level.outcome for level in decision.trace[:2]] == ["lexical", "lexical"]
    assert decision.embedding is None  # nothing computed for a stage that did not run
    assert counting.transformer_rows == before


def test_below_its_threshold_the_lexical_pass_hands_over_to_the_transformer(encoder: MiniLMEncoder) -> None:
    strict = Resolver(tree_with(lexical_threshold=1.0, shallow_threshold=1.0), encoder, cache_size=0)
    try:
        decision = strict.resolve(STUB, use_cache=False)
        assert decision.names == (Name.parse("python.code."),)
        assert decision.trace[0].stages_tried[:3] == ("lexical", "shallow", "classifier")
        assert decision.stage == "classifier"
        assert decision.embedding is not None
    finally:
        strict.close()


def test_the_prompt_is_tokenised_once_for_both_passes(resolver: Resolver, counting: CountingEncoder) -> None:
    query = "Compare the half-lives of carbon-14 and uranium-238 and explain what sets them."
    counting.tokenised.clear()
    before = counting.transformer_rows
    # The full classifier runs only when the first pass is unsure: force it with a policy-free call.
    state = resolver._state(query, None, allow_model=True, embedding=None)
    resolver._lexical_features(state)
    resolver._features(state)
    assert counting.tokenised == [query]
    assert counting.transformer_rows == before + 1


def test_async_resolution_agrees_with_sync_and_batches_the_transformer(resolver: Resolver) -> None:
    prompts = [
        STUB,
        WORD_PROBLEM,
        "What is the capital of Australia?",
        "Draft a mutual NDA clause limiting disclosure to employees with a need to know.",
        "My knee swells after running, what could it be?",
        "Explain covalent bonds to a twelve year old.",
        "Write a limerick about a cat who codes.",
        "Is a Roth IRA better than a traditional IRA for someone in a low bracket now?",
    ] * 2
    expected = [resolver.resolve(p, use_cache=False).names for p in prompts]
    assert resolver.batcher is not None
    batches_before = resolver.batcher.batches

    async def main() -> list[tuple[Name, ...]]:
        decisions = await asyncio.gather(*(resolver.aresolve(p, use_cache=False) for p in prompts))
        return [d.names for d in decisions]

    assert asyncio.run(main()) == expected
    # The prompts that needed the transformer were embedded in fewer calls than prompts.
    assert resolver.batcher.batches - batches_before <= len(prompts)


def test_context_is_read_by_both_passes(encoder: MiniLMEncoder) -> None:
    # The follow-up alone is too short for the lexical pass; with the earlier turn it is not.
    context = (
        "I am comparing two contracts for my small business: a mutual non-disclosure agreement with a "
        "supplier and a five year commercial lease for the shop, and I need to know my obligations."
    )
    floor = Resolver(tree_with(lexical_min_tokens=24, lexical_short_threshold=None), encoder, cache_size=0)
    try:
        alone = floor.resolve("and what about the second one?", use_cache=False)
        assert "lexical" not in alone.trace[0].stages_tried  # under lexical_min_tokens
        decision = floor.resolve("and what about the second one?", context, use_cache=False)
        assert "lexical" in decision.trace[0].stages_tried
        assert decision.names[0].is_under(Name.parse("legal."))
    finally:
        floor.close()


SHORT = "Write a haiku about autumn rain."


@pytest.mark.parametrize(
    ("short_threshold", "decides"),
    [(None, None), (0.5, True), (1.0, False)],
)
def test_a_short_prompt_meets_its_own_threshold(
    encoder: MiniLMEncoder, short_threshold: float | None, decides: bool | None
) -> None:
    """Under ``lexical_min_tokens`` the lexical pass decides only above ``lexical_short_threshold``
    (whatever ``lexical_threshold`` says), or not at all without one."""
    lenient_long = tree_with(
        lexical_min_tokens=24, lexical_threshold=0.0, lexical_short_threshold=short_threshold
    )
    resolver = Resolver(lenient_long, encoder, cache_size=0)
    try:
        top = resolver.resolve(SHORT, use_cache=False).trace[0]
        if decides is None:
            assert "lexical" not in top.stages_tried
        elif decides:
            assert top.outcome == "lexical" and top.chosen == (Name.parse("creative."),)
        else:  # handed over to the next stage (the shallow pass, in the shipped zones)
            assert top.stages_tried[0] == "lexical" and top.outcome != "lexical"
        long_prompt = resolver.resolve(WORD_PROBLEM, use_cache=False).trace[0]
        assert long_prompt.outcome == "lexical"  # 24+ tokens: lexical_threshold applies
    finally:
        resolver.close()


def test_the_short_threshold_is_a_probability() -> None:
    with pytest.raises(ValidationError, match="lexical_short_threshold"):
        Policy(lexical_short_threshold=1.5)
    assert Policy().lexical_short_threshold is None


def test_without_the_stage_listed_nothing_changes(encoder: MiniLMEncoder) -> None:
    plain = Resolver(tree_with(stages=["classifier", "keyword", "embedding"]), encoder, cache_size=0)
    try:
        assert plain.static is None
        decision = plain.resolve(STUB, use_cache=False)
        assert decision.stage != "lexical"
        assert decision.embedding is not None
        assert np.isclose(np.linalg.norm(decision.embedding), 1.0)
    finally:
        plain.close()


def test_a_long_prompt_meets_its_own_threshold(encoder: MiniLMEncoder) -> None:
    """Past one transformer window the lexical pass decides at ``lexical_long_threshold``; shorter
    prompts keep ``lexical_threshold``."""
    long_prompt = (WORD_PROBLEM + " ") * 4
    assert len(encoder.token_ids(long_prompt)) > LONG_PROMPT_TOKENS >= len(encoder.token_ids(WORD_PROBLEM))
    lenient = Resolver(
        tree_with(lexical_threshold=1.0, lexical_long_threshold=0.0, shallow_threshold=1.0),
        encoder,
        cache_size=0,
    )
    strict = Resolver(
        tree_with(lexical_threshold=0.0, lexical_long_threshold=1.0, shallow_threshold=1.0),
        encoder,
        cache_size=0,
    )
    try:
        assert lenient.resolve(long_prompt, use_cache=False).trace[0].outcome == "lexical"
        assert lenient.resolve(WORD_PROBLEM, use_cache=False).trace[0].outcome != "lexical"
        assert strict.resolve(long_prompt, use_cache=False).trace[0].outcome != "lexical"
        assert strict.resolve(WORD_PROBLEM, use_cache=False).trace[0].outcome == "lexical"
    finally:
        lenient.close()
        strict.close()


def test_a_zone_sets_from_how_many_tokens_a_prompt_is_long(encoder: MiniLMEncoder) -> None:
    """``lexical_long_tokens`` moves the point past which ``lexical_long_threshold`` applies: a prompt
    of one window or less is long once it is over that count, and not at that count."""
    length = len(encoder.token_ids(WORD_PROBLEM))
    assert length <= LONG_PROMPT_TOKENS
    lenient = {"lexical_threshold": 1.0, "lexical_long_threshold": 0.0, "shallow_threshold": 1.0}
    over = Resolver(tree_with(**lenient, lexical_long_tokens=length - 1), encoder, cache_size=0)
    at = Resolver(tree_with(**lenient, lexical_long_tokens=length), encoder, cache_size=0)
    try:
        assert over.resolve(WORD_PROBLEM, use_cache=False).trace[0].outcome == "lexical"
        assert at.resolve(WORD_PROBLEM, use_cache=False).trace[0].outcome != "lexical"
    finally:
        over.close()
        at.close()


def test_the_long_token_count_is_a_positive_count() -> None:
    assert Policy().lexical_long_tokens == LONG_PROMPT_TOKENS
    for bad in (0, -5, "many"):
        with pytest.raises(ValidationError, match="lexical_long_tokens"):
            Policy(lexical_long_tokens=bad)
