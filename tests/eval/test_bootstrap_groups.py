"""The cluster bootstrap: queries of one group (a conversation's turns) are resampled together.

Each test has a case whose answer is known exactly: a sample in which every query appears three times
in its own group carries the evidence of the distinct queries alone, so its clustered interval must be
the plain interval of the distinct queries (the same seed draws the same rows), and wider than the
plain interval of the copies, which counts every copy as new evidence."""

from __future__ import annotations

import numpy as np
import pytest

from semdns.eval.bootstrap import cluster_ids, mean_ci, paired_difference_ci, statistic_ci
from semdns.eval.dataset import EvalItem
from semdns.eval.metrics import Scored, evaluate, groups_of, score
from semdns.eval.routers import RoutedQuery
from semdns.names import Name

RNG = np.random.default_rng(7)
DISTINCT = (RNG.random(200) < 0.6).astype(np.float64)
COPIES = np.repeat(DISTINCT, 3)
COPY_GROUPS = [f"g{i}" for i in range(DISTINCT.size) for _ in range(3)]


def test_groups_of_copies_give_the_distinct_queries_interval() -> None:
    clustered = mean_ci(COPIES, groups=COPY_GROUPS, seed=5)
    assert clustered == pytest.approx(mean_ci(DISTINCT, seed=5), abs=1e-12)
    plain_lo, plain_hi = mean_ci(COPIES, seed=5)
    assert clustered[1] - clustered[0] > 1.4 * (plain_hi - plain_lo)  # about sqrt(3) wider


def test_no_groups_or_single_query_groups_are_the_plain_draw_to_the_digit() -> None:
    plain = mean_ci(COPIES, seed=2)
    assert mean_ci(COPIES, groups=None, seed=2) == plain
    assert mean_ci(COPIES, groups=[None] * COPIES.size, seed=2) == plain
    assert mean_ci(COPIES, groups=[f"q{i}" for i in range(COPIES.size)], seed=2) == plain
    assert cluster_ids([None, None, "a"], 3) is None


def test_none_labels_stay_alone_and_labels_number_in_order() -> None:
    ids = cluster_ids(["b", None, "b", "a", None], 5)
    assert ids is not None and ids.tolist() == [0, 1, 0, 2, 3]


def test_paired_difference_and_any_statistic_resample_groups_whole() -> None:
    other = np.repeat(np.roll(DISTINCT, 1), 3)
    diff, lo, hi = paired_difference_ci(COPIES, other, groups=COPY_GROUPS, seed=1)
    d_diff, d_lo, d_hi = paired_difference_ci(DISTINCT, np.roll(DISTINCT, 1), seed=1)
    assert (diff, lo, hi) == pytest.approx((d_diff, d_lo, d_hi), abs=1e-12)

    def mean_of(rows: np.ndarray) -> float:
        return float(COPIES[rows].mean())

    def distinct_mean(rows: np.ndarray) -> float:
        return float(DISTINCT[rows].mean())

    clustered = statistic_ci(COPIES.size, mean_of, groups=COPY_GROUPS, resamples=200, seed=4)
    assert clustered == pytest.approx(statistic_ci(DISTINCT.size, distinct_mean, resamples=200, seed=4))


def test_a_label_for_every_query_is_required() -> None:
    with pytest.raises(ValueError, match="one group label a query"):
        mean_ci([1.0, 0.0, 1.0], groups=["a", "b"])


def test_evaluate_widens_the_intervals_of_grouped_queries() -> None:
    def items(grouped: bool) -> list[EvalItem]:
        return [
            EvalItem(f"q{i}", Name.parse("."), (), "test", i, group=f"c{i // 3}" if grouped else None)
            for i in range(COPIES.size)
        ]

    def answers(batch: list[EvalItem]) -> list[Scored]:
        return [
            score(it, RoutedQuery((Name.parse("." if hit else "code."),), 0.8, "classifier", 1.0))
            for it, hit in zip(batch, COPIES, strict=True)
        ]

    plain, clustered = (answers(items(g)) for g in (False, True))
    assert groups_of(plain) is None and groups_of(clustered) is not None
    wide, narrow = evaluate(clustered).ci95["exact"], evaluate(plain).ci95["exact"]
    assert evaluate(clustered).rates == evaluate(plain).rates
    assert wide[1] - wide[0] > 1.4 * (narrow[1] - narrow[0])
