"""A circuit breaker per replica: stop sending traffic to a replica that keeps failing.

States follow the usual machine. *Closed*: traffic flows; the breaker opens after
``consecutive_failures`` failures in a row, or when at least ``min_requests`` attempts in the last
``window_s`` seconds failed at ``error_rate`` or more (the passive outlier detection: it is fed by real
traffic, not probes). *Open*: no traffic for ``sleep_s`` seconds. *Half-open*: up to
``half_open_probes`` trial requests at a time; that many successes close it, one failure reopens it.
Recovery is therefore gradual: a replica earns traffic back a few requests at a time.

The clock is injectable so that transitions are tested without sleeping.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import IntEnum

from semdns.zone.schema import BreakerSpec


class BreakerState(IntEnum):
    """Numeric values are what the ``semdns_breaker_state`` gauge exports."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """The breaker of one replica. Not thread-safe: it lives on the event loop."""

    __slots__ = (
        "_clock",
        "_consecutive",
        "_half_open_in_flight",
        "_half_open_successes",
        "_on_change",
        "_opened_at",
        "_state",
        "_window",
        "_window_failures",
        "spec",
    )

    def __init__(
        self,
        spec: BreakerSpec,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.spec = spec
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._half_open_in_flight = 0
        self._half_open_successes = 0
        self._window: deque[tuple[float, bool]] = deque()
        self._window_failures = 0

    @property
    def state(self) -> BreakerState:
        """The current state, moving open → half-open once the sleep window has passed."""
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.spec.sleep_s:
            self._set(BreakerState.HALF_OPEN)
        return self._state

    def admits(self) -> bool:
        """Whether a request may be sent now (does not reserve a half-open slot; see :meth:`begin`)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN:
            return self._half_open_in_flight < self.spec.half_open_probes
        return False

    def begin(self) -> None:
        """A request was sent; in half-open it takes one of the trial slots."""
        if self.state is BreakerState.HALF_OPEN:
            self._half_open_in_flight += 1

    def record(self, ok: bool) -> None:
        """The outcome of a request started with :meth:`begin`."""
        state = self._state
        if state is BreakerState.HALF_OPEN:
            self._half_open_in_flight = max(0, self._half_open_in_flight - 1)
            if not ok:
                self._open()
                return
            self._half_open_successes += 1
            if self._half_open_successes >= self.spec.half_open_probes:
                self._close()
            return
        if state is BreakerState.OPEN:
            return  # a request admitted before the breaker opened; its outcome changes nothing
        now = self._clock()
        self._push(now, ok)
        if ok:
            self._consecutive = 0
            return
        self._consecutive += 1
        if self._consecutive >= self.spec.consecutive_failures:
            self._open()
            return
        total = len(self._window)
        if total >= self.spec.min_requests and self._window_failures >= self.spec.error_rate * total:
            self._open()

    def release(self) -> None:
        """A request started with :meth:`begin` ended without an outcome (the client went away)."""
        if self._state is BreakerState.HALF_OPEN:
            self._half_open_in_flight = max(0, self._half_open_in_flight - 1)

    # -- internals --------------------------------------------------------------------------------

    def _push(self, now: float, ok: bool) -> None:
        window = self._window
        window.append((now, ok))
        if not ok:
            self._window_failures += 1
        horizon = now - self.spec.window_s
        while window and window[0][0] < horizon:
            _, old_ok = window.popleft()
            if not old_ok:
                self._window_failures -= 1

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._half_open_in_flight = 0
        self._half_open_successes = 0
        self._set(BreakerState.OPEN)

    def _close(self) -> None:
        self._consecutive = 0
        self._window.clear()
        self._window_failures = 0
        self._half_open_in_flight = 0
        self._half_open_successes = 0
        self._set(BreakerState.CLOSED)

    def _set(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            if state is BreakerState.HALF_OPEN:
                self._half_open_in_flight = 0
                self._half_open_successes = 0
            if self._on_change is not None:
                self._on_change(state)
