"""Metrics on hand-made decisions whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from semdns.eval.bootstrap import mean_ci, paired_difference_ci
from semdns.eval.calibration import calibrate, expected_calibration_error
from semdns.eval.dataset import EvalItem
from semdns.eval.metrics import Scored, evaluate, latency_by_stage, score, sibling_of
from semdns.eval.routers import RoutedQuery
from semdns.names import Name


def item(expected: str, *acceptable: str, query: str = "q") -> EvalItem:
    return EvalItem(query, Name.parse(expected), tuple(Name.parse(a) for a in acceptable), "test", 1)


def answer(got: str, confidence: float = 0.9, stage: str = "keyword", us: float = 100.0) -> RoutedQuery:
    return RoutedQuery((Name.parse(got),), confidence, stage, us)


def flags(s: Scored) -> tuple[bool, bool, bool, bool, bool]:
    return (s.exact, s.primary, s.safe, s.wrong, s.abstain)


@pytest.mark.parametrize(
    ("expected", "acceptable", "got", "want"),
    [
        # exact, primary, safe, wrong, abstain
        ("python.code.", (), "python.code.", (True, True, True, False, False)),
        ("python.code.", (), "code.", (False, True, True, False, True)),  # abstained one level up
        ("python.code.", (), ".", (False, False, True, False, True)),  # abstained to the root
        ("python.code.", ("code.",), "code.", (True, True, True, False, False)),  # the judge accepts it
        ("python.code.", (), "devops.code.", (False, True, False, True, False)),  # sibling specialist
        ("python.code.", (), "legal.", (False, False, False, True, False)),  # another domain
        ("code.", (), "python.code.", (False, True, False, True, False)),  # too specific is wrong
        (".", (), ".", (True, True, True, False, False)),  # the root is its own primary
        (".", (), "code.", (False, False, False, True, False)),
    ],
)
def test_score_classifies_each_kind_of_answer(
    expected: str, acceptable: tuple[str, ...], got: str, want: tuple[bool, ...]
) -> None:
    assert flags(score(item(expected, *acceptable), answer(got))) == want


@pytest.mark.parametrize(
    ("got", "want"),
    [
        ("biology.science.", (True, True, True, False, False)),  # any name under a subject label is right
        ("science.", (True, True, True, False, False)),
        (".", (False, False, True, False, True)),  # only an ancestor abstains
        ("medical.", (False, False, False, True, False)),
    ],
)
def test_a_subtree_label_accepts_its_whole_subtree(got: str, want: tuple[bool, ...]) -> None:
    subject = EvalItem("q", Name.parse("science."), (), "test", 1, subtree=True)
    assert flags(score(subject, answer(got))) == want


def test_rates_partition_and_per_name_figures() -> None:
    scored = [
        score(item("python.code."), answer("python.code.")),
        score(item("python.code."), answer("code.")),
        score(item("python.code."), answer("devops.code.")),
        score(item("devops.code."), answer("devops.code.")),
    ]
    ev = evaluate(scored, seed=1)
    assert ev.n == 4
    assert ev.rates == {"exact": 0.5, "primary": 1.0, "safe": 0.75, "wrong": 0.25, "abstain": 0.25}
    assert ev.rates["exact"] + ev.rates["abstain"] + ev.rates["wrong"] == 1.0
    by_name = {str(s.name): s for s in ev.names}
    # devops.code. was answered twice, right once; python.code. was expected three times, right once.
    assert by_name["devops.code."].precision == 0.5 and by_name["devops.code."].recall == 1.0
    assert by_name["python.code."].precision == 1.0
    assert by_name["python.code."].recall == pytest.approx(1 / 3)
    assert by_name["code."].support == 0 and by_name["code."].recall is None
    assert set(ev.ci95) >= {"exact", "primary", "safe", "wrong", "abstain", "ece"}
    for rate, (lo, hi) in ev.ci95.items():
        if rate != "ece":
            assert lo <= ev.rates[rate] <= hi


def test_sibling_confusion_per_parent() -> None:
    assert sibling_of(Name.parse("python.code."), Name.parse("devops.code.")) == Name.parse("devops.code.")
    assert sibling_of(Name.parse("code."), Name.parse("python.legal.")) == Name.parse("legal.")
    assert sibling_of(Name.parse("python.code."), Name.parse("code.")) is None  # an abstention
    assert sibling_of(Name.parse("python.code."), Name.parse("legal.")) is None  # another branch
    scored = [
        score(item("python.code."), answer("devops.code.")),
        score(item("python.code."), answer("python.code.")),
        score(item("devops.code."), answer("python.code.")),
        score(item("legal."), answer("python.code.")),
        score(item("code."), answer("code.")),
    ]
    siblings = {str(s.parent): s for s in evaluate(scored).siblings}
    assert siblings["code."].n == 3 and siblings["code."].confused == 2
    assert siblings["code."].pairs == {"python.code. -> devops.code.": 1, "devops.code. -> python.code.": 1}
    assert siblings["."].n == 2 and siblings["."].confused == 1
    assert siblings["."].pairs == {"legal. -> code.": 1}


def test_ece_on_known_bins() -> None:
    # bin [0.9, 1.0]: confidence 0.95, accuracy 0.5; bin [0.1, 0.2): confidence 0.15, accuracy 0.
    assert expected_calibration_error([0.95, 0.95, 0.15, 0.15], [1, 0, 0, 0]) == pytest.approx(0.3)
    assert expected_calibration_error([1.0, 1.0], [1, 1]) == 0.0  # 1.0 falls in the last bin
    assert expected_calibration_error([0.05, 0.05], [0, 0]) == pytest.approx(0.05)
    cal = calibrate([0.95, 0.95, 0.15, 0.15], [1, 0, 0, 0])
    assert len(cal.bins) == 10 and sum(b.count for b in cal.bins) == 4
    assert cal.bins[9].accuracy == 0.5 and cal.bins[9].mean_confidence == pytest.approx(0.95)
    assert cal.bins[0].count == 0 and cal.bins[0].accuracy is None


def test_bootstrap_contains_estimate_narrows_with_n_and_is_seeded() -> None:
    small = np.array([1.0] * 7 + [0.0] * 3)
    large = np.tile(small, 100)
    lo_s, hi_s = mean_ci(small, seed=3)
    lo_l, hi_l = mean_ci(large, seed=3)
    assert lo_s <= 0.7 <= hi_s and lo_l <= 0.7 <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3
    assert mean_ci(small, seed=3) == (lo_s, hi_s)
    assert mean_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)


def test_paired_difference() -> None:
    rng = np.random.default_rng(0)
    base = (rng.random(400) < 0.6).astype(float)
    better = base.copy()
    better[np.flatnonzero(base == 0)[:40]] = 1.0  # 40 of 400 queries fixed, none broken
    diff, lo, hi = paired_difference_ci(better, base)
    assert diff == pytest.approx(0.1) and 0 < lo <= diff <= hi
    assert paired_difference_ci(base, base) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        paired_difference_ci([1.0], [1.0, 0.0])


def test_latency_by_stage() -> None:
    scored = [score(item("."), answer(".", stage="keyword", us=float(us))) for us in range(1, 101)]
    scored += [score(item("."), answer(".", stage="embedding", us=5000.0))]
    by_stage = {s.stage: s for s in latency_by_stage(scored)}
    assert by_stage["keyword"].count == 100 and by_stage["keyword"].p50_us in (50.0, 51.0)
    assert by_stage["keyword"].p99_us == 99.0
    assert by_stage["embedding"].p50_us == 5000.0
    assert by_stage["all"].count == 101


def test_each_deciding_stage_has_its_share_and_accuracy() -> None:
    scored = [score(item("code."), answer("code.", stage="lexical")) for _ in range(3)]
    scored += [score(item("code."), answer("math.", stage="lexical"))]
    scored += [score(item("code."), answer("code.", stage="classifier")) for _ in range(4)]
    by_stage = {s.stage: s for s in latency_by_stage(scored)}
    assert by_stage["lexical"].share == 0.5 and by_stage["classifier"].share == 0.5
    assert by_stage["lexical"].exact == 0.75 and by_stage["lexical"].wrong == 0.25
    assert by_stage["classifier"].exact == 1.0 and by_stage["classifier"].wrong == 0.0
    assert by_stage["all"].exact == 7 / 8
    assert by_stage["lexical"].to_json()["share"] == 0.5
