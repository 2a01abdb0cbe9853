"""The ``static`` view of query-aware compression: a semantic score that costs microseconds a unit.

Running MiniLM over a long context's sentences costs about a second per 1,000 tokens on 2 cores. The
resolver already has a cheaper semantic view (:mod:`semdns.resolve.static`): one vector per
vocabulary entry of the same MiniLM (its token table, cached on disk once built). Here a **word**'s
vector is the mean of its word pieces' rows, and a unit's vector the sum of its content words'
vectors weighted by their IDF over **the context's own units** (as for the lexical view: the words
that single out a passage weigh most, words found all over this document weigh little); the
question is embedded with the same weights. A unit's score is the cosine of its vector to the
question's.

Tokenising the whole context with the model's tokenizer took longer than the rest of compression
together, so words are split by the lexical view's own regular expression and each distinct word is
tokenised once and remembered (word pieces of a lower-cased word alone are those the uncased
tokenizer gives it inside a sentence); a context then costs a regular-expression pass, dictionary
look-ups and two sparse products (units x words x word pieces, then the table rows they touch).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse

from semdns.resolve.static import TokenEncoder

Floats = npt.NDArray[np.float32]
_WORD_RE = re.compile(r"[a-z0-9]+")
_MAX_WORDS = 200_000  # remembered words (a few MB); past it the memory starts again


class StaticSimilarity:
    """Cosines of texts to a question from ``encoder``'s token table (read once, on first use)."""

    def __init__(self, encoder: TokenEncoder, stop_words: frozenset[str] = frozenset()) -> None:
        self._encoder = encoder
        self._stop = stop_words
        self._table: Floats | None = None
        self._pieces: dict[str, tuple[int, ...]] = {}

    def _rows(self) -> Floats:
        if self._table is None:
            self._table = self._encoder.token_table().astype(np.float32)
        return self._table

    def _pieces_of(self, words: Sequence[str]) -> list[tuple[int, ...]]:
        """Each word's piece ids, tokenising (in one batch) and remembering the words not seen yet.
        Safe under concurrent calls: a word forgotten by another thread meanwhile is still answered."""
        known = [self._pieces.get(w) for w in words]
        missing = sorted({w for w, p in zip(words, known, strict=True) if p is None})
        if missing:
            if len(self._pieces) + len(missing) > _MAX_WORDS:
                self._pieces = {}
            learnt = {
                w: tuple(ids[1:-1])
                for w, ids in zip(missing, self._encoder.token_ids_batch(missing), strict=True)
            }
            self._pieces.update(learnt)  # ids without [CLS] and [SEP]
            known = [p if p is not None else learnt[w] for w, p in zip(words, known, strict=True)]
        return [p or (0,) for p in known if p is not None]

    def words(self, text: str) -> list[str]:
        """The words of ``text`` this view reads (lower-cased, stop words out)."""
        return [w for w in _WORD_RE.findall(text.lower()) if w not in self._stop]

    def similarities(self, question: str, texts: Sequence[str]) -> Floats:
        """The cosine of each text's static vector to the question's (0 when a text or the question
        has no content word)."""
        return self.similarities_of_words(self.words(question), [self.words(t) for t in texts])

    def similarities_of_words(
        self,
        question: list[str],
        texts: Sequence[list[str]],
        question_weights: Sequence[float] | None = None,
    ) -> Floats:
        """:meth:`similarities` of texts already split by :meth:`words` (the lexical view splits
        them too, so the compressor splits once). ``question_weights``, one per question word,
        scale each word's share of the question's vector (a conversation's earlier turns weigh less
        than its last question); all 1 when omitted."""
        if question_weights is not None and len(question_weights) != len(question):
            raise ValueError(f"{len(question_weights)} weights for {len(question)} question words")
        if not texts:
            return np.zeros(0, dtype=np.float32)
        table = self._rows()
        per_text = [question, *texts]
        vocabulary: dict[str, int] = {}
        for words in per_text:
            for w in words:
                vocabulary.setdefault(w, len(vocabulary))
        if not vocabulary:
            return np.zeros(len(texts), dtype=np.float32)
        n_words = len(vocabulary)
        # Word vectors: the mean of each word's piece rows (a sparse words x vocabulary average).
        pieces = self._pieces_of(list(vocabulary))
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.intp, count=n_words)
        flat = np.fromiter((t for p in pieces for t in p), dtype=np.intp, count=int(lengths.sum()))
        average = sparse.csr_matrix(
            (
                np.repeat(1.0 / lengths, lengths).astype(np.float32),
                (np.repeat(np.arange(n_words), lengths), flat),
            ),
            shape=(n_words, table.shape[0]),
        )
        # IDF over the context's units (the question does not count).
        index = [[vocabulary[w] for w in words] for words in per_text]
        counts = np.fromiter((len(i) for i in index), dtype=np.intp, count=len(index))
        words_flat = np.fromiter((k for i in index for k in i), dtype=np.intp, count=int(counts.sum()))
        owner = np.repeat(np.arange(len(index)), counts)
        in_units = owner > 0
        seen = np.unique(owner[in_units] * n_words + words_flat[in_units])
        df = np.bincount(seen % n_words, minlength=n_words)
        idf = np.log((len(texts) + 1.0) / (df + 0.5)).astype(np.float32)
        # Text vectors: IDF-weighted sums of their words' vectors (repeated words add up). Every
        # operand is float32: a float64 one would make scipy convert the whole table.
        scale = np.ones(len(words_flat), dtype=np.float32)
        if question_weights is not None:
            scale[: len(question)] = np.asarray(question_weights, dtype=np.float32)
        weights = sparse.csr_matrix(
            (idf[words_flat] * scale, (owner, words_flat)), shape=(len(index), n_words)
        )
        sums = np.asarray((weights @ average) @ table, dtype=np.float32)
        return _cosines(sums[1:], sums[0])

    @property
    def remembered_words(self) -> int:
        """How many distinct words are tokenised and remembered now."""
        return len(self._pieces)


def _cosines(rows: Floats, query: Floats) -> Floats:
    """Cosine of each row to ``query`` (0 for a zero row or query)."""
    norms = np.linalg.norm(rows, axis=1) * float(np.linalg.norm(query))
    out: Floats = ((rows @ query) / np.maximum(norms, 1e-12)).astype(np.float32)
    return out
