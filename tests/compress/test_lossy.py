"""The lossy compressor: units kept whole, the budget held, the relevant sentences chosen."""

from __future__ import annotations

import pytest

from semdns.compress.boilerplate import BoilerplateMiner
from semdns.compress.focus import Span, best_window
from semdns.compress.lossy import QueryAwareCompressor, Weights
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


# The focus window (semdns.compress.focus): the passage a conversation is about, kept as a block.

HARBOURS = [
    f"Harbour {i} keeps a log of the gulls that nest on its breakwater. The keepers feed the gulls "
    f"bread in winter, and the log of harbour {i} counts {20 + i} nests this year. "
    f"Visitors are asked not to feed them. The breakwater of harbour {i} was rebuilt in {1950 + i}. "
    "Fishing boats leave before dawn and return at noon with the catch, which is sold on the quay."
    for i in range(16)
]
LIGHTHOUSE = (
    "Marta Kowalczyk keeps the lighthouse at Hel. She climbs its tower every evening to light the lamp.\n\n"
    "The birds know the sound of her door. They gather on the rail long before sunrise. "
    "Every morning she throws sardines from the pier to the birds that wait for her. "
    "Nobody else on the peninsula does this.\n\n"
    "Her brother Tomasz repairs the lamp when it fails. Marta has kept the lighthouse for nineteen years."
)
MARTA = (
    "Who keeps the lighthouse at Hel?",
    "Marta Kowalczyk",
    "What does Marta light every evening?",
    "the lamp",
)


def test_the_focus_window_keeps_the_passage_the_conversation_is_about() -> None:
    """The answer ("sardines") shares no word with the question; the distractors share "feed" and
    "gulls". Sentence by sentence, the budget goes to the distractors' look-alikes; with the focus
    window, Marta's passage (named by the conversation) is kept as a block, answer included."""
    document = "\n\n".join([*HARBOURS[:8], LIGHTHOUSE, *HARBOURS[8:]])
    budget = count_tokens(document) // 4
    assert budget * Weights().focus >= Weights().focus_min_tokens
    question = "What does she feed the gulls?"
    out, result = QueryAwareCompressor().compress(
        [document], question, budget, method="lexical", history=MARTA
    )
    assert "throws sardines from the pier" in out[0] and result.tokens_out <= budget + 10
    flat, _ = QueryAwareCompressor(weights=Weights(focus=0.0)).compress(
        [document], question, budget, method="lexical", history=MARTA
    )
    assert "sardines" not in flat[0]


def test_no_focus_window_below_its_minimum() -> None:
    """A budget too small for a passage-sized window selects unit by unit, as with focus off."""
    document = "\n\n".join([*HARBOURS[:8], LIGHTHOUSE, *HARBOURS[8:]])
    args = ([document], "What does she feed the gulls?", 60)
    with_focus, _ = QueryAwareCompressor().compress(*args, method="lexical", history=MARTA)
    without, _ = QueryAwareCompressor(weights=Weights(focus=0.0)).compress(
        *args, method="lexical", history=MARTA
    )
    assert with_focus == without


def _span(document: int, tokens: int, terms: str = "", score: float = 0.0) -> Span:
    return Span(document, tokens, frozenset(terms.split()), score)


def test_the_best_window_covers_the_most_distinct_query_terms() -> None:
    """One unit repeating a common term loses to a run naming several distinct ones."""
    spans = [_span(0, 10, "gull")] * 3 + [_span(0, 10, "marta"), _span(0, 10), _span(0, 10, "lamp hel")]
    weights = {"gull": 0.5, "marta": 2.0, "lamp": 1.0, "hel": 2.0}
    assert best_window(spans, weights, cap=30, mix=0.0) == range(3, 6)
    assert best_window(spans, weights, cap=20, mix=0.0) == range(4, 6)  # lamp + hel beat marta


def test_the_unit_scores_break_ties_between_windows_of_equal_coverage() -> None:
    spans = [_span(0, 10, "marta", 0.1), _span(0, 10), _span(0, 10, "marta", 0.9), _span(0, 10)]
    assert best_window(spans, {"marta": 1.0}, cap=10, mix=1.0) == range(2, 3)
    assert best_window(spans, {"marta": 1.0}, cap=10, mix=0.0) == range(0, 1)  # ties: the earliest


def test_the_best_window_never_spans_two_documents() -> None:
    spans = [_span(0, 10, "a"), _span(1, 10, "b"), _span(1, 10, "c")]
    assert best_window(spans, {"a": 1.5, "b": 1.0, "c": 1.0}, cap=30, mix=0.0) == range(1, 3)
    assert best_window(spans, {"a": 2.5, "b": 1.0, "c": 1.0}, cap=30, mix=0.0) == range(0, 1)


@pytest.mark.parametrize(
    ("spans", "cap"),
    [
        ([], 100.0),  # nothing to choose from
        ([_span(0, 50, "a", 1.0)], 40.0),  # every unit larger than the window
        ([_span(0, 5, "z", 1.0)], 0.0),  # a zero window
        ([_span(0, 5), _span(0, 5)], 100.0),  # nothing matches: no window rather than an arbitrary one
        ([_span(0, 5, "a", -1.0)], 100.0),  # a term the weights do not know, a negative score
    ],
)
def test_no_window_when_none_fits_or_nothing_matches(spans: list[Span], cap: float) -> None:
    assert best_window(spans, {"b": 1.0}, cap=cap, mix=1.0) == range(0)


def test_a_unit_larger_than_the_window_is_stepped_over() -> None:
    spans = [_span(0, 5, "a"), _span(0, 500, "a b"), _span(0, 5, "b")]
    assert best_window(spans, {"a": 1.0, "b": 2.0}, cap=20, mix=0.0) == range(2, 3)


def test_a_window_starts_only_where_a_unit_opens() -> None:
    """The run 1-2 holds the most, but unit 1 does not start a paragraph: the window starts at 0."""
    spans = [_span(0, 10), Span(0, 10, frozenset({"a"}), 0.0, opens=False), _span(0, 10, "b")]
    assert best_window(spans, {"a": 1.0, "b": 1.0}, cap=20, mix=0.0) == range(0, 2)
    assert best_window(spans, {"a": 1.0, "b": 1.0}, cap=30, mix=0.0) == range(0, 3)


def test_one_long_paragraph_still_gets_a_window_where_the_subject_is() -> None:
    """Without blank lines there is one paragraph, longer than the window: it may start anywhere."""
    document = " ".join([*HARBOURS[:8], LIGHTHOUSE.replace("\n\n", " "), *HARBOURS[8:]])
    budget = count_tokens(document) // 4
    out, _ = QueryAwareCompressor().compress(
        [document], "What does she feed the gulls?", budget, method="lexical", history=MARTA
    )
    assert "throws sardines from the pier" in out[0]
    assert not out[0].startswith(HARBOURS[0][:40])
