"""Precision and recall of the detector on a labelled JSONL set (``semdns eval privacy``).

Each line: ``{"text": ..., "spans": [{"kind", "start", "end"}], "out_of_scope": [...]}``. A finding is
a true positive when a gold span of the same kind overlaps it (``overlap``) or has exactly its bounds
(``exact``); every other finding is a false positive, every unmatched gold span a false negative.
``out_of_scope`` spans (person names, which semdns does not detect) are counted apart: finding one is
neither rewarded nor punished, and the report says how many there were.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from semdns.errors import InvalidRequest
from semdns.privacy.detect import KINDS, Finding, detect
from semdns.textfiles import UnreadableText, read_text


@dataclass(frozen=True, slots=True)
class Gold:
    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    spans: tuple[Gold, ...]
    out_of_scope: tuple[Gold, ...] = ()


@dataclass(slots=True)
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(slots=True)
class Report:
    """Per-kind and overall tallies under one matching rule, plus what was left out."""

    match: str
    by_kind: dict[str, Tally] = field(default_factory=dict)
    sentences: int = 0
    out_of_scope: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    false_positives: list[tuple[str, str]] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def overall(self) -> Tally:
        total = Tally()
        for t in self.by_kind.values():
            total.tp += t.tp
            total.fp += t.fp
            total.fn += t.fn
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "sentences": self.sentences,
            "overall": self.overall.to_json(),
            "by_kind": {k: t.to_json() for k, t in sorted(self.by_kind.items())},
            "out_of_scope": dict(self.out_of_scope),
            "microseconds_per_sentence": round(1e6 * self.seconds / max(1, self.sentences), 1),
        }


def load_examples(path: Path) -> list[Example]:
    """Read a labelled set; :class:`InvalidRequest` naming ``file:line`` on a malformed line."""
    examples: list[Example] = []
    try:
        lines = read_text(path).split("\n")
    except UnreadableText as exc:
        raise InvalidRequest(f"{path}: cannot read the labelled set: {exc.reason}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text = row["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
            spans = tuple(_gold(s, text) for s in row.get("spans", ()))
            out = tuple(_gold(s, text, any_kind=True) for s in row.get("out_of_scope", ()))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequest(
                f"{path}:{number}: {exc}; each line must be "
                '{"text": "...", "spans": [{"kind": "email", "start": 0, "end": 5}]}'
            ) from None
        examples.append(Example(text, spans, out))
    if not examples:
        raise InvalidRequest(f"{path}: the labelled set is empty")
    return examples


def _gold(span: Any, text: str, *, any_kind: bool = False) -> Gold:
    if not isinstance(span, dict):
        raise TypeError("a span must be an object")
    kind, start, end = span["kind"], span["start"], span["end"]
    if not any_kind and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (kinds: {', '.join(KINDS)})")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise ValueError(f"span {start}..{end} is not inside the text")
    return Gold(str(kind), start, end)


def score(examples: Sequence[Example], *, match: str = "overlap", kinds: Iterable[str] = KINDS) -> Report:
    """Run the detector over ``examples`` and tally it against their spans."""
    kinds = tuple(kinds)
    report = Report(match, {k: Tally() for k in kinds})
    started = time.perf_counter()
    found_all = [detect(e.text, kinds) for e in examples]
    report.seconds = time.perf_counter() - started
    report.sentences = len(examples)
    for example, found in zip(examples, found_all, strict=True):
        gold = [g for g in example.spans if g.kind in kinds]
        used: set[int] = set()
        for f in found:
            hit = next(
                (
                    i
                    for i, g in enumerate(gold)
                    if i not in used and g.kind == f.kind and _matches(f, g, match)
                ),
                None,
            )
            if hit is not None:
                used.add(hit)
                report.by_kind[f.kind].tp += 1
            elif any(_overlaps(f, o) for o in example.out_of_scope):
                continue
            else:
                report.by_kind[f.kind].fp += 1
                report.false_positives.append((f.kind, f.text))
        for i, g in enumerate(gold):
            if i not in used:
                report.by_kind[g.kind].fn += 1
                report.missed.append((g.kind, example.text[g.start : g.end]))
        report.out_of_scope.update(o.kind for o in example.out_of_scope)
    return report


def _overlaps(f: Finding, g: Gold) -> bool:
    return f.start < g.end and g.start < f.end


def _matches(f: Finding, g: Gold, match: str) -> bool:
    return (f.start, f.end) == (g.start, g.end) if match == "exact" else _overlaps(f, g)


@dataclass(slots=True)
class Flagged:
    """What the detector found in prompts assumed to hold no personal data (public question sets)."""

    prompts: int = 0
    flagged_prompts: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    samples: list[tuple[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts,
            "flagged_prompts": self.flagged_prompts,
            "flagged_per_1000": round(1000 * self.flagged_prompts / max(1, self.prompts), 2),
            "by_kind": dict(sorted(self.by_kind.items())),
        }


def scan_negatives(paths: Iterable[Path], *, kinds: Iterable[str] = KINDS) -> Flagged:
    """Run the detector over the ``query`` (or ``text``) of every line of ``paths``."""
    kinds = tuple(kinds)
    out = Flagged()
    for path in paths:
        try:
            lines = read_text(path).split("\n")
        except UnreadableText as exc:
            raise InvalidRequest(f"{path}: cannot read: {exc.reason}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text = row.get("query", row.get("text")) if isinstance(row, dict) else None
            except ValueError as exc:
                raise InvalidRequest(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(text, str):
                raise InvalidRequest(f'{path}:{number}: no "query" or "text" string')
            out.prompts += 1
            found = detect(text, kinds)
            if found:
                out.flagged_prompts += 1
                out.by_kind.update(f.kind for f in found)
                out.samples.extend((f.kind, f.text) for f in found)
    return out
