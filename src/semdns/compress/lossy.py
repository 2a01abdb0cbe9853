"""Query-aware lossy compression: keep the units of a long context that the question needs.

Every unit (sentence or code block, :mod:`semdns.compress.text`) is scored against the question by
two views, then the best units are kept whole, in their original order, until the token budget is
spent:

- **lexical**: IDF-weighted share of the question's content words (lower-cased, stop words out, a
  light suffix strip) that the unit contains, IDF taken over the context's own units, so the words
  that single out a passage weigh most;
- **semantic** (method ``hybrid``): cosine of the unit's MiniLM embedding to the question's (the
  resolver's encoder, already loaded). Only the units the lexical view ranks highest, about
  ``semantic_pool`` times the budget (at least ``semantic_min_tokens``), are embedded: the encoder
  is most of the cost;
- **static** (method ``static``): cosine of static embeddings, every unit
  (:mod:`semdns.compress.static_view`: the same MiniLM's token table, no transformer run), a
  semantic view at about the lexical view's cost.

Two cheap cues add to the score: a unit with a digit when the question asks for a quantity or a date,
and a share of the best neighbour's score (the sentence after the one that names the subject often
holds the answer). Units mined as the zone's boilerplate are dropped before anything else.

Selection is coarse to fine (:mod:`semdns.compress.focus`): when the budget is large enough to hold
a passage (``focus_min_tokens``), the contiguous run of units the whole conversation is most about,
up to ``focus`` of the budget, is kept first and whole, and the rest of the budget goes to the best
units anywhere. A long context is often several documents end to end, and the answer tends to sit
beside the sentences that name its subject rather than in them.

The query is the question and the conversation before it (``history``: earlier questions and
answers, weighted less the further back they are), since a follow-up ("Who did she live with?")
often names nothing the context could be matched on; the earlier turns name the subject. A query
that still says almost nothing may be given a wider budget (``vague_target_tokens``): keeping more
beats guessing.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from semdns.compress.focus import Span, best_window
from semdns.compress.static_view import StaticSimilarity
from semdns.compress.text import Unit, count_tokens, join_units, split_units
from semdns.resolve.encoder import Encoder
from semdns.resolve.static import TokenEncoder

Method = str  # "lexical" | "hybrid" | "static"
METHODS = ("lexical", "hybrid", "static")

_WORD_RE = re.compile(r"[a-z0-9]+")
_STOP_TEXT = (
    "a an the of to in on at by for with from as is are was were be been being am do does did "
    "has have had and or but not no nor so if then than that this these those it its it's he "
    "she they them his her their there here what which who whom whose when where why how i you "
    "we me my your our us can could would should will shall may might must into over under "
    "about after before during between up down out off again further once all any both each "
    "few more most other some such only own same too very s t just also one two name named "
    "called used use"
)
_STOP = frozenset(_STOP_TEXT.split())
_QUANTITY_RE = re.compile(
    r"\b(how (many|much|long|old|far|often|big|large|tall)|when|what (year|date|time|day|month|century|"
    r"percent|percentage|age|number|amount)|which (year|date|century))\b",
    re.IGNORECASE,
)
_DIGIT_RE = re.compile(r"\d")


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """Content words of ``text``: lower-cased, stop words out, lightly stemmed."""
    return {_stem(w) for w in content_words(text)}


def content_words(text: str) -> list[str]:
    """The words of ``text`` in order, lower-cased, stop words out (not stemmed)."""
    return [w for w in _WORD_RE.findall(text.lower()) if w not in _STOP]


@dataclass(frozen=True)
class Weights:
    """How the views combine (tuned on the dev split of corpora/compress only)."""

    semantic: float = 0.5
    static: float = 1.0
    lexical: float = 1.0
    quantity: float = 0.15
    neighbour: float = 0.3
    paragraph: float = 0.5
    semantic_pool: float = 2.5
    semantic_min_tokens: int = 1024
    history: float = 0.5
    """Weight of the conversation's newest earlier turn in the query (the question weighs 1)."""
    history_decay: float = 0.5
    """Each turn further back weighs this much less again."""
    focus: float = 0.7
    """Share of the budget first given to the focus window, kept whole (0: off)."""
    focus_min_tokens: int = 200
    """No focus window below this many tokens (``focus`` × budget): a window of a few sentences is
    no passage, and inside one short passage the best units anywhere do better (not tuned: any
    value between the benchmark's passage windows (~60 tokens) and long ones (~370) gives the same
    figures)."""
    focus_mix: float = 1.0
    """Weight of the window's summed unit scores against its coverage of the query's terms."""
    focus_history: float = 1.0
    """Weight of the newest earlier turn in the window's query: which passage a conversation is
    about is named over all of it, so every turn counts (with ``focus_decay`` 1) as the question."""
    focus_decay: float = 1.0
    vague_words: int = 2
    """A query with fewer content words than this, the question and its history together (a bare
    "Who?" opening a conversation), says too little to choose by: when the caller gives a wider
    budget for vague queries (``vague_target_tokens``), that one applies."""


