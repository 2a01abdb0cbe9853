"""Bootstrap confidence intervals: one rate, a statistic of the whole sample, and paired differences.

Routing outcomes are 0/1 per query and labelled sets are small per name, so normal-approximation
intervals (±1.96 SE) are wrong exactly where they matter (rates near 0 or 1, a dozen queries). The
percentile bootstrap (the paper's §8.3 choice for non-normal figures) needs no assumption: resample the
queries with replacement, recompute, take the 2.5th and 97.5th percentiles. Everything is seeded, so a
report is reproducible to the digit.

Queries are not always independent: several turns of one conversation share its topic and its writer,
and resampling them one by one treats them as separate evidence, so the interval comes out too narrow.
Every function here takes ``groups`` (one label a query, ``None`` for a query alone): queries of one
group are then resampled together (the cluster bootstrap: draw groups with replacement, keep each drawn
group whole). Without groups, or when every group holds one query, the draw is the plain one, to the
digit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np
import numpy.typing as npt

RESAMPLES = 1_000
LEVEL = 0.95

Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]
Groups = Sequence[Hashable | None] | None
"""One group label a query (queries of one group are resampled together), ``None`` for a query alone;
or ``None`` for no grouping at all."""


def cluster_ids(groups: Groups, n: int) -> Indices | None:
    """Each query's group as 0..G-1 (first appearance order; a ``None`` label is a group of its own), or
    None when there is nothing to cluster (no labels, or every group of one query)."""
    if groups is None:
        return None
    if len(groups) != n:
        raise ValueError(f"one group label a query is needed ({len(groups)} labels for {n} queries)")
    numbers: dict[Hashable, int] = {}
    ids = np.empty(n, dtype=np.intp)
    for position, label in enumerate(groups):
        key: Hashable = ("alone", position) if label is None else ("group", label)
        ids[position] = numbers.setdefault(key, len(numbers))
    return None if len(numbers) == n else ids


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


def mean_ci(
    values: npt.ArrayLike, *, groups: Groups = None, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """95% interval of the mean of ``values`` (a rate, for 0/1 values). ``(nan, nan)`` when empty.

    With ``groups``, whole groups are drawn: each resample's mean is its drawn groups' sum over their
    size (a ratio estimator, so groups of unequal size weigh by their queries, as the plain mean does)."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return (float("nan"), float("nan"))
    ids = cluster_ids(groups, data.size)
    if ids is None:
        idx = resample_indices(data.size, resamples=resamples, seed=seed)
        means: Floats = data[idx].mean(axis=1)
        return _interval(means)
    count = int(ids.max()) + 1
    sums = np.bincount(ids, weights=data, minlength=count)
    sizes = np.bincount(ids, minlength=count).astype(np.float64)
    drawn = resample_indices(count, resamples=resamples, seed=seed)
    grouped: Floats = sums[drawn].sum(axis=1) / sizes[drawn].sum(axis=1)
    return _interval(grouped)


def statistic_ci(
    n: int,
    statistic: Callable[[Indices], float],
    *,
    groups: Groups = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """95% interval of any statistic of the sample (ECE, say): ``statistic`` gets one resample's query
    indices and returns its value. With ``groups``, a resample is the queries of its drawn groups (so
    its length varies)."""
    if n == 0:
        return (float("nan"), float("nan"))
    ids = cluster_ids(groups, n)
    if ids is None:
        idx = resample_indices(n, resamples=resamples, seed=seed)
        samples = np.array([statistic(row) for row in idx], dtype=np.float64)
        return _interval(samples)
    members = [np.flatnonzero(ids == group) for group in range(int(ids.max()) + 1)]
    drawn = resample_indices(len(members), resamples=resamples, seed=seed)
    samples = np.array(
        [statistic(np.concatenate([members[g] for g in row])) for row in drawn], dtype=np.float64
    )
    return _interval(samples)


def paired_difference_ci(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    groups: Groups = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of ``a - b`` over the same queries and its 95% interval: ``(difference, lo, hi)``.

    Both variants answered the same queries, so the queries are resampled once and both rates are
    taken over the same draw: the per-query difficulty cancels and the interval is far narrower than
    two independent intervals would suggest. ``groups`` as for :func:`mean_ci`."""
    left = np.asarray(a, dtype=np.float64)
    right = np.asarray(b, dtype=np.float64)
    if left.shape != right.shape:
        raise ValueError(f"paired samples must have the same length ({left.size} != {right.size})")
    diff = left - right
    if diff.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    lo, hi = mean_ci(diff, groups=groups, resamples=resamples, seed=seed)
    return float(diff.mean()), lo, hi
