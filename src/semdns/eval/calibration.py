"""Calibration: does a decision's confidence mean what it says?

The gateway acts on ``RoutingDecision.confidence`` (fan out, fall back, ask a bigger model), so 0.9
should be right about 90% of the time. The expected calibration error (ECE) bins the decisions by
confidence (10 equal-width bins) and averages |accuracy - mean confidence| over the bins, weighted by
how many decisions fall in each; the per-bin figures are the reliability diagram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from semdns.eval.bootstrap import Groups, Indices, statistic_ci

BINS = 10


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """One confidence bin ``[lo, hi)`` (the last bin includes 1.0)."""

    lo: float
    hi: float
    count: int
    mean_confidence: float | None
    accuracy: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "count": self.count,
            "mean_confidence": _r(self.mean_confidence),
            "accuracy": _r(self.accuracy),
        }


@dataclass(frozen=True, slots=True)
class Calibration:
    """ECE with its bootstrap interval, and the reliability-diagram bins."""

    ece: float
    ece_ci95: tuple[float, float]
    bins: tuple[ReliabilityBin, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ece": round(self.ece, 4),
            "ece_ci95": [round(v, 4) for v in self.ece_ci95],
            "bins": [b.to_json() for b in self.bins],
        }


def _bin_of(confidence: npt.NDArray[np.float64], bins: int) -> npt.NDArray[np.intp]:
    clipped = np.clip(confidence, 0.0, 1.0)
    index: npt.NDArray[np.intp] = np.minimum((clipped * bins).astype(np.intp), bins - 1)
    return index


def expected_calibration_error(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, *, bins: int = BINS
) -> float:
    """ECE: sum over bins of (bin size / n) × |accuracy − mean confidence|; 0.0 for no decisions."""
    conf = np.asarray(confidence, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return 0.0
    index = _bin_of(conf, bins)
    conf_sum = np.bincount(index, weights=conf, minlength=bins)
    hit_sum = np.bincount(index, weights=hits, minlength=bins)
    return float(np.abs(hit_sum - conf_sum).sum() / conf.size)


def calibrate(
    confidence: npt.ArrayLike,
    correct: npt.ArrayLike,
    *,
    bins: int = BINS,
    groups: Groups = None,
    seed: int = 0,
    resamples: int = 1000,
) -> Calibration:
    """ECE, its 95% bootstrap interval (``groups`` resampled whole: :mod:`semdns.eval.bootstrap`) and
    the reliability bins of ``confidence`` vs ``correct``."""
    conf = np.asarray(confidence, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)
    index = _bin_of(conf, bins)
    out: list[ReliabilityBin] = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        out.append(
            ReliabilityBin(
                lo=round(b / bins, 4),
                hi=round((b + 1) / bins, 4),
                count=count,
                mean_confidence=float(conf[mask].mean()) if count else None,
                accuracy=float(hits[mask].mean()) if count else None,
            )
        )

    def resampled(rows: Indices) -> float:
        return expected_calibration_error(conf[rows], hits[rows], bins=bins)

    ci = statistic_ci(conf.size, resampled, groups=groups, resamples=resamples, seed=seed)
    return Calibration(expected_calibration_error(conf, hits, bins=bins), ci, tuple(out))


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