@dataclass(frozen=True)
class LossyResult:
    """What compression kept and what it cost."""

    text: str
    tokens_in: int
    tokens_out: int
    units_in: int
    units_kept: int
    boilerplate_dropped: int
    method: str
    seconds: float
    widened: bool = False
    """The query was vague and the wider budget applied (:attr:`Weights.vague_words`)."""

    @property
    def ratio(self) -> float:
        return self.tokens_in / max(self.tokens_out, 1)


@dataclass(frozen=True)
class _Query:
    """The question and the conversation before it, as weighted content words."""

    question: str
    text: str
    """The question after the earlier turns, newest last (what the ``hybrid`` view embeds)."""
    words: list[str]
    weights: list[float]
    """One per word: 1 for the question's, less for older turns'."""

    @classmethod
    def of(cls, question: str, history: Sequence[str], weights: Weights) -> _Query:
        words = content_words(question)
        per_word = [1.0] * len(words)
        for back, turn in enumerate(reversed(history)):
            turn_words = content_words(turn)
            words += turn_words
            per_word += [weights.history * weights.history_decay**back] * len(turn_words)
        text = " ".join([*history, question]) if history else question
        return cls(question, text, words, per_word)

    def term_weights(self) -> dict[str, float]:
        """Each stemmed term's weight: that of its most recent (heaviest) occurrence."""
        out: dict[str, float] = {}
        for word, weight in zip(self.words, self.weights, strict=True):
            term = _stem(word)
            out[term] = max(out.get(term, 0.0), weight)
        return out


