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
    fast = unicode = 0
    for text in prompts:
        ids = memo.ids(text)
        if ids is not None:
            fast += 1
            unicode += not text.isascii()
            assert ids == _reference(encoder, text), text[:80]
    assert fast > 0.99 * len(prompts)  # nearly every real prompt, accents and curly quotes included
    assert unicode > 400
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


def test_what_it_cannot_tell_it_declines(encoder: MiniLMEncoder) -> None:
    memo = _memo(encoder)
    declined = (
        "\u4e2d\u6587",  # CJK: padded by the normaliser
        "a\x00b",
        "tell me about [MASK] tokens",
        "bell\x07",
        "zero\u200bwidth",  # a format character: deleted by the normaliser
        "\u03a3\u039f\u03a3",  # capital sigma: lower-cased by context in Python
        "replacement \ufffd",
        "private \ue000 use",
        "\U0001f972 a recent emoji",  # assigned after Unicode 3.2
    )
    for text in declined:
        assert memo.ids(text) is None, text
        assert encoder.token_ids(text) == _reference(encoder, text)
    for text in ("café au lait", "“quoted” — 20 °C, α-helix, naïve Straße, Ⅻ", "İstanbul ǅ ﬁ"):
        assert memo.ids(text) == _reference(encoder, text), text
    assert memo.ids("") == [encoder._cls, encoder._sep]


_UNICODE_PIECES = st.sampled_from(
    [
        *_PRINTABLE, "é", "É", "ü", "ñ", "ç", "ø", "ß", "’", "“", "”", "—", "–", "…", "°", "×", "±", "µ", "α",
        "Ω", "σ", "ς", "İ", "ı", "ǅ", "ﬁ", "Ⅻ", "\u00a0", "\u2028", "\u3000", "e\u0301", "\u0301", "\u0903",
        "\u05b0\u05b1", "한", "ア", "ğ", "\u0d4d", "¿", "«", "»", "€", "™", "½", "²", "\u1e9e", "\u0130",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_UNICODE_PIECES, max_size=30).map("".join) | st.text(max_size=40))
def test_unicode_text_gets_the_tokenizers_ids_or_none(text: str) -> None:
    encoder = _shared_encoder()
    ids = _shared_memo().ids(text)
    if ids is not None:
        assert ids == _reference(encoder, text), repr(text)


def _shared_encoder() -> MiniLMEncoder:
    global _ENCODER
    if _ENCODER is None:
        _ENCODER = MiniLMEncoder(threads=1)
        _ENCODER.token_ids("warm up")
    return _ENCODER


def _shared_memo() -> WordPieceMemo:
    global _MEMO
    if _MEMO is None:
        _MEMO = _memo(_shared_encoder())
    return _MEMO


_ENCODER: MiniLMEncoder | None = None
_MEMO: WordPieceMemo | None = None


def test_the_memo_stops_growing_at_its_bound_and_stays_exact(encoder: MiniLMEncoder) -> None:
    memo = _memo(encoder, max_words=5)
    text = "one two three four five six seven eight nine ten eleven"
    assert memo.ids(text) == _reference(encoder, text)
    assert len(memo) == 5
    assert memo.ids(text) == _reference(encoder, text)
