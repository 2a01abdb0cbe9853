"""Circuit breaker transitions, driven by a fake clock (no sleeping)."""

from __future__ import annotations

from semdns.engines.breaker import BreakerState, CircuitBreaker
from semdns.zone.schema import BreakerSpec


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock, **spec: float) -> tuple[CircuitBreaker, list[BreakerState]]:
    changes: list[BreakerState] = []
    breaker = CircuitBreaker(BreakerSpec(**spec), clock=clock, on_change=changes.append)  # type: ignore[arg-type]
    return breaker, changes


def _fail(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        breaker.begin()
        breaker.record(False)


def test_opens_after_consecutive_failures() -> None:
    clock = Clock()
    breaker, changes = _breaker(clock, consecutive_failures=3)
    _fail(breaker, 2)
    breaker.begin()
    breaker.record(True)  # a success resets the run
    _fail(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    _fail(breaker)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.admits()
    assert changes == [BreakerState.OPEN]


def test_opens_on_error_rate_over_the_window() -> None:
    clock = Clock()
    breaker, _ = _breaker(clock, consecutive_failures=100, error_rate=0.5, min_requests=4, window_s=10)
    for ok in (True, False, True, False):
        clock.now += 1
        breaker.begin()
        breaker.record(ok)
    assert breaker.state is BreakerState.OPEN


def test_old_outcomes_leave_the_window() -> None:
    clock = Clock()
    breaker, _ = _breaker(clock, consecutive_failures=100, error_rate=0.5, min_requests=4, window_s=10)
    _fail(breaker, 2)
    clock.now = 20  # the two failures are now outside the window
    for _ in range(3):
        breaker.begin()
        breaker.record(True)
    _fail(breaker)
    assert breaker.state is BreakerState.CLOSED  # 1 failure in 4 recent outcomes


def test_half_open_after_sleep_admits_limited_probes_then_closes() -> None:
    clock = Clock()
    breaker, changes = _breaker(clock, consecutive_failures=1, sleep_s=5, half_open_probes=2)
    _fail(breaker)
    clock.now = 4.9
    assert not breaker.admits()
    clock.now = 5.0
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.begin()
    breaker.begin()
    assert not breaker.admits()  # both trial slots taken
    breaker.record(True)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record(True)
    assert breaker.state is BreakerState.CLOSED
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_a_failed_probe_reopens() -> None:
    clock = Clock()
    breaker, changes = _breaker(clock, consecutive_failures=1, sleep_s=5)
    _fail(breaker)
    clock.now = 6
    assert breaker.admits()
    _fail(breaker)
    assert breaker.state is BreakerState.OPEN
    clock.now = 10
    assert breaker.state is BreakerState.OPEN  # a fresh sleep window from the reopening
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.OPEN]


def test_a_cancelled_probe_frees_its_slot() -> None:
    clock = Clock()
    breaker, _ = _breaker(clock, consecutive_failures=1, sleep_s=1, half_open_probes=1)
    _fail(breaker)
    clock.now = 2
    breaker.begin()
    assert not breaker.admits()
    breaker.release()
    assert breaker.admits()
