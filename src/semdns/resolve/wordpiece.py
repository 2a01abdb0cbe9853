"""BERT's WordPiece for plain ASCII prompts, remembered word by word: the tokenizer's ids at a tenth of
its cost.

The packaged tokenizer (``tokenizers``' BertNormalizer, BertPreTokenizer and WordPiece) spends about
40 µs on a one-line prompt and 1.4 ms on a pasted page on this machine (bench/resolve.py's public
prompts: 150 µs a prompt on average, the largest single cost of a decision the lexical pass settles
after the transformer's). Yet what it computes is a function of each word alone: the normaliser
lower-cases and cleans characters one by one, the pre-tokeniser cuts at whitespace and at every
punctuation character, and WordPiece splits each resulting word without looking at its neighbours. For
a prompt of printable ASCII (with tab, newline and carriage return) those steps are one ``lower()`` and
one regular expression, and each word's pieces can be remembered: the first time a word is seen it is
split here by WordPiece's own rule (greedy longest match in the vocabulary, ``##`` for a word's later
pieces, ``[UNK]`` for a word with a part the vocabulary lacks or of over 100 characters), and every later
prompt reuses the answer. A new word costs a few dictionary lookups, not a tokenizer call.

Text with other characters takes the same path once each distinct character has been normalised as
the normaliser would: decomposed (NFD) without its nonspacing marks, lower-cased, and set apart when
it is punctuation. A character is handled so only when that is certain to be what the tokenizer does:
never a control, format, private-use or unassigned character (the normaliser deletes those), a CJK
ideograph (it is padded with spaces), a combining character the decomposition would reorder, the
capital sigma (Python lower-cases it by context, the tokenizer does not), or a character whose
category differs between this Python's Unicode tables and Unicode 3.2's (the tokenizer's tables are of
another version; characters stable since 3.2 are classified alike). Such text goes to the tokenizer, as
do the literal special tokens (``[CLS]``, ``[MASK]``… are matched before normalisation).
``tests/resolve/test_wordpiece.py`` checks the ids against the tokenizer's on every public prompt and on
generated text, Unicode included.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_WORD = re.compile(r"[a-z0-9]+|[^a-z0-9 \t\n\r]")
"""BertPreTokenizer on lower-cased printable ASCII: runs of letters and digits, and each punctuation
character alone (every printable ASCII character that is not a letter, digit or space is punctuation)."""

_OTHER_RULES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\[(?:PAD|UNK|CLS|SEP|MASK)\]")
"""What the fast path does not reproduce: control characters, and the special tokens spelt out."""

_UNICODE_WORD = re.compile(r"[^\s!-/:-@\[-`{-~]+|[!-/:-@\[-`{-~]")
"""BertPreTokenizer on normalised text: runs of what is neither whitespace nor ASCII punctuation, and
each ASCII punctuation character alone (other punctuation was set apart by spaces when normalised)."""

_SAFE_CATEGORIES = frozenset(
    ("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf",
     "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp")
)  # fmt: skip
"""Every category but C* (control, format, surrogate, private use, unassigned): the normaliser deletes
those."""

_CJK = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F))
"""The ideographs the normaliser pads with spaces (BERT's ``is_chinese_char`` ranges, merged)."""

MAX_WORDS = 200_000
"""Words remembered at most (a few tens of MB); past it, a new word is split again each time it comes,
so hostile traffic of unique words costs CPU, not memory."""


class WordPieceMemo:
    """Token ids of ASCII prompts from remembered word splits (:meth:`ids`), or None for the rest."""

    def __init__(self, tokenizer: Any, cls: int, sep: int, max_words: int = MAX_WORDS) -> None:
        model = tokenizer.model
        self._vocabulary: dict[str, int] = tokenizer.get_vocab(with_added_tokens=False)
        self._unknown = self._vocabulary[model.unk_token]
        self._prefix: str = model.continuing_subword_prefix
        self._longest: int = model.max_input_chars_per_word
        self._cls = cls
        self._sep = sep
        self._max_words = max_words
        self._pieces: dict[str, list[int]] = {}
        # What the normaliser makes of each character seen, for str.translate (capitals from the
        # start, other ASCII characters stay as they are), and the characters this path cannot tell.
        self._normalise: dict[int, str] = {c: chr(c).lower() for c in range(ord("A"), ord("Z") + 1)}
        self._declined: set[str] = set()

    def __len__(self) -> int:
        return len(self._pieces)

    def ids(self, text: str) -> list[int] | None:
        """``[CLS]``, the prompt's WordPiece ids and ``[SEP]``, exactly as the tokenizer gives them, or
        None when ``text`` is not plain ASCII (then ask the tokenizer)."""
        if _OTHER_RULES.search(text):
            return None
        if text.isascii():
            words = _WORD.findall(text.lower())
        else:
            normalised = self._normalised(text)
            if normalised is None:
                return None
            words = _UNICODE_WORD.findall(normalised)
        out = [self._cls]
        known = self._pieces.get
        for word in words:
            pieces = known(word)
            if pieces is None:
                pieces = self._split(word)
            out += pieces
        out.append(self._sep)
        return out

    def _normalised(self, text: str) -> str | None:
        """``text`` as BertNormalizer leaves it, non-ASCII punctuation padded with spaces; None when a
        character is one this path does not reproduce."""
        table, declined = self._normalise, self._declined
        for character in set(text):
            if character in declined:
                return None
            if ord(character) < 128 or ord(character) in table:
                continue
            normalised = _normalise_character(character)
            if normalised is None:
                if len(declined) < _MAX_CHARACTERS:
                    declined.add(character)
                return None
            if len(table) >= _MAX_CHARACTERS:
                return None  # a flood of distinct characters: the tokenizer, not a growing table
            table[ord(character)] = normalised  # one dict store: safe from any thread under the GIL
        return text.translate(table)

    def _split(self, word: str) -> list[int]:
        """The pieces of a word not remembered yet, remembered while there is room."""
        pieces = self._greedy(word)
        if len(self._pieces) < self._max_words:
            self._pieces[word] = pieces  # one dict store: safe from any thread under the GIL
        return pieces

    def _greedy(self, word: str) -> list[int]:
        """WordPiece of one word: the longest vocabulary entry at each position, left to right."""
        if len(word) > self._longest:
            return [self._unknown]
        vocabulary, pieces, start = self._vocabulary, [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else self._prefix + word[start:end]
                found = vocabulary.get(piece)
                if found is not None:
                    pieces.append(found)
                    start = end
                    break
            else:
                return [self._unknown]  # a part no entry covers: the whole word is unknown
        return pieces


_MAX_CHARACTERS = 65_536
"""Distinct characters remembered at most."""


def _normalise_character(character: str) -> str | None:
    """What BertNormalizer (clean, strip accents, lower-case) and the punctuation split make of one
    non-ASCII character, or None when that cannot be told with certainty here."""
    if not _stable(character) or character in "\u03a3\ufffd" or _is_cjk(character):
        return None  # capital sigma (lower-cased by context here); U+FFFD (the normaliser deletes it)
    out = []
    for part in unicodedata.normalize("NFD", character):
        if not _stable(part):
            return None
        category = unicodedata.category(part)
        if category == "Mn":
            continue  # accents are stripped
        if unicodedata.combining(part):
            return None  # a combining mark the decomposition reorders against its neighbours
        for lowered in part.lower():
            if not _stable(lowered) or _is_cjk(lowered):
                return None
            punctuation = not lowered.isascii() and unicodedata.category(lowered).startswith("P")
            out.append(f" {lowered} " if punctuation else lowered)
    return "".join(out)


def _stable(character: str) -> bool:
    """Assigned, not a control or format character, and of the same category since Unicode 3.2."""
    category = unicodedata.category(character)
    return category in _SAFE_CATEGORIES and unicodedata.ucd_3_2_0.category(character) == category


def _is_cjk(character: str) -> bool:
    code = ord(character)
    return any(low <= code <= high for low, high in _CJK)
