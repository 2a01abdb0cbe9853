"""The retry budget: retries are a bounded fraction of requests, with a small floor over time."""

from __future__ import annotations

from semdns.engines.budget import RetryBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_retries_are_limited_to_the_ratio_of_requests() -> None:
    clock = Clock()
    budget = RetryBudget(ratio=0.25, min_per_s=0.0, clock=clock)
    budget._tokens = 0.0
    allowed = 0
    for _ in range(100):
        budget.deposit()
        if budget.try_spend():
            allowed += 1
    assert allowed == 25


def test_the_floor_refills_over_time() -> None:
    clock = Clock()
    budget = RetryBudget(ratio=0.0, min_per_s=2.0, clock=clock)
    while budget.try_spend():
        pass
    assert not budget.try_spend()
    clock.now += 1.0
    assert budget.try_spend() and budget.try_spend()
    assert not budget.try_spend()
