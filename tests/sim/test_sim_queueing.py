"""Queueing against theory: the engine as an M/M/1 queue, and the vectorised FIFO scan vs a loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semdns.sim.engine import EngineModel, run_engine
from semdns.sim.queues import fifo_departures


def _compute_bound_engine() -> EngineModel:
    # Weights negligible, so a one-request batch costs tokens * 2P / FLOPS: with one output token the
    # service time is proportional to (prompt + 1), i.e. exponential when prompts are.
    return EngineModel(
        weight_bytes=1.0,
        flops_per_token=1.0,
        kv_bytes_per_token=1e-12,
        bandwidth_bps=1e18,
        flops=1000.0,  # 1 ms per token
        overhead_s=0.0,
        max_batch=1,
        kv_capacity_tokens=10**12,
    )


def test_mm1_engine_mean_wait_matches_theory() -> None:
    rng = np.random.default_rng(42)
    n, lam = 200_000, 0.7  # requests per second; mean service 1 s -> rho = 0.7
    arrival = np.cumsum(rng.exponential(1 / lam, n))
    prompt = np.maximum(1, np.rint(rng.exponential(1000.0, n))).astype(np.int64) - 1
    prompt = np.maximum(prompt, 0)
    m = _compute_bound_engine()
    run = run_engine(m, arrival.tolist(), prompt.tolist(), [1] * n)
    service = (prompt + 1) * 1e-3
    wait = np.asarray(run.finish) - arrival - service
    es = service.mean()
    rho = lam * es
    theory = rho * es / (1 - rho)  # M/M/1 mean wait in queue
    assert wait[n // 10 :].mean() == pytest.approx(theory, rel=0.08)
    assert min(wait) >= -1e-9


def _naive(arrival: list[float], service: list[float], group: list[int], workers: int) -> list[float]:
    free: dict[tuple[int, int], float] = {}
    seen: dict[int, int] = {}
    out = [0.0] * len(arrival)
    for i in sorted(range(len(arrival)), key=lambda i: (group[i], arrival[i], i)):
        k = seen.get(group[i], 0)
        seen[group[i]] = k + 1
        q = (group[i], k % workers)
        start = max(arrival[i], free.get(q, 0.0))
        out[i] = free[q] = start + service[i]
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 100, allow_nan=False),
            st.floats(0, 5, allow_nan=False),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 3),
)
def test_vectorised_fifo_equals_a_loop(rows: list[tuple[float, float, int]], workers: int) -> None:
    # Round to nanoseconds as the scan does, and make arrival times distinct to fix the FIFO order.
    a = [round(r[0], 6) + i * 1e-7 for i, r in enumerate(rows)]
    s = [round(r[1], 6) for r in rows]
    g = [r[2] for r in rows]
    got = fifo_departures(np.asarray(a), np.asarray(s), np.asarray(g, dtype=np.int64), workers)
    assert got == pytest.approx(_naive(a, s, g, workers), abs=1e-6)
