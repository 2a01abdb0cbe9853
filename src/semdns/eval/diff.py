"""What a policy change does to routing, query by query, before it ships.

A threshold is a trade: a lower ``shallow_threshold`` settles more prompts without the full model, and
some of them change answers. Rates alone hide which ones. ``semdns eval diff`` runs the same labelled
queries through the namespace as it is and as it would be (the policy fields given with ``--set``,
or the transformer-free passes switched off) and lists every query whose answer changes, grouped by
the pair of names, each change marked *fixed* (the new answer is right and the old was not),
*broken* (the reverse), *still right* (both are acceptable answers) or *still wrong*. Run against the
full path on the BoolQ tuning set, it shows the shallow pass sending questions about films to the
creative zones (docs/routing.md, "BoolQ"). It reads only what it is given, so it is as fit for a
tuning set as for real prompts with an operator's labels.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from semdns.eval.bootstrap import paired_difference_ci
from semdns.eval.metrics import Scored, groups_of
from semdns.names import Name
from semdns.textfiles import read_text

Verdict = Literal["fixed", "broken", "still right", "still wrong", "changed"]
"""How a changed answer compares with the label: *fixed* (now right, was not), *broken* (was right, is
not), *still right* (both answers acceptable), *still wrong* (neither); *changed* when the queries
carry no label (``--prompts``), so only the change itself is known."""
VERDICTS: tuple[Verdict, ...] = ("fixed", "broken", "still right", "still wrong")
"""The verdicts of a labelled comparison, in the order they are reported."""


@dataclass(frozen=True, slots=True)
class Change:
    """One query whose answer differs between the two settings."""

    query: str
    expected: Name
    before: Name
    after: Name
    before_stage: str
    after_stage: str
    verdict: Verdict

    def to_json(self) -> dict[str, Any]:
        labelled = {"expected": str(self.expected)} if self.verdict != "changed" else {}
        return {
            "query": self.query,
            **labelled,
            "before": str(self.before),
            "after": str(self.after),
            "before_stage": self.before_stage,
            "after_stage": self.after_stage,
            "verdict": self.verdict,
        }


@dataclass(frozen=True, slots=True)
class PairSummary:
    """The changes from one name to another: how many, how many fixed and broken, a few examples."""

    before: Name
    after: Name
    count: int
    fixed: int
    broken: int
    examples: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "before": str(self.before),
            "after": str(self.after),
            "count": self.count,
            "fixed": self.fixed,
            "broken": self.broken,
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class PolicyDiff:
    """Two settings on the same queries: every change, also grouped by pair of names (largest group
    first) and, for labelled queries, the exact rates and their paired difference with its 95% interval."""

    n: int
    labelled: bool
    exact_before: float
    exact_after: float
    difference: tuple[float, float, float]  # after - before, and its interval
    changes: tuple[Change, ...]
    pairs: tuple[PairSummary, ...]

    def count(self, verdict: Verdict) -> int:
        return sum(1 for change in self.changes if change.verdict == verdict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.n, "labelled": self.labelled, "changed": len(self.changes)}
        if self.labelled:
            diff, lo, hi = self.difference
            out |= {
                "exact_before": round(self.exact_before, 4),
                "exact_after": round(self.exact_after, 4),
                "exact_difference": round(diff, 4),
                "exact_difference_ci95": [round(lo, 4), round(hi, 4)],
                **{verdict.replace(" ", "_"): self.count(verdict) for verdict in VERDICTS},
            }
        pairs = [pair.to_json() for pair in self.pairs]
        if not self.labelled:
            pairs = [{k: v for k, v in pair.items() if k not in ("fixed", "broken")} for pair in pairs]
        return out | {"pairs": pairs, "changes": [change.to_json() for change in self.changes]}


def compare(
    before: Sequence[Scored],
    after: Sequence[Scored],
    *,
    examples: int = 3,
    seed: int = 0,
    labelled: bool = True,
) -> PolicyDiff:
    """The changes between two runs of the same queries in the same order (``ValueError`` otherwise).
    ``labelled=False``: the queries' labels are placeholders, so every change is just ``changed``."""
    if len(before) != len(after):
        raise ValueError(f"the runs differ in length: {len(before)} and {len(after)} queries")
    changes: list[Change] = []
    for old, new in zip(before, after, strict=True):
        if old.item.query != new.item.query:
            raise ValueError(f"the runs are not of the same queries: {old.item.query!r} / {new.item.query!r}")
        if old.got == new.got:
            continue
        stages = (old.routed.stage, new.routed.stage)
        verdict = _verdict(old, new) if labelled else "changed"
        changes.append(Change(old.item.query, old.item.expected, old.got, new.got, *stages, verdict))
    groups: dict[tuple[Name, Name], list[Change]] = defaultdict(list)
    for change in changes:
        groups[(change.before, change.after)].append(change)
    pairs = [
        PairSummary(
            pair[0],
            pair[1],
            len(group),
            sum(1 for c in group if c.verdict == "fixed"),
            sum(1 for c in group if c.verdict == "broken"),
            tuple(c.query for c in group[:examples]),
        )
        for pair, group in groups.items()
    ]
    pairs.sort(key=lambda p: (-p.count, str(p.before), str(p.after)))
    exact_after = [float(s.exact) for s in after]
    exact_before = [float(s.exact) for s in before]
    n = len(before)
    difference = (
        paired_difference_ci(exact_after, exact_before, groups=groups_of(before), seed=seed)
        if n
        else (0.0, 0.0, 0.0)
    )
    return PolicyDiff(
        n,
        labelled,
        sum(exact_before) / n if n else 0.0,
        sum(exact_after) / n if n else 0.0,
        difference,
        tuple(changes),
        tuple(pairs),
    )


def _verdict(old: Scored, new: Scored) -> Verdict:
    if old.exact == new.exact:
        return "still right" if new.exact else "still wrong"
    return "fixed" if new.exact else "broken"


def read_prompts(paths: Sequence[Path]) -> list[tuple[str, Path, int]]:
    """Unlabelled prompts, one a line (blank lines skipped): each with its file and line. ``ValueError``
    names a file that cannot be read or is not UTF-8, and says so when no prompt is found."""
    prompts: list[tuple[str, Path, int]] = []
    for path in paths:
        text = read_text(path)  # UnreadableText is a ValueError naming the file and the reason
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                prompts.append((line.strip(), path, number))
    if not prompts:
        raise ValueError(f"no prompt in {', '.join(map(str, paths))}: one prompt a line is expected")
    return prompts


def parse_settings(pairs: Sequence[str]) -> dict[str, object]:
    """``KEY=VALUE`` policy settings (the value read as a YAML scalar: ``0.9``, ``true``, ``[lexical,
    shallow]``); ``ValueError`` naming the one that is not of that form or repeats a key."""
    settings: dict[str, object] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set {pair!r}: expected KEY=VALUE, for example shallow_threshold=0.9")
        if key in settings:
            raise ValueError(f"--set {key} is given twice")
        try:
            settings[key] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ValueError(f"--set {pair!r}: the value is not a YAML scalar or list ({exc})") from None
    return settings


def describe(settings: Mapping[str, object], full_path: bool) -> str:
    """The changed setting in words, for the output's header."""
    parts = [f"{key}={value!r}" for key, value in settings.items()]
    if full_path:
        parts.append("no lexical or shallow stage")
    return ", ".join(parts)
