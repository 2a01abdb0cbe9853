"""The lossy compressor: units kept whole, the budget held, the relevant sentences chosen."""

from __future__ import annotations

import pytest

from semdns.compress.boilerplate import BoilerplateMiner
from semdns.compress.lossy import QueryAwareCompressor
from semdns.compress.text import count_tokens, split_sentences, split_units

FILLER = [
    f"The committee met on a Tuesday in room {i} and discussed the catering arrangements at length."
    for i in range(40)
]
NEEDLE = (
    'The bridge over the Vltava was finished in 1402, and its architect, Peter Parler, called it "the spine".'
)


def test_sentences_keep_abbreviations_decimals_and_quotes_together() -> None:
    text = 'Dr. Smith paid $3.50 for it. He said "Stop. Now." and left! Was it U.S. policy? Yes.'
    assert split_sentences(text) == [
        "Dr. Smith paid $3.50 for it.",
        'He said "Stop. Now." and left!',
        "Was it U.S. policy?",
        "Yes.",
    ]


def test_code_blocks_are_single_units() -> None:
    text = "Intro sentence. Another one.\n\n```python\ndef f(x):\n    return x + 1\n```\n\nAfter the code."
    units = split_units(text)
    kinds = [u.kind for u in units]
    assert kinds == ["sentence", "sentence", "code", "sentence"]
    assert units[2].text == "```python\ndef f(x):\n    return x + 1\n```"


def test_the_relevant_sentence_survives_verbatim_within_budget() -> None:
    document = " ".join([*FILLER[:20], NEEDLE, *FILLER[20:]])
    out, result = QueryAwareCompressor().compress(
        [document], "Who was the architect of the bridge over the Vltava?", 120, method="lexical"
    )
    assert NEEDLE in out[0]
    assert result.tokens_out <= 120 + 5  # the budget plus the "…" gap marks
    assert result.ratio >= 4
    assert result.units_kept < result.units_in


def test_hybrid_without_an_encoder_says_it_ran_lexical() -> None:
    _, result = QueryAwareCompressor().compress([" ".join(FILLER)], "catering?", 50, method="hybrid")
    assert result.method == "lexical"


def test_code_is_kept_whole_or_dropped_whole() -> None:
    code = "```\n" + "\n".join(f"x{i} = compute({i})" for i in range(30)) + "\n```"
    document = " ".join(FILLER[:10]) + "\n\n" + code + "\n\n" + " ".join(FILLER[10:20])
    for budget in (40, 400):
        out, _ = QueryAwareCompressor().compress([document], "What does compute return for x3?", budget)
        assert (code in out[0]) == (budget >= count_tokens(code)), budget
        assert "x3 = compute" not in out[0] or code in out[0]


def test_several_documents_share_one_budget_and_keep_their_order() -> None:
    docs = [" ".join(FILLER[:10]), NEEDLE, " ".join(FILLER[10:20])]
    out, _ = QueryAwareCompressor().compress(docs, "When was the Vltava bridge finished?", 60)
    assert len(out) == 3 and NEEDLE in out[1]


@pytest.mark.parametrize("documents", [[], [""], ["   \n\n  "]])
def test_empty_input_gives_empty_output(documents: list[str]) -> None:
    out, result = QueryAwareCompressor().compress(documents, "anything?", 10)
    assert all(o == "" for o in out) and result.tokens_out == 0


def test_a_unit_larger_than_the_budget_is_skipped_not_cut() -> None:
    long_sentence = "word " * 300 + "end."
    out, result = QueryAwareCompressor().compress([long_sentence], "word?", 50)
    assert out == [""] and result.units_kept == 0


def test_boilerplate_recurring_across_documents_is_dropped() -> None:
    clause = "Subject to the terms and conditions herein, the parties agree to be bound by this agreement."
    miner = BoilerplateMiner(min_documents=3)
    for i in range(3):
        miner.observe(f"Contract number {i} concerns the lease of unit {i}. {clause}")
    assert miner.is_boilerplate(clause)
    assert not miner.is_boilerplate("The lease of unit 9 ends in March 2031 unless renewed by the tenant.")
    document = f"The rent for unit 12 is 900 euros a month. {clause} The deposit is two months of rent."
    out, result = QueryAwareCompressor().compress(
        [document], "What is the rent for unit 12?", 1000, is_boilerplate=miner.is_boilerplate
    )
    assert clause not in out[0] and "900 euros" in out[0]
    assert result.boilerplate_dropped == 1


