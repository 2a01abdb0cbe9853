"""The offered load: arrival times, token lengths, query identities (Zipf) and their target names.

Everything is drawn vectorised with numpy from one seeded generator, so a run is deterministic for a
seed and the same workload is offered to every topology at a given G (common random numbers make the
flat-vs-hierarchical comparison paired, as the specification's statistics section asks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from semdns.sim.config import Arrivals, LengthDist, Requests
from semdns.sim.namespace import Namespace

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Workload:
    arrival: FloatArray  # seconds, sorted
    prompt: IntArray
    output: IntArray
    query: IntArray  # distinct-query id (0 = most popular)
    target: IntArray  # the name each query resolves to
    rate: float
    zipf_p: FloatArray  # probability of each distinct query


def arrival_times(a: Arrivals, rate: float, n: int, rng: np.random.Generator) -> FloatArray:
    """``n`` sorted arrival times with mean rate ``rate``: Poisson, or an on/off modulated Poisson."""
    if a.kind == "poisson":
        return np.cumsum(rng.exponential(1.0 / rate, n))
    low = rate / (1.0 - a.burst_fraction + a.burst_fraction * a.burst_factor)
    high = low * a.burst_factor
    calm_mean = a.burst_mean_s * (1.0 - a.burst_fraction) / a.burst_fraction
    out: list[FloatArray] = []
    have, t = 0, 0.0
    while have < n:
        # Draw many calm/burst periods at once; each gets a Poisson number of uniform points.
        m = max(16, int(2 * (n - have) / (rate * (calm_mean + a.burst_mean_s)) + 16))
        lengths = np.empty(2 * m)
        lengths[0::2] = rng.exponential(calm_mean, m)
        lengths[1::2] = rng.exponential(a.burst_mean_s, m)
        rates = np.tile([low, high], m)
        starts = t + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
        counts = rng.poisson(rates * lengths)
        pts = np.repeat(starts, counts) + rng.random(int(counts.sum())) * np.repeat(lengths, counts)
        pts.sort()
        out.append(pts)
        have += len(pts)
        t = float(starts[-1] + lengths[-1])
    return np.concatenate(out)[:n]


def lengths(d: LengthDist, n: int, rng: np.random.Generator) -> IntArray:
    """Token lengths drawn from ``d``, rounded and clipped to [1, max]."""
    if d.kind == "constant":
        x = np.full(n, d.mean)
    elif d.kind == "exponential":
        x = rng.exponential(d.mean, n)
    else:
        x = rng.lognormal(np.log(d.mean) - d.sigma**2 / 2, d.sigma, n)
    out: IntArray = np.clip(np.rint(x), 1, d.max).astype(np.int64)
    return out


def zipf_probabilities(distinct: int, s: float) -> FloatArray:
    w: FloatArray = np.arange(1, distinct + 1, dtype=np.float64) ** -s
    out: FloatArray = w / w.sum()
    return out


def query_targets(r: Requests, ns: Namespace, rng: np.random.Generator) -> IntArray:
    """The name each distinct query resolves to: a random descent that may stop at any level."""
    q = r.popularity.distinct_queries
    node = np.zeros(q, dtype=np.int64)
    active = rng.random(q) >= r.general_share
    b = ns.branching
    for level in range(ns.max_depth):
        kids_lo = node * b + 1
        n_kids = np.clip(ns.names - kids_lo, 0, b)
        can = active & (n_kids > 0)
        if level == 0 and r.domain_mix is not None:
            k = max(1, int(n_kids[0]))
            w = np.resize(np.asarray(r.domain_mix, dtype=np.float64), k)[:k]
            w = w / w.sum() if w.sum() > 0 else np.full(k, 1.0 / k)
            pick = rng.choice(k, size=q, p=w)
        else:
            pick = np.floor(rng.random(q) * np.maximum(n_kids, 1)).astype(np.int64)
        node = np.where(can, kids_lo + pick, node)
        stop = rng.random(q) < r.stop_probability
        active = can & ~stop
    return node


def make_workload(r: Requests, ns: Namespace, rng: np.random.Generator) -> Workload:
    rate = r.rate_for(ns.engines)
    arr = arrival_times(r.arrivals, rate, r.count, rng)
    prompt = lengths(r.prompt_tokens, r.count, rng)
    output = lengths(r.output_tokens, r.count, rng)
    p = zipf_probabilities(r.popularity.distinct_queries, r.popularity.zipf_s)
    query = np.minimum(np.searchsorted(np.cumsum(p), rng.random(r.count)), len(p) - 1).astype(np.int64)
    targets = query_targets(r, ns, rng)
    return Workload(arr, prompt, output, query, targets[query], rate, p)
