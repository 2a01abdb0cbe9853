"""One engine replica: a roofline cost per batch step and continuous batching with a FIFO queue.

**Roofline.** A step that processes ``tokens`` tokens (one per decoding request plus the prompts of
newly admitted requests) over a KV context of ``ctx`` tokens takes
``max((weights + kv_bytes * ctx) / bandwidth, 2 * params * tokens / flops) + overhead``: decode is bound
by streaming the weights and the KV cache, prefill by arithmetic. Tensor parallelism multiplies both
rates by ``tp`` (its all-reduce cost is not modelled).

**Continuous batching.** Between two events (an arrival that can be admitted, a completion, a crash)
the batch does not change, so its step time is constant and the loop jumps over all those steps at
once: the cost is O(1) per request, not per token. Admission happens at step boundaries, FIFO, up to
``max_batch`` requests and while the KV cache can hold every admitted request's prompt plus its full
output. The step that admits a request runs its prefill and yields its first token. Within a jump the
step time uses the context size at the jump's start (the context grows by one token per request per
step; jumps are short, so the error is small).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from semdns.sim.config import Engines, SimConfigError
from semdns.sim.profiles import ACCELERATORS


@dataclass(frozen=True)
class EngineModel:
    """The roofline constants of one engine (effective rates, after efficiencies and ``tp``)."""

    weight_bytes: float
    flops_per_token: float
    kv_bytes_per_token: float
    bandwidth_bps: float
    flops: float
    overhead_s: float
    max_batch: int
    kv_capacity_tokens: int

    def step_time(self, tokens: int, ctx: int) -> float:
        """Seconds for one batch step over ``tokens`` new tokens and ``ctx`` cached context tokens."""
        mem = (self.weight_bytes + self.kv_bytes_per_token * ctx) / self.bandwidth_bps
        return max(mem, self.flops_per_token * tokens / self.flops) + self.overhead_s


def engine_model(cfg: Engines, tier: str) -> EngineModel:
    """Build the roofline model of ``tier`` on the configured accelerator; weights must fit."""
    acc = ACCELERATORS[cfg.accelerator]
    t = cfg.tiers[tier]
    weights = t.params_b * 1e9 * t.bytes_per_param
    memory = acc.memory_bytes * t.tp * 0.9  # 10 % for activations and the runtime
    if weights >= memory:
        raise SimConfigError(
            f"engines.tiers.{tier}: {weights / 1e9:.0f} GB of weights do not fit in "
            f"tp={t.tp} x {acc.memory_bytes / 1e9:.0f} GB of {acc.name}; raise tp or lower bytes_per_param"
        )
    return EngineModel(
        weight_bytes=weights,
        flops_per_token=2.0 * t.params_b * 1e9,
        kv_bytes_per_token=t.kv_bytes_per_token,
        bandwidth_bps=acc.memory_bandwidth_bps * cfg.memory_efficiency * t.tp,
        flops=acc.flops * cfg.flop_efficiency * t.tp,
        overhead_s=cfg.step_overhead_us * 1e-6,
        max_batch=cfg.max_batch,
        kv_capacity_tokens=int((memory - weights) / t.kv_bytes_per_token),
    )


@dataclass
class EngineRun:
    """What happened to the requests sent to one replica (indices are positions in its input)."""

    first_token: list[float]
    finish: list[float]
    killed: list[tuple[int, float]] = field(default_factory=list)  # (index, time) lost to a crash
    rejected: list[int] = field(default_factory=list)  # larger than the whole KV cache
    busy_s: float = 0.0
    steps: int = 0


def run_engine(
    m: EngineModel,
    arrival: list[float],
    prompt: list[int],
    output: list[int],
    down: npt.NDArray[np.float64] | None = None,
    up: npt.NDArray[np.float64] | None = None,
) -> EngineRun:
    """Serve requests (sorted by ``arrival``) on one replica that crashes at ``down[i]`` until ``up[i]``."""
    n = len(arrival)
    nan = math.nan
    res = EngineRun([nan] * n, [nan] * n)
    first, finish, killed = res.first_token, res.finish, res.killed
    w_time = m.weight_bytes / m.bandwidth_bps
    kv_time = m.kv_bytes_per_token / m.bandwidth_bps
    tok_time = m.flops_per_token / m.flops
    ov = m.overhead_s
    cap, maxb = m.kv_capacity_tokens, m.max_batch
    downs = [] if down is None else down.tolist()
    ups = [] if up is None else up.tolist()
    nd, di = len(downs), 0
    next_down = downs[0] if nd else math.inf
    waiting: deque[int] = deque()
    active: list[tuple[int, int]] = []  # heap of (step at which it finishes, index)
    admitted: list[int] = []
    t, s, ctx, reserved, busy, steps = 0.0, 0, 0, 0, 0.0, 0
    i = 0
    push, pop = heapq.heappush, heapq.heappop
    while True:
        if not active and not waiting:
            if i >= n:
                break
            if arrival[i] > t:
                t = arrival[i]
        if next_down <= t:
            for _, j in active:
                killed.append((j, next_down))
            for j in waiting:
                killed.append((j, next_down))
            active.clear()
            waiting.clear()
            ctx = reserved = 0
            back = ups[di]
            t = max(t, back)
            while i < n and arrival[i] < back:
                killed.append((i, arrival[i]))
                i += 1
            di += 1
            next_down = downs[di] if di < nd else math.inf
            continue
        while i < n and arrival[i] <= t:
            waiting.append(i)
            i += 1
        new_tok = 0
        while waiting and len(active) < maxb:
            j = waiting[0]
            need = prompt[j] + output[j]
            if need > cap:
                waiting.popleft()
                res.rejected.append(j)
                continue
            if reserved + need > cap:
                break
            waiting.popleft()
            push(active, (s + output[j], j))
            reserved += need
            ctx += prompt[j]
            new_tok += prompt[j]
            admitted.append(j)
        if not active:
            continue
        b = len(active)
        mem = w_time + kv_time * ctx
        dt = max(mem, tok_time * b) + ov
        dt0 = max(mem, tok_time * (b + new_tok)) + ov if new_tok else dt
        if next_down < t + dt0:
            t = next_down
            continue
        t += dt0
        s += 1
        steps += 1
        ctx += b
        busy += dt0
        for j in admitted:
            first[j] = t
        admitted.clear()
        k = active[0][0] - s
        if k > 0:
            if i < n and b < maxb and not waiting:
                ka = math.ceil((arrival[i] - t) / dt)
                if ka < k:
                    k = max(ka, 0)
            if next_down < math.inf:
                kd = int((next_down - t) / dt)
                if kd < k:
                    k = kd
            if k > 0:
                t += k * dt
                s += k
                steps += k
                ctx += b * k
                busy += k * dt
        while active and active[0][0] <= s:
            _, j = pop(active)
            finish[j] = t
            need = prompt[j] + output[j]
            ctx -= need
            reserved -= need
    res.busy_s = busy
    res.steps = steps
    return res
