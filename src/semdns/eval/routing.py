"""Routing accuracy on labelled queries, hierarchy-aware.

A hierarchical router can be right in three ways and wrong in one. For a query labelled
``contracts.legal.``: answering ``contracts.legal.`` is *exact*; answering ``legal.`` or ``.`` is *safe*
(a more general model still serves it: an abstention, not a failure); answering ``ip.legal.`` or
``medical.`` is *wrong* (a specialist of another field would answer). Accuracy is also reported per
level: level 1 asks only whether the primary domain (or the root) is right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from semdns.names import Name


@dataclass(frozen=True, slots=True)
class LabelledQuery:
    """A query and the name(s) a human judge would route it to."""

    text: str
    expected: tuple[Name, ...]
    source: str


def load_labelled(paths: Iterable[str | Path]) -> list[LabelledQuery]:
    """Read labelled query files: YAML lists of ``{q: ..., name: ...}`` or ``{q: ..., names: [...]}``."""
    items: list[LabelledQuery] = []
    for path in paths:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a YAML list of {{q, name}} items")
        for index, row in enumerate(data):
            if not isinstance(row, dict) or "q" not in row or not ({"name", "names"} & row.keys()):
                raise ValueError(f"{path}: item {index + 1} needs 'q' and 'name' (or 'names')")
            raw = row.get("names") or [row["name"]]
            items.append(LabelledQuery(str(row["q"]), tuple(Name.parse(str(n)) for n in raw), str(path)))
    return items


def level_prefix(name: Name, level: int) -> Name:
    """The ancestor of ``name`` at ``level`` (0 = root), or ``name`` itself when it is shallower."""
    if name.depth <= level:
        return name
    return Name(name.labels[name.depth - level :])


@dataclass
class RoutingReport:
    """Counts over a labelled set; :meth:`to_json` gives the figures the README quotes."""

    total: int = 0
    exact: int = 0
    safe: int = 0
    wrong: int = 0
    level1_correct: int = 0
    per_expected: Counter[str] | None = None
    per_expected_exact: Counter[str] | None = None

    def to_json(self) -> dict[str, Any]:
        n = max(self.total, 1)
        return {
            "queries": self.total,
            "exact": round(self.exact / n, 4),
            "safe_or_exact": round((self.exact + self.safe) / n, 4),
            "wrong": round(self.wrong / n, 4),
            "level1": round(self.level1_correct / n, 4),
        }


def score_single(items: Sequence[LabelledQuery], route: Callable[[str], Sequence[Name]]) -> RoutingReport:
    """Score single-label items with ``route`` (query → answer names, best first; the first is used)."""
    report = RoutingReport(per_expected=Counter(), per_expected_exact=Counter())
    assert report.per_expected is not None and report.per_expected_exact is not None
    for item in items:
        expected = item.expected[0]
        got = route(item.text)[0]
        report.total += 1
        report.per_expected[str(expected)] += 1
        if got == expected:
            report.exact += 1
            report.per_expected_exact[str(expected)] += 1
        elif expected.is_under(got):
            report.safe += 1
        else:
            report.wrong += 1
        if level_prefix(got, 1) == level_prefix(expected, 1):
            report.level1_correct += 1
    return report


def score_multi(items: Sequence[LabelledQuery], route: Callable[[str], Sequence[Name]]) -> dict[str, Any]:
    """For cross-domain items: how many answers cover each expected domain, and how many found two+."""
    covered = 0
    expected_total = 0
    multi_found = 0
    for item in items:
        got = route(item.text)
        domains = {level_prefix(n, 1) for n in got}
        hits = sum(1 for e in item.expected if level_prefix(e, 1) in domains)
        covered += hits
        expected_total += len(item.expected)
        multi_found += len(got) > 1
    return {
        "queries": len(items),
        "domain_recall": round(covered / max(expected_total, 1), 4),
        "fanned_out": round(multi_found / max(len(items), 1), 4),
    }
