"""The routing-decision cache: which requests hit, simulated exactly, and the TTL model's prediction.

A DNS-style cache inserts an entry on a miss and serves it until ``ttl`` after insertion (hits do not
extend it); an optional capacity evicts the least recently used entry. The analytic hit ratio of a TTL
cache under Poisson arrivals of query ``q`` at rate ``λ p_q`` is ``λ p_q T / (1 + λ p_q T)`` (each
miss opens a window of length T in which on average ``λ p_q T`` hits follow). Reporting both lets a
reader check the simulation against the model.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import numpy.typing as npt


def simulate_hits(
    arrival: npt.NDArray[np.float64],
    query: npt.NDArray[np.int64],
    ttl_s: float,
    capacity: int | None = None,
) -> npt.NDArray[np.bool_]:
    """Per request (in arrival order), whether the decision cache answered it."""
    n = len(arrival)
    hits = np.zeros(n, dtype=np.bool_)
    if ttl_s <= 0 or n == 0:
        return hits
    times = arrival.tolist()
    queries = query.tolist()
    out = [False] * n
    if capacity is None:
        expiry: dict[int, float] = {}
        get = expiry.get
        for i in range(n):
            t = times[i]
            q = queries[i]
            if get(q, -1.0) > t:
                out[i] = True
            else:
                expiry[q] = t + ttl_s
    else:
        lru: OrderedDict[int, float] = OrderedDict()
        for i in range(n):
            t, q = times[i], queries[i]
            e = lru.get(q)
            if e is not None and e > t:
                out[i] = True
                lru.move_to_end(q)
                continue
            lru[q] = t + ttl_s
            lru.move_to_end(q)
            if len(lru) > capacity:
                lru.popitem(last=False)
    hits[:] = out
    return hits


def model_hit_ratio(p: npt.NDArray[np.float64], rate: float, ttl_s: float, horizon_s: float) -> float:
    """Steady-state TTL-cache hit ratio for Zipf probabilities ``p`` at ``rate`` requests per second.

    Over a finite run of length ``H`` a query expects ``N = λ_q H`` requests and about
    ``max(P(N >= 1), N / (1 + λ_q T))`` misses: the renewal rate of miss-plus-window cycles, but at
    least the compulsory first miss. That keeps the prediction comparable with short simulations.
    """
    if ttl_s <= 0:
        return 0.0
    lam = rate * p
    n = lam * horizon_s
    misses = np.minimum(n, np.maximum(-np.expm1(-n), n / (1.0 + lam * ttl_s)))
    total = n.sum()
    return float((n - misses).sum() / total) if total > 0 else 0.0
