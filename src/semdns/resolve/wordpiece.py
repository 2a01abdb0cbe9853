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

Anything else goes to the tokenizer: non-ASCII text (accents, CJK and Unicode punctuation have their
own rules), control characters (which the normaliser deletes) and the literal special tokens
(``[CLS]``, ``[MASK]``… are matched before normalisation). ``tests/resolve/test_wordpiece.py`` checks
the ids against the tokenizer's on every public prompt and on generated text.
"""

from __future__ import annotations

import re
from typing import Any

_WORD = re.compile(r"[a-z0-9]+|[^a-z0-9 \t\n\r]")
"""BertPreTokenizer on lower-cased printable ASCII: runs of letters and digits, and each punctuation
character alone (every printable ASCII character that is not a letter, digit or space is punctuation)."""

_OTHER_RULES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\[(?:PAD|UNK|CLS|SEP|MASK)\]")
"""What the fast path does not reproduce: control characters, and the special tokens spelt out."""

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

    def __len__(self) -> int:
        return len(self._pieces)

    def ids(self, text: str) -> list[int] | None:
        """``[CLS]``, the prompt's WordPiece ids and ``[SEP]``, exactly as the tokenizer gives them, or
        None when ``text`` is not plain ASCII (then ask the tokenizer)."""
        if not text.isascii() or _OTHER_RULES.search(text):
            return None
        out = [self._cls]
        known = self._pieces.get
        for word in _WORD.findall(text.lower()):
            pieces = known(word)
            if pieces is None:
                pieces = self._split(word)
            out += pieces
        out.append(self._sep)
        return out

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
