"""Model workers hand the interpreter lock back sooner: the switch interval they set, the environment
variable that changes it, and an application's own choice left alone."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from semdns.model_workers import (
    DEFAULT_SWITCH_INTERVAL_US,
    SWITCH_INTERVAL_ENV,
    apply_switch_interval,
    switch_interval_s,
)
from semdns.resolve.batcher import EmbeddingBatcher
from semdns.resolve.encoder import Vectors

CPYTHON_DEFAULT_S = 0.005


@pytest.fixture(autouse=True)
def restored_interval(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from CPython's interval and no setting, and leaves the process as it was."""
    before = sys.getswitchinterval()
    monkeypatch.delenv(SWITCH_INTERVAL_ENV, raising=False)
    sys.setswitchinterval(CPYTHON_DEFAULT_S)
    yield
    sys.setswitchinterval(before)


def test_the_default_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert switch_interval_s() == DEFAULT_SWITCH_INTERVAL_US / 1e6 == 50e-6
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, "200")
    assert switch_interval_s() == 200e-6
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, "0")
    assert switch_interval_s() is None  # leave the interpreter's own
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, " ")
    assert switch_interval_s() == 50e-6


@pytest.mark.parametrize("text", ["fast", "-5", "1.5", "50us"])
def test_a_malformed_interval_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, text)
    with pytest.raises(ValueError, match=SWITCH_INTERVAL_ENV):
        switch_interval_s()


def test_applied_over_the_interpreters_default_only(monkeypatch: pytest.MonkeyPatch) -> None:
    apply_switch_interval()
    assert sys.getswitchinterval() == pytest.approx(50e-6)
    sys.setswitchinterval(0.002)  # an application that tuned its interpreter keeps its choice
    apply_switch_interval()
    assert sys.getswitchinterval() == pytest.approx(0.002)
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, "300")  # unless the operator asks explicitly
    apply_switch_interval()
    assert sys.getswitchinterval() == pytest.approx(300e-6)
    monkeypatch.setenv(SWITCH_INTERVAL_ENV, "0")
    sys.setswitchinterval(CPYTHON_DEFAULT_S)
    apply_switch_interval()
    assert sys.getswitchinterval() == pytest.approx(CPYTHON_DEFAULT_S)


def _model(token_ids: Sequence[list[int]]) -> Vectors:
    return np.array([[float(len(ids))] for ids in token_ids], dtype=np.float32)


def test_the_batcher_sets_it_when_its_workers_start() -> None:
    batcher = EmbeddingBatcher(_model, workers=2)
    try:
        assert sys.getswitchinterval() == pytest.approx(CPYTHON_DEFAULT_S)  # nothing started yet
        vector = asyncio.run(batcher.embed([1, 2, 3]))
        assert float(vector[0]) == 3.0
        assert sys.getswitchinterval() == pytest.approx(50e-6)
    finally:
        batcher.close()
