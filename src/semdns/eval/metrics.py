"""Hierarchy-aware routing metrics over scored queries, each rate with a bootstrap interval.

For a query labelled ``python.code.`` a router's first answer is

* **exact** when it is ``python.code.`` or a name the label lists as ``acceptable``;
* an **abstention** when it is a strict ancestor (``code.`` or ``.``) and not acceptable: a more
  general model still serves the query, so this is a cost, not a failure;
* **wrong** (a wrong specialist) otherwise: ``devops.code.`` or ``legal.`` would answer as an expert of
  another field.

So exact + abstain + wrong = 1, and **safe** = exact + abstain (nothing went to a wrong specialist).
**primary** asks only whether the level-1 domain is right (the root is its own primary). Per-name
precision and recall, sibling confusion per parent, calibration and latency per deciding stage say
*where* a router errs, which the headline rates cannot.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from semdns.eval.bootstrap import RESAMPLES, mean_ci
from semdns.eval.calibration import Calibration, calibrate
from semdns.eval.dataset import EvalItem
from semdns.eval.routers import RoutedQuery
from semdns.eval.routing import level_prefix
from semdns.names import Name

RATES = ("exact", "primary", "safe", "wrong", "abstain")


@dataclass(frozen=True, slots=True)
class Scored:
    """One query's outcome."""

    item: EvalItem
    routed: RoutedQuery
    exact: bool
    primary: bool
    safe: bool
    wrong: bool
    abstain: bool

    @property
    def got(self) -> Name:
        return self.routed.name

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.item.query,
            "expected": str(self.item.expected),
            "got": [str(n) for n in self.routed.names],
            "confidence": round(self.routed.confidence, 4),
            "stage": self.routed.stage,
            "elapsed_us": round(self.routed.elapsed_us, 1),
            **{rate: getattr(self, rate) for rate in RATES},
        }


def score(item: EvalItem, routed: RoutedQuery) -> Scored:
    """Classify one answer (its first name) against the label."""
    got = routed.name
    exact = item.accepts(got)
    abstain = not exact and item.expected.is_under(got, strict=True)
    primary = level_prefix(got, 1) == level_prefix(item.expected, 1)
    return Scored(item, routed, exact, primary, exact or abstain, not (exact or abstain), abstain)


def _interval(
    values: Sequence[bool], seed: int, resamples: int, groups: Sequence[str | None] | None = None
) -> list[float]:
    lo, hi = mean_ci(np.asarray(values, dtype=np.float64), groups=groups, seed=seed, resamples=resamples)
    return [round(lo, 4), round(hi, 4)]


def groups_of(scored: Sequence[Scored]) -> list[str | None] | None:
    """The queries' group labels (:attr:`EvalItem.group`) for the intervals, or None when no query has
    one (the plain bootstrap)."""
    labels = [s.item.group for s in scored]
    return labels if any(label is not None for label in labels) else None


@dataclass(frozen=True, slots=True)
class NameStats:
    """Precision (of the answers that were this name, how many were right) and recall (of the queries
    labelled this name, how many got an exact answer)."""

    name: Name
    support: int
    predicted: int
    precision: float | None
    recall: float | None
    precision_ci95: list[float] | None
    recall_ci95: list[float] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "support": self.support,
            "predicted": self.predicted,
            "precision": _r(self.precision),
            "recall": _r(self.recall),
            "precision_ci95": self.precision_ci95,
            "recall_ci95": self.recall_ci95,
        }


