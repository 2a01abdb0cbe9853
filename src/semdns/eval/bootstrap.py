"""Bootstrap confidence intervals: one rate, a statistic of the whole sample, and paired differences.

Routing outcomes are 0/1 per query and labelled sets are small per name, so normal-approximation
intervals (±1.96 SE) are wrong exactly where they matter (rates near 0 or 1, a dozen queries). The
percentile bootstrap (the paper's §8.3 choice for non-normal figures) needs no assumption: resample the
queries with replacement, recompute, take the 2.5th and 97.5th percentiles. Everything is seeded, so a
report is reproducible to the digit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

RESAMPLES = 1_000
LEVEL = 0.95

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]


def resample_indices(n: int, *, resamples: int = RESAMPLES, seed: int = 0) -> Indices:
    """``resamples`` rows of ``n`` query indices drawn with replacement (shape (resamples, n)).

    Sharing one draw between statistics of the same queries is what makes a comparison *paired*."""
    rng = np.random.default_rng(seed)
    drawn: Indices = rng.integers(0, n, size=(resamples, n)).astype(np.intp)
    return drawn


def _interval(samples: Floats) -> tuple[float, float]:
    tail = (1.0 - LEVEL) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)


def mean_ci(values: npt.ArrayLike, *, resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """95% interval of the mean of ``values`` (a rate, for 0/1 values). ``(nan, nan)`` when empty."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return (float("nan"), float("nan"))
    idx = resample_indices(data.size, resamples=resamples, seed=seed)
    means: Floats = data[idx].mean(axis=1)
    return _interval(means)


def statistic_ci(
    n: int, statistic: Callable[[Indices], float], *, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """95% interval of any statistic of the sample (ECE, say): ``statistic`` gets one resample's query
    indices and returns its value."""
    if n == 0:
        return (float("nan"), float("nan"))
    idx = resample_indices(n, resamples=resamples, seed=seed)
    samples = np.array([statistic(row) for row in idx], dtype=np.float64)
    return _interval(samples)


def paired_difference_ci(
    a: npt.ArrayLike, b: npt.ArrayLike, *, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``a - b`` over the same queries and its 95% interval: ``(difference, lo, hi)``.

    Both variants answered the same queries, so the queries are resampled once and both rates are
    taken over the same draw: the per-query difficulty cancels and the interval is far narrower than
    two independent intervals would suggest."""
    left = np.asarray(a, dtype=np.float64)
    right = np.asarray(b, dtype=np.float64)
    if left.shape != right.shape:
        raise ValueError(f"paired samples must have the same length ({left.size} != {right.size})")
    diff = left - right
    if diff.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    lo, hi = mean_ci(diff, resamples=resamples, seed=seed)
    return float(diff.mean()), lo, hi
