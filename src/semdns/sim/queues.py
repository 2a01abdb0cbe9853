"""FIFO queues computed without an event loop: the Lindley recursion as a vectorised max-plus scan.

For one FIFO server, departure ``D[n] = max(A[n], D[n-1]) + S[n]``, whose closed form is
``D[n] = C[n] + max_{k<=n}(A[k] - C[k-1])`` with ``C`` the cumulative service. That is a cumulative sum
and a cumulative maximum, both numpy primitives. Many independent queues (one per resolver node and
worker) are scanned at once by offsetting each group so that no maximum crosses a group boundary.
Times are integer nanoseconds so that the offsets stay exact.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

_NS = 1e9


def fifo_departures(
    arrival_s: FloatArray, service_s: FloatArray, group: IntArray, workers: int = 1
) -> FloatArray:
    """Departure times (seconds) for requests queued FIFO at ``group``'s server pool.

    Each group has ``workers`` identical servers fed round-robin in arrival order (a request goes to
    worker ``i % workers`` where ``i`` is its rank within the group). Inputs need not be sorted.
    """
    n = len(arrival_s)
    if n == 0:
        return np.empty(0)
    a = np.rint(arrival_s * _NS).astype(np.int64)
    s = np.rint(service_s * _NS).astype(np.int64)
    order = np.lexsort((a, group))
    g = group[order]
    starts = np.flatnonzero(np.concatenate([[True], g[1:] != g[:-1]]))
    rank = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    queue = g * workers + rank % workers
    # Re-sort so that each (group, worker) queue is contiguous, in arrival order.
    order2 = order[np.lexsort((a[order], queue))]
    q = np.sort(queue)
    a2, s2 = a[order2], s[order2]
    first = np.concatenate([[True], q[1:] != q[:-1]])
    seg = np.cumsum(first) - 1
    c = np.cumsum(s2)
    c_prev = c - s2
    seg_base = c_prev[first][seg]  # cumulative service before each queue's first request
    c_local = c - seg_base
    x = a2 - (c_prev - seg_base)
    span = int(max(1, (a2.max() - min(0, int(x.min())) + c_local.max()))) + 1
    shifted = x + seg * span
    m = np.maximum.accumulate(shifted) - seg * span
    dep = c_local + m
    out = np.empty(n, dtype=np.float64)
    out[order2] = dep / _NS
    return out