def per_name(scored: Sequence[Scored], *, seed: int = 0, resamples: int = RESAMPLES) -> list[NameStats]:
    """Precision and recall of every name that was expected or answered, in name order."""
    as_got: dict[Name, list[bool]] = defaultdict(list)
    as_expected: dict[Name, list[bool]] = defaultdict(list)
    got_groups: dict[Name, list[str | None]] = defaultdict(list)  # all None: the plain bootstrap
    expected_groups: dict[Name, list[str | None]] = defaultdict(list)
    for s in scored:
        as_got[s.got].append(s.exact)
        as_expected[s.item.expected].append(s.exact)
        got_groups[s.got].append(s.item.group)
        expected_groups[s.item.expected].append(s.item.group)
    out: list[NameStats] = []
    for name in sorted(set(as_got) | set(as_expected), key=_tree_order):
        got, exp = as_got.get(name, []), as_expected.get(name, [])
        out.append(
            NameStats(
                name,
                support=len(exp),
                predicted=len(got),
                precision=float(np.mean(got)) if got else None,
                recall=float(np.mean(exp)) if exp else None,
                precision_ci95=_interval(got, seed, resamples, got_groups[name]) if got else None,
                recall_ci95=_interval(exp, seed, resamples, expected_groups[name]) if exp else None,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class SiblingConfusion:
    """Under one parent: of the queries labelled one of its children, how many went to (a name under)
    another child, and which pairs were mixed up."""

    parent: Name
    n: int
    confused: int
    ci95: list[float]
    pairs: dict[str, int]

    @property
    def rate(self) -> float:
        return self.confused / self.n if self.n else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "confused": self.confused,
            "rate": round(self.rate, 4),
            "ci95": self.ci95,
            "pairs": self.pairs,
        }


def sibling_of(expected: Name, got: Name) -> Name | None:
    """The sibling of ``expected`` that ``got`` is (or lies under), or ``None``."""
    parent = expected.parent
    if parent is None or got.depth < expected.depth or not got.is_under(parent):
        return None
    branch = level_prefix(got, expected.depth)
    return branch if branch != expected else None


def sibling_confusion(
    scored: Sequence[Scored], *, seed: int = 0, resamples: int = RESAMPLES
) -> list[SiblingConfusion]:
    """Sibling confusion per parent (only parents whose children were expected), in name order."""
    flags: dict[Name, list[bool]] = defaultdict(list)
    flag_groups: dict[Name, list[str | None]] = defaultdict(list)  # all None: the plain bootstrap
    pairs: dict[Name, Counter[str]] = defaultdict(Counter)
    for s in scored:
        parent = s.item.expected.parent
        if parent is None:
            continue
        sibling = None if s.exact else sibling_of(s.item.expected, s.got)
        flags[parent].append(sibling is not None)
        flag_groups[parent].append(s.item.group)
        if sibling is not None:
            pairs[parent][f"{s.item.expected} -> {sibling}"] += 1
    return [
        SiblingConfusion(
            parent,
            len(f),
            sum(f),
            _interval(f, seed, resamples, flag_groups[parent]),
            dict(pairs[parent].most_common()),
        )
        for parent, f in sorted(flags.items(), key=lambda kv: _tree_order(kv[0]))
    ]


@dataclass(frozen=True, slots=True)
class StageLatency:
    """The decisions one stage decided (their costliest stage): how many, how fast, how accurate.

    What a decision costs depends on its stage, and so may its accuracy: with the lexical pass first,
    this is where "what each pass settles and how well" is read."""

    stage: str
    count: int
    p50_us: float
    p99_us: float
    share: float = 0.0
    exact: float = 0.0
    wrong: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "share": round(self.share, 4),
            "exact": round(self.exact, 4),
            "wrong": round(self.wrong, 4),
            "p50_us": round(self.p50_us, 1),
            "p99_us": round(self.p99_us, 1),
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0–100), the definition bench/ uses; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def latency_by_stage(scored: Sequence[Scored]) -> list[StageLatency]:
    """Share, exact and wrong rates and p50/p99 latency per deciding stage, plus ``all``."""
    by_stage: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        by_stage[s.routed.stage].append(s)
    by_stage["all"] = list(scored)
    out = []
    for stage, group in by_stage.items():
        if not group:
            continue
        latencies = [s.routed.elapsed_us for s in group]
        out.append(
            StageLatency(
                stage,
                len(group),
                percentile(latencies, 50),
                percentile(latencies, 99),
                share=len(group) / len(scored),
                exact=sum(s.exact for s in group) / len(group),
                wrong=sum(s.wrong for s in group) / len(group),
            )
        )
    return out


@dataclass(frozen=True)
class Evaluation:
    """Everything ``semdns eval routing`` reports for one router over one labelled set."""

    scored: tuple[Scored, ...]
    rates: dict[str, float]
    ci95: dict[str, list[float]]
    names: list[NameStats]
    siblings: list[SiblingConfusion]
    calibration: Calibration
    latency: list[StageLatency]

    @property
    def n(self) -> int:
        return len(self.scored)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            **{k: round(v, 4) for k, v in self.rates.items()},
            "ci95": self.ci95,
            "per_name": {str(s.name): s.to_json() for s in self.names},
            "sibling_confusion": {str(s.parent): s.to_json() for s in self.siblings},
            "calibration": self.calibration.to_json(),
            "ece": round(self.calibration.ece, 4),
            "latency_by_stage": {s.stage: s.to_json() for s in self.latency},
        }


def rate_vectors(scored: Sequence[Scored]) -> dict[str, np.ndarray[Any, np.dtype[np.float64]]]:
    """Per-query 0/1 vectors of every rate, in query order (what paired comparisons resample)."""
    return {rate: np.array([getattr(s, rate) for s in scored], dtype=np.float64) for rate in RATES}


def evaluate(scored: Sequence[Scored], *, seed: int = 0, resamples: int = RESAMPLES) -> Evaluation:
    """Compute every metric of ``scored``; intervals are seeded with ``seed`` and resample the queries'
    groups whole when they have any (:attr:`EvalItem.group`)."""
    vectors = rate_vectors(scored)
    groups = groups_of(scored)
    rates = {k: float(v.mean()) if v.size else 0.0 for k, v in vectors.items()}
    ci = {k: _interval(list(v.astype(bool)), seed, resamples, groups) for k, v in vectors.items()}
    calibration = calibrate(
        [s.routed.confidence for s in scored],
        vectors["exact"],
        groups=groups,
        seed=seed,
        resamples=resamples,
    )
    ci["ece"] = [round(v, 4) for v in calibration.ece_ci95]
    return Evaluation(
        tuple(scored),
        rates,
        ci,
        per_name(scored, seed=seed, resamples=resamples),
        sibling_confusion(scored, seed=seed, resamples=resamples),
        calibration,
        latency_by_stage(scored),
    )


def _tree_order(name: Name) -> tuple[str, ...]:
    """Sort key that lists a parent before its children: ``.``, ``code.``, ``python.code.``, …"""
    return tuple(reversed(name.labels))


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
