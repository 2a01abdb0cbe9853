"""Cutting a long context into the units a lossy compressor keeps or drops whole.

A unit is a sentence, a fenced code block, or a run of code-like lines. Units are never cut or
rewritten: whatever survives compression (code, numbers, names, quoted text) survives verbatim, and
a quotation that spans several sentences stays one unit. The token count is a cheap, engine-neutral
unit (a word, a number or one punctuation mark is a token), used for budgets and ratios.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_FENCE_RE = re.compile(r"^(```|~~~)")
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace and an
# upper-case letter, digit, quote or bracket. Abbreviations and initials are re-joined below.
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[A-Z0-9])")
_ABBREVIATIONS_TEXT = (
    "mr mrs ms dr prof sr jr st vs etc e.g i.e inc ltd co corp no fig al approx dept est gen "
    "gov jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k art sec para cf ed vol pp op"
)
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())
_CODE_LINE_RE = re.compile(
    r"^\s{4,}\S|[{};]\s*$|^\s*(def|class|import|from|return|if|for|while|#include|function|const|let|var)\b"
)


def count_tokens(text: str) -> int:
    """Words, numbers and punctuation marks in ``text`` (the unit of budgets and ratios)."""
    return len(_TOKEN_RE.findall(text))


@dataclass(frozen=True, slots=True)
class Unit:
    """One sentence or code block of a context, with where it starts a paragraph."""

    text: str
    tokens: int
    kind: str
    """``sentence`` or ``code``."""
    paragraph: int
    """The index of the paragraph it belongs to (units of one paragraph join with a space)."""


def split_units(text: str) -> list[Unit]:
    """The units of ``text`` in order. Joining them (space inside a paragraph, a blank line between
    paragraphs) gives the text back up to whitespace."""
    units: list[Unit] = []
    paragraph = 0
    prose: list[str] = []
    code: list[str] = []
    in_fence = False

    def flush_prose() -> None:
        nonlocal paragraph
        if prose:
            for sentence in split_sentences(" ".join(line.strip() for line in prose)):
                units.append(Unit(sentence, count_tokens(sentence), "sentence", paragraph))
            prose.clear()
            paragraph += 1

    def flush_code() -> None:
        nonlocal paragraph
        if code:
            block = "\n".join(code)
            units.append(Unit(block, count_tokens(block), "code", paragraph))
            code.clear()
            paragraph += 1

    for line in text.splitlines():
        if in_fence:
            code.append(line)
            if _FENCE_RE.match(line.strip()):
                in_fence = False
                flush_code()
            continue
        if _FENCE_RE.match(line.strip()):
            flush_prose()
            in_fence = True
            code.append(line)
            continue
        if not line.strip():
            flush_prose()
            flush_code()
            continue
        if _CODE_LINE_RE.search(line) and not prose:
            code.append(line)
            continue
        if code:
            flush_code()
        prose.append(line)
    flush_prose()
    flush_code()  # an unclosed fence keeps everything after it as one code unit
    return units


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of one paragraph; an abbreviation, an initial or an open quotation does not end one."""
    pieces = [p for p in _SENTENCE_END_RE.split(paragraph) if p]
    sentences: list[str] = []
    for piece in pieces:
        if sentences and (_ends_in_abbreviation(sentences[-1]) or _open_quote(sentences[-1])):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return [s.strip() for s in sentences if s.strip()]


def _ends_in_abbreviation(sentence: str) -> bool:
    last = sentence.rstrip("\"'”’)]").rsplit(maxsplit=1)[-1].rstrip(".").lower()
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def _open_quote(sentence: str) -> bool:
    """A straight or curly double quotation opened and not closed: the sentence continues."""
    straight = sentence.count('"') % 2 == 1
    return straight or sentence.count("“") > sentence.count("”")


def join_units(kept: list[tuple[int, Unit]], gap: str = " … ") -> str:
    """Kept units (each with its index among all units) back into text: a space inside a paragraph,
    a blank line between paragraphs, and ``gap`` where dropped units were, so the reader (and the
    model) knows something was left out."""
    parts: list[str] = []
    previous: tuple[int, Unit] | None = None
    for index, unit in kept:
        if previous is not None:
            last_index, last = previous
            if unit.kind == "code" or last.kind == "code" or unit.paragraph != last.paragraph:
                parts.append("\n…\n" if index != last_index + 1 else "\n\n")
            else:
                parts.append(" " if index == last_index + 1 else gap)
        elif index > 0:
            parts.append(gap.lstrip())
        parts.append(unit.text)
        previous = (index, unit)
    return "".join(parts)
