"""The keep-or-retrain rule for the judge after a change of encoder (corpora/pairs/README.md): the
operating points re-measured on their validation slice, and what a re-stamped artefact says."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from semdns.cache.judge import ENCODER_KEY, Judge, shipped_judge
from semdns.resolve.encoder import MiniLMEncoder

PAIRS = Path(__file__).parent.parent.parent / "corpora" / "pairs"


@pytest.fixture(scope="module")
def train_judge() -> ModuleType:
    sys.path.insert(0, str(PAIRS))
    try:
        import train_judge as module
    finally:
        sys.path.remove(str(PAIRS))
    return module


def test_one_near_miss_over_a_budget_fails_the_rule(train_judge: ModuleType) -> None:
    # 200 near misses: budget 0.01 allows 2, 0.05 allows 10
    y = np.array([False] * 200 + [True] * 50)
    p = np.concatenate([np.linspace(0.0, 0.4, 197), [0.6, 0.7, 0.95], np.full(50, 0.9)])
    points = [{"false_hit_budget": 0.01, "threshold": 0.5}, {"false_hit_budget": 0.05, "threshold": 0.39}]
    first, second = train_judge.recheck_points(p, y, points)
    assert (first["near_misses_passed"], first["near_misses_allowed"]) == (3, 2)
    assert not first["within_budget"] and first["validation_false_hit"] == 0.015
    assert first["validation_recall"] == 1.0
    assert (second["near_misses_passed"], second["near_misses_allowed"]) == (8, 10)
    assert second["within_budget"]
    p[197] = 0.45  # one fewer over the 0.5 threshold: exactly the budget is within it
    assert train_judge.recheck_points(p, y, points)[0]["within_budget"]


def test_a_restamped_judge_is_for_the_encoder_it_was_validated_on() -> None:
    shipped = shipped_judge()
    meta = {**shipped.metadata, ENCODER_KEY: "enc/new", "trained_on_encoder": "enc/old"}
    judge = Judge(shipped.trees, meta, shipped.featurizer)
    assert judge.trained_for("enc/new") and not judge.trained_for("enc/old")
    assert judge.encoder_model_id == "enc/new" and judge.trained_on_encoder == "enc/old"
    # The shipped judge is for the shipped encoder: trained on it, or validated on it by the rule
    assert shipped.encoder_model_id == MiniLMEncoder().model_id
    if shipped.trained_on_encoder != shipped.encoder_model_id:
        validated = shipped.metadata["validated_on_encoder"]
        assert validated["model_id"] == shipped.encoder_model_id and validated["rule"]