@dataclass
class QueryAwareCompressor:
    """Keeps the units of a context most relevant to a question, under a token budget.

    ``encoder`` is only used by methods ``hybrid`` and ``static`` (which needs one with a token
    table, :class:`~semdns.resolve.static.TokenEncoder`); without it, either degrades to ``lexical``
    (and says so in the result's ``method``).
    """

    encoder: Encoder | None = None
    weights: Weights = field(default_factory=Weights)
    _static: StaticSimilarity | None = field(default=None, init=False, repr=False)

    def _usable(self, method: Method) -> str:
        if method == "hybrid" and self.encoder is not None:
            return method
        if method == "static" and isinstance(self.encoder, TokenEncoder):
            if self._static is None:
                self._static = StaticSimilarity(self.encoder, _STOP)
            return method
        return "lexical"

    def compress(
        self,
        documents: list[str],
        question: str,
        target_tokens: int,
        *,
        method: Method = "hybrid",
        is_boilerplate: Callable[[str], bool] | None = None,
        history: Sequence[str] = (),
        vague_target_tokens: int | None = None,
    ) -> tuple[list[str], LossyResult]:
        """Compress ``documents`` together (one budget for all) against ``question``; returns the
        compressed documents in the same order (a document may become empty) and the result.

        ``history``: the conversation's earlier turns (questions and answers, oldest first), which
        join the question in the query at weights falling towards the past (:class:`Weights`): a
        follow-up ("Who did she live with?") names little, its earlier turns name the story.
        ``vague_target_tokens``: the budget when the query is too vague to choose by (keep more
        rather than guess); the result's ``widened`` says when it applied."""
        started = time.perf_counter()
        units: list[tuple[int, int, Unit]] = []  # (document, index in document, unit)
        per_doc: list[list[Unit]] = []
        for d, document in enumerate(documents):
            doc_units = split_units(document)
            per_doc.append(doc_units)
            units.extend((d, i, u) for i, u in enumerate(doc_units))
        tokens_in = sum(count_tokens(doc) for doc in documents)
        dropped = 0
        candidates: list[int] = []
        for k, (_, _, unit) in enumerate(units):
            if is_boilerplate is not None and unit.kind == "sentence" and is_boilerplate(unit.text):
                dropped += 1
            else:
                candidates.append(k)
        used = self._usable(method)
        query = _Query.of(question, history, self.weights)
        widened = (
            vague_target_tokens is not None
            and vague_target_tokens > target_tokens
            and len(query.words) < self.weights.vague_words
        )
        if widened and vague_target_tokens is not None:
            target_tokens = vague_target_tokens
        # Each unit's content words and terms, once: the scores and the focus window both read them.
        unit_words = {k: content_words(units[k][2].text) for k in candidates}
        unit_terms = {k: {_stem(t) for t in unit_words[k]} for k in candidates}
        scores, lexical = self._scores(units, candidates, query, target_tokens, used, unit_words, unit_terms)
        focus = self._focus(units, candidates, lexical, target_tokens, question, history, unit_terms)
        kept = self._select(units, candidates, scores, target_tokens, focus)
        out: list[str] = []
        for d in range(len(per_doc)):
            mine = [(units[k][1], units[k][2]) for k in kept if units[k][0] == d]
            out.append(join_units(mine) if mine else "")
        tokens_out = sum(count_tokens(doc) for doc in out)
        result = LossyResult(
            text="\n\n".join(o for o in out if o),
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            units_in=len(units),
            units_kept=len(kept),
            boilerplate_dropped=dropped,
            method=used,
            seconds=time.perf_counter() - started,
            widened=widened,
        )
        return out, result

    def _scores(
        self,
        units: list[tuple[int, int, Unit]],
        candidates: list[int],
        query: _Query,
        target_tokens: int,
        method: str,
        unit_words: dict[int, list[str]],
        unit_terms: dict[int, set[str]],
    ) -> tuple[dict[int, float], dict[int, float]]:
        """Each candidate's score, and its lexical part alone (overlap, paragraph, quantity cue)."""
        w = self.weights
        question = query.question
        q_words = query.words
        q_weight = query.term_weights()
        q_terms = set(q_weight)
        n = max(len(candidates), 1)
        df: dict[str, int] = {}
        for k in candidates:
            for t in unit_terms[k] & q_terms:
                df[t] = df.get(t, 0) + 1
        idf = {t: q_weight[t] * math.log((n + 1) / (df.get(t, 0) + 0.5)) for t in q_terms}
        total = sum(idf.values()) or 1.0
        wants_quantity = bool(_QUANTITY_RE.search(question))
        paragraphs: dict[tuple[int, int], set[str]] = {}
        for k in candidates:
            d, _, unit = units[k]
            paragraphs.setdefault((d, unit.paragraph), set()).update(unit_terms[k] & q_terms)
        scores: dict[int, float] = {}
        for k in candidates:
            d, _, unit = units[k]
            score = w.lexical * sum(idf[t] for t in unit_terms[k] & q_terms) / total
            score += w.paragraph * sum(idf[t] for t in paragraphs[(d, unit.paragraph)]) / total
            if wants_quantity and _DIGIT_RE.search(units[k][2].text):
                score += w.quantity
            scores[k] = score
        lexical = dict(scores)
        if method == "hybrid" and self.encoder is not None and candidates:
            pool = self._pool(units, candidates, scores, target_tokens)
            vectors = self.encoder.encode([query.text, *(units[k][2].text for k in pool)])
            sims = vectors[1:] @ vectors[0]
            floor = float(np.min(sims)) if len(pool) else 0.0
            for k in candidates:
                scores[k] += w.semantic * floor  # units outside the pool: as the least similar
            for k, sim in zip(pool, sims, strict=True):
                scores[k] += w.semantic * (float(sim) - floor)
        if method == "static" and self._static is not None and candidates:
            sims = self._static.similarities_of_words(
                q_words, [unit_words[k] for k in candidates], query.weights
            )
            for k, sim in zip(candidates, sims.tolist(), strict=True):
                scores[k] += w.static * sim
        if w.neighbour:
            smoothed = dict(scores)
            position = {k: i for i, k in enumerate(candidates)}
            for k in candidates:
                i = position[k]
                near = [
                    scores[candidates[j]]
                    for j in (i - 1, i + 1)
                    if 0 <= j < len(candidates) and units[candidates[j]][0] == units[k][0]
                ]
                if near:
                    smoothed[k] += w.neighbour * max(near)
            scores = smoothed
        return scores, lexical

    def _focus(
        self,
        units: list[tuple[int, int, Unit]],
        candidates: list[int],
        lexical: dict[int, float],
        target: int,
        question: str,
        history: Sequence[str],
        unit_terms: dict[int, set[str]],
    ) -> list[int]:
        """The focus window (:mod:`semdns.compress.focus`): up to ``focus`` × ``target`` tokens,
        scored by the lexical view only (a semantic view's similarities are spread over every unit
        and would favour long windows of loosely related text), against a query in which every
        earlier turn weighs ``focus_history`` (decaying by ``focus_decay``). It starts at a paragraph
        (or anywhere in a paragraph longer than itself)."""
        w = self.weights
        cap = w.focus * target
        if cap < max(w.focus_min_tokens, 1) or not candidates:
            return []
        query = _Query.of(
            question, history, dataclasses.replace(w, history=w.focus_history, history_decay=w.focus_decay)
        )
        q_weight = query.term_weights()
        present = [frozenset(unit_terms[k] & q_weight.keys()) for k in candidates]
        df: dict[str, int] = {}
        for found in present:
            for t in found:
                df[t] = df.get(t, 0) + 1
        n = len(candidates)
        idf = {t: q_weight[t] * math.log((n + 1) / (df.get(t, 0) + 0.5)) for t in q_weight}
        paragraph_tokens: dict[tuple[int, int], int] = {}
        for k in candidates:
            where = (units[k][0], units[k][2].paragraph)
            paragraph_tokens[where] = paragraph_tokens.get(where, 0) + units[k][2].tokens
        spans: list[Span] = []
        for i, (k, found) in enumerate(zip(candidates, present, strict=True)):
            where = (units[k][0], units[k][2].paragraph)
            before = (units[candidates[i - 1]][0], units[candidates[i - 1]][2].paragraph) if i else None
            opens = where != before or paragraph_tokens[where] > cap
            spans.append(Span(units[k][0], units[k][2].tokens, found, lexical[k], opens))
        return [candidates[i] for i in best_window(spans, idf, cap, w.focus_mix)]

    def _pool(
        self, units: list[tuple[int, int, Unit]], candidates: list[int], scores: dict[int, float], target: int
    ) -> list[int]:
        """The candidates the encoder reads: the lexical best, about ``semantic_pool`` × budget tokens."""
        limit = max(self.weights.semantic_pool * target, self.weights.semantic_min_tokens)
        ranked = sorted(candidates, key=lambda k: -scores[k])
        pool: list[int] = []
        spent = 0
        for k in ranked:
            if spent >= limit:
                break
            pool.append(k)
            spent += units[k][2].tokens
        return sorted(pool)

    @staticmethod
    def _select(
        units: list[tuple[int, int, Unit]],
        candidates: list[int],
        scores: dict[int, float],
        target: int,
        first: Sequence[int] = (),
    ) -> list[int]:
        """``first`` (the focus window, which fits the budget), then best-first until the budget is
        spent; a unit that does not fit is skipped, smaller ones after it may still fit. Returned in
        document order."""
        kept = list(first)
        spent = sum(units[k][2].tokens for k in kept)
        taken = set(kept)
        for k in sorted((k for k in candidates if k not in taken), key=lambda k: (-scores[k], k)):
            cost = units[k][2].tokens
            if spent + cost <= target:
                kept.append(k)
                spent += cost
        return sorted(kept)
