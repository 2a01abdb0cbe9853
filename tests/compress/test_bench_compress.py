"""bench/compress.py's own input paths: the chat a CoQA question is sent as (with and without its
conversation), --weight overrides (malformed ones refused), and the n-gram entropy bound."""

from __future__ import annotations

import argparse
import math

import pytest

from bench_scripts import load_bench

compress = load_bench("compress")
entropy = load_bench("_entropy")
CONTEXT = "Cotton was a white kitten. She lived in a barn with her mommy.\n\nA second paragraph."


def test_a_follow_up_is_sent_as_the_conversation_and_split_back() -> None:
    item = compress.Item(
        "coqa",
        "mctest",
        "p1",
        CONTEXT,
        "Who with?",
        ("her mommy",),
        (("What color?", "white"), ("Where?", "a barn")),
    )
    messages = compress.chat(CONTEXT, item, conversation="on")
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"] == f"{CONTEXT}\n\nWhat color?" and messages[-1]["content"] == "Who with?"
    split = compress.split_chat(CONTEXT, item, conversation="on")
    assert split.documents == [CONTEXT] and split.history == ["What color?", "white", "Where?", "a barn"]
    asked = compress.split_chat(CONTEXT, item, conversation="questions")
    assert asked.documents == [CONTEXT] and asked.history == ["What color?", "Where?"]
    alone = compress.split_chat(CONTEXT, item, conversation="off")
    assert alone.documents == [CONTEXT] and alone.history == [] and alone.question == "Who with?"
    with pytest.raises(ValueError, match="conversation must be one of"):
        compress.chat(CONTEXT, item, conversation="yes")


def test_weight_overrides_and_malformed_ones() -> None:
    parser = argparse.ArgumentParser()
    chosen = compress.weights(["history=0.25", "vague_words=3"], parser)
    assert (chosen.history, chosen.vague_words, chosen.static) == (0.25, 3, 1.0)
    for bad in ("history", "history=", "nosuch=1", "__class__=1", "history=much", "vague_words=2.5"):
        with pytest.raises(SystemExit):
            compress.weights([bad], parser)


def test_entropy_bound_by_hand_and_its_order() -> None:
    # Order 0 over one training message "ab" (then its end): counts a 1, b 1, end 1; n 3, types 3,
    # so each symbol gets 0.5 * 1/3 + 0.5 / 257.
    p = 0.5 / 3 + 0.5 / 257
    assert entropy.cross_entropy_bits([b"ab"], [b"ab"], 0) == pytest.approx(-3 * math.log2(p))
    unseen = entropy.cross_entropy_bits([b"ab"], [b"z"], 0)
    assert unseen > entropy.cross_entropy_bits([b"ab"], [b"a"], 0)
    assert entropy.cross_entropy_bits([b"abcabc"] * 5, [b"abcabc"], 2) < entropy.cross_entropy_bits(
        [b"abcabc"] * 5, [b"abcabc"], 0
    )
    with pytest.raises(ValueError, match="order must be >= 0"):
        entropy.cross_entropy_bits([b"ab"], [b"ab"], -1)
