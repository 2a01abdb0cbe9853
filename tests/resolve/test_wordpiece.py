"""The WordPiece memo gives the tokenizer's ids, or declines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdns.resolve.encoder import MiniLMEncoder
from semdns.resolve.wordpiece import WordPieceMemo

CORPORA = Path(__file__).resolve().parents[2] / "corpora" / "routing"


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    built = MiniLMEncoder(threads=1)
    built.token_ids("warm up")  # loads the tokenizer
    return built


def _reference(encoder: MiniLMEncoder, text: str) -> list[int]:
    ids: list[int] = encoder._tokenizer.encode_batch_fast([text])[0].ids
    return ids


def _memo(encoder: MiniLMEncoder, max_words: int = 200_000) -> WordPieceMemo:
    return WordPieceMemo(encoder._tokenizer, encoder._cls, encoder._sep, max_words)


def test_every_public_prompt_gets_the_tokenizers_ids(encoder: MiniLMEncoder) -> None:
    memo = _memo(encoder)
    prompts = [
        json.loads(line)["query"]
        for path in sorted(CORPORA.glob("*/eval.jsonl"))
        for line in path.read_text(encoding="utf-8").split("\n")  # not splitlines: U+2028 in a string
        if line.strip()
    ]
    fast = 0
    for text in prompts:
        ids = memo.ids(text)
        if ids is not None:
            fast += 1
            assert ids == _reference(encoder, text), text[:80]
    assert fast > 0.9 * len(prompts)  # most real prompts are plain ASCII
    assert encoder.token_ids(prompts[0]) == _reference(encoder, prompts[0])  # and the encoder uses it


_PRINTABLE = list("abcXYZ019 \t\n\r.,;:!?'\"()[]{}<>_-+*/\\|@#$%^&~`=")
_OTHERS = [
    "\x00",
    "\x07",
    "\x0b",
    "\x0c",
    "\x1f",
    "\x7f",
    "é",
    "中",
    "’",
    "\u00a0",
    "[CLS]",
    "[MASK]",
    "[UNK]",
]
_WORDS = ["antidisestablishmentarianism", "x" * 101, "Hello", "##ing", "cls"]
_ALPHABET = st.sampled_from([*_PRINTABLE, *_OTHERS, *_WORDS])


def test_generated_text_gets_the_tokenizers_ids_or_none(encoder: MiniLMEncoder) -> None:
    memo = _memo(encoder)  # shared by every example: words remembered from one text serve the next

    @settings(max_examples=400, deadline=None)
    @given(st.lists(_ALPHABET, max_size=40).map("".join))
    def check(text: str) -> None:
        ids = memo.ids(text)
        if ids is not None:
            assert ids == _reference(encoder, text)
        assert encoder.token_ids(text) == _reference(encoder, text)

    check()


def test_outside_plain_ascii_it_declines(encoder: MiniLMEncoder) -> None:
    memo = _memo(encoder)
    for text in ("café au lait", "\u4e2d\u6587", "a\x00b", "tell me about [MASK] tokens", "bell\x07"):
        assert memo.ids(text) is None
    assert memo.ids("") == [encoder._cls, encoder._sep]


def test_the_memo_stops_growing_at_its_bound_and_stays_exact(encoder: MiniLMEncoder) -> None:
    memo = _memo(encoder, max_words=5)
    text = "one two three four five six seven eight nine ten eleven"
    assert memo.ids(text) == _reference(encoder, text)
    assert len(memo) == 5
    assert memo.ids(text) == _reference(encoder, text)
