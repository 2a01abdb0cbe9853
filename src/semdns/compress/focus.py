"""The focus window: the one stretch of a long context that the conversation is about.

A long context is often several documents laid end to end (retrieved passages, pasted files, an
e-mail thread), and a question is usually about one of them. Scoring sentences one by one keeps the
best sentences from everywhere: when the question names the subject but not the answer ("How long had
he been ill?"), the sentence that names the subject is kept and the one beside it, which holds the
answer, is not. The focus window is coarse-to-fine selection (as in LongLLMLingua's document-level
step, without its language model): first find the contiguous run of units, at most ``cap`` tokens
long, that the query is most about, and keep it whole; the compressor then fills the rest of the
budget best-first as before.

A window's value is what a document-level retriever would look at:

- **coverage**: the summed weights (IDF times the term's weight in the query) of the *distinct* query
  terms it contains, so a window that mentions the story's people, places and things (named over the
  whole conversation, every turn) beats one that repeats a single common word;
- plus ``mix`` times the **sum of its units' own scores**, so that among windows covering the same
  terms the one whose sentences match best wins.

A window starts where a document could: at the start of a paragraph (a blank line before it; where
a paragraph is longer than the window, at any of its units), since documents laid end to end are
separated by blank lines, and a window that starts at the tail of the previous document wastes its
budget there. It may end anywhere, and never spans two of the request's separate documents. The
search slides over the units once (two pointers), linear in their number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """One unit as the window search sees it."""

    document: int
    tokens: int
    terms: frozenset[str]
    """The query terms the unit contains (stemmed)."""
    score: float
    """The unit's own relevance score."""
    opens: bool = True
    """A window may start at this unit (it starts a paragraph)."""


def best_window(spans: Sequence[Span], weights: Mapping[str, float], cap: float, mix: float) -> range:
    """The indices of the best run of consecutive ``spans`` within one document, at most ``cap``
    tokens, starting at a unit that ``opens`` (an empty range when none fits or nothing matches).
    ``weights``: each query term's weight (its IDF times its weight in the query). Ties go to the
    earliest window."""
    best_value = 0.0
    best = range(0)
    end = 0
    spent = 0
    total = 0.0
    cover = 0.0
    counts: dict[str, int] = {}
    for start, first in enumerate(spans):
        if end <= start:  # the window is empty: restart it here
            end, spent, total, cover, counts = start, 0, 0.0, 0.0, {}
        while end < len(spans) and spans[end].document == first.document and spent + spans[end].tokens <= cap:
            span = spans[end]
            spent += span.tokens
            total += span.score
            for term in span.terms:
                counts[term] = counts.get(term, 0) + 1
                if counts[term] == 1:
                    cover += weights.get(term, 0.0)
            end += 1
        value = cover + mix * total
        if end > start and first.opens and value > best_value:
            best_value, best = value, range(start, end)
        if end > start:  # slide: drop the first unit
            spent -= first.tokens
            total -= first.score
            for term in first.terms:
                counts[term] -= 1
                if counts[term] == 0:
                    cover -= weights.get(term, 0.0)
    return best