def test_the_same_document_resent_does_not_become_boilerplate() -> None:
    miner = BoilerplateMiner(min_documents=2)
    text = "My landlord kept the whole deposit without giving any reason at all."
    assert miner.observe(text) and not miner.observe(text)
    assert not miner.is_boilerplate(text)


def test_the_miner_forgets_the_rarest_half_past_its_bound() -> None:
    miner = BoilerplateMiner(max_shingles=50)
    for i in range(20):
        miner.observe(f"Unique sentence number {i} about topic {i} with several words in it.")
    assert miner.size <= 50


def test_hybrid_with_minilm_prefers_the_paraphrased_answer() -> None:
    from semdns.resolve.encoder import EncoderUnavailable, MiniLMEncoder

    encoder = MiniLMEncoder()
    try:
        encoder.encode(["probe"])
    except EncoderUnavailable:
        pytest.skip("the packaged MiniLM is not installed")
    answer = "The physician prescribed antibiotics for the infection in her lungs."
    document = " ".join([*FILLER[:15], answer, *FILLER[15:30]])
    out, result = QueryAwareCompressor(encoder).compress(
        [document], "What treatment did the doctor give for her pneumonia?", 40, method="hybrid"
    )
    assert result.method == "hybrid" and answer in out[0]


COTTON = (
    "Cotton was a little white kitten on a farm. Cotton slept high above the barn where the horses "
    "slept. She shared her hay bed with her mommy and five sisters."
)
LISBON = [
    f"Story {i}: Maria moved to Lisbon in spring {1990 + i}. She lives with her aunt near the harbour. "
    "Every morning she walks to the market to buy bread and fish."
    for i in range(6)
]
TURNS = ("What color was Cotton?", "white", "Where did she live?", "above the barn")


def test_a_follow_up_is_scored_with_its_conversation() -> None:
    """ "Who did she live with?" names nobody; the earlier turns name Cotton, so her story is kept
    rather than the look-alike sentences of the other stories."""
    document = "\n\n".join([*LISBON[:3], COTTON, *LISBON[3:]])
    alone, _ = QueryAwareCompressor().compress([document], "Who did she live with?", 40, method="lexical")
    assert "mommy" not in alone[0] and "aunt" in alone[0]
    out, result = QueryAwareCompressor().compress(
        [document], "Who did she live with?", 40, method="lexical", history=TURNS
    )
    assert "with her mommy and five sisters" in out[0] and result.tokens_out <= 40 + 5
    assert not result.widened


def test_the_latest_turn_weighs_most() -> None:
    """Two earlier topics: the one asked about last wins the budget."""
    document = "\n\n".join([COTTON, *LISBON[:2]])
    out, _ = QueryAwareCompressor().compress(
        [document], "And after that?", 20, method="lexical", history=("Who is Cotton?", "Where is Lisbon?")
    )
    assert "Lisbon" in out[0] and "Cotton" not in out[0]
    out, _ = QueryAwareCompressor().compress(
        [document], "And after that?", 20, method="lexical", history=("Where is Lisbon?", "Who is Cotton?")
    )
    assert "Cotton" in out[0] and "Lisbon" not in out[0]


def test_the_wider_budget_applies_to_vague_queries_only() -> None:
    document = " ".join(FILLER)
    compressor = QueryAwareCompressor()
    _, vague = compressor.compress([document], "Why?", 50, method="lexical", vague_target_tokens=150)
    assert vague.widened and 100 < vague.tokens_out <= 155
    _, told = compressor.compress(
        [document],
        "Why?",
        50,
        method="lexical",
        history=("Which room held the catering talk?",),
        vague_target_tokens=150,
    )
    assert not told.widened and told.tokens_out <= 55
    _, smaller = compressor.compress([document], "Why?", 50, method="lexical", vague_target_tokens=10)
    assert not smaller.widened and 25 < smaller.tokens_out <= 55
