"""A retry budget: retries may add at most a fixed fraction of load on top of the first attempts.

Without a budget, retries multiply load exactly when backends are struggling (a retry storm). This is
the token bucket used by Finagle and Envoy: every request deposits ``ratio`` tokens, the bucket also
refills at ``min_per_s`` tokens a second so that a quiet gateway can still retry, and each retry
withdraws one token. Failover to another replica is a retry; fallback to the parent name is not (it
is bounded by the depth of the tree, and it is what keeps a degraded answer possible).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RetryBudget:
    """Process-wide retry allowance. Not thread-safe: it lives on the event loop."""

    __slots__ = ("_cap", "_clock", "_last", "_tokens", "min_per_s", "ratio")

    def __init__(
        self,
        ratio: float = 0.2,
        min_per_s: float = 5.0,
        *,
        cap: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.min_per_s = min_per_s
        self._cap = cap
        self._clock = clock
        self._last = clock()
        self._tokens = min(cap, max(1.0, min_per_s))

    def deposit(self) -> None:
        """A new request arrived."""
        self._tokens = min(self._cap, self._tokens + self.ratio)

    def try_spend(self) -> bool:
        """Take a token for one retry; False when the budget is exhausted."""
        now = self._clock()
        self._tokens = min(self._cap, self._tokens + (now - self._last) * self.min_per_s)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    @property
    def tokens(self) -> float:
        return self._tokens
