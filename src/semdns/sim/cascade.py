"""A confidence cascade's cost at scale: always-small, always-large and the cascade, each sized to the SLO.

The gateway's cascade (``semdns.dispatch_cascade``) sends every request to a name's small tier and,
when the answer's score is below the threshold, sends it again to a larger tier. What that costs at a
given load is a queueing question, answered with the simulator's own parts: the offered load of
``semdns.sim.workload`` (arrivals, prompt and output lengths), the roofline continuous-batching
engine of ``semdns.sim.engine``, and the network hops of ``semdns.sim.network``.

For each strategy every tier's pool of replicas is **sized**: the fewest replicas (round robin over
arrivals) for which ``slo_quantile`` of the pool's requests see a first token within ``slo.ttft_s``
of reaching the pool and a mean time per output token within ``slo.tpot_s``. Then the end-to-end
figures are read off the sized pools:

- a request escalates with probability ``escalation_share`` (one seeded draw per request, shared by
  every strategy, so the comparison is paired);
- the decision comes when the small answer ends (``decide: answer``) or after its first
  ``prefix_tokens`` tokens (``decide: prefix``, a stream; the small engine stops there for an
  escalated request, and the time of that token is interpolated between the first and the last);
- a kept answer reaches the client from the decision on (its first byte waits for the decision); an
  escalated one is dispatched to the large pool at the decision plus one inter-rack hop;
- cost per request is the tiers' prices (an escalated request pays both); compute is the replicas'
  busy accelerator-seconds (busy time × tensor-parallel degree) per request.

Not modelled: the scoring itself (microseconds), a second escalation, the deadline cut-off.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from semdns.sim.config import SimConfig, SimConfigError
from semdns.sim.engine import EngineModel, engine_model, run_engine
from semdns.sim.namespace import build_namespace
from semdns.sim.network import hop_s
from semdns.sim.workload import make_workload

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
STRATEGIES = ("always_small", "always_large", "cascade")


@dataclass(frozen=True)
class Pool:
    """One tier's replicas serving a stream of requests: per request first token and finish (s)."""

    replicas: int
    first: FloatArray
    finish: FloatArray
    busy_s: float


@dataclass(frozen=True)
class CascadeResult:
    """One strategy at one offered load; plain numbers so that rows go straight to CSV/JSON."""

    strategy: str
    engines: int  # the G whose offered load this is (requests.rate_for(G))
    offered_rps: float
    requests: int
    escalation_share: float  # realised share sent to the large tier
    small_replicas: int
    large_replicas: int
    accelerators: int  # replicas × tensor-parallel degree, both tiers
    cost_per_request: float
    accelerator_s_per_request: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def serve(model: EngineModel, replicas: int, arrival: FloatArray, prompt: IntArray, output: IntArray) -> Pool:
    """Serve requests (sorted by ``arrival``) round robin on ``replicas`` replicas of ``model``."""
    n = len(arrival)
    first, finish = np.full(n, np.nan), np.full(n, np.nan)
    busy = 0.0
    for r in range(replicas):
        idx = np.arange(r, n, replicas)
        if not len(idx):
            continue
        run = run_engine(model, arrival[idx].tolist(), prompt[idx].tolist(), output[idx].tolist())
        first[idx] = run.first_token
        finish[idx] = run.finish
        busy += run.busy_s
    return Pool(replicas, first, finish, busy)


def _within_slo(cfg: SimConfig, pool: Pool, arrival: FloatArray, output: IntArray) -> bool:
    if not len(arrival):
        return True
    if np.isnan(pool.finish).any():  # rejected: larger than one replica's KV cache
        return False
    ttft = pool.first - arrival
    tpot = np.where(output > 1, (pool.finish - pool.first) / np.maximum(output - 1, 1), 0.0)
    ok = (ttft <= cfg.slo.ttft_s) & (tpot <= cfg.slo.tpot_s)
    return float(ok.mean()) >= cfg.cascade.slo_quantile


def size_pool(cfg: SimConfig, tier: str, arrival: FloatArray, prompt: IntArray, output: IntArray) -> Pool:
    """The smallest pool of ``tier`` that keeps ``slo_quantile`` of these requests within the SLO.

    Doubling, then bisection (the SLO share is treated as monotone in the replica count).
    """
    model = engine_model(cfg.engines, tier)
    if not len(arrival):
        return Pool(0, np.empty(0), np.empty(0), 0.0)
    cap = cfg.cascade.max_replicas
    hi, best = 1, None
    while True:
        pool = serve(model, hi, arrival, prompt, output)
        if _within_slo(cfg, pool, arrival, output):
            best = pool
            break
        if hi >= cap:
            raise SimConfigError(
                f"cascade: the {tier} tier misses the SLO (ttft {cfg.slo.ttft_s:g} s, tpot "
                f"{cfg.slo.tpot_s:g} s) even with max_replicas={cap}; relax slo or raise max_replicas"
            )
        hi = min(hi * 2, cap)
    lo = hi // 2  # fails (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        pool = serve(model, mid, arrival, prompt, output)
        if _within_slo(cfg, pool, arrival, output):
            hi, best = mid, pool
        else:
            lo = mid
    return best


def _pct(x: FloatArray, q: float) -> float:
    return float(np.percentile(x, q)) * 1e3 if len(x) else float("nan")


def _tp(cfg: SimConfig, tier: str) -> int:
    return cfg.engines.tiers[tier].tp


def run_cascade(cfg: SimConfig, engines: int) -> list[CascadeResult]:
    """Always-small, always-large and the cascade at ``requests.rate_for(engines)``."""
    c, net = cfg.cascade, cfg.network
    ns = build_namespace(cfg, engines)
    wl = make_workload(cfg.requests, ns, np.random.default_rng([cfg.seed, engines]))
    n = len(wl.arrival)
    escalate = np.random.default_rng([cfg.seed, engines, 3]).random(n) < c.escalation_share
    req_bytes = net.header_bytes + net.bytes_per_token * wl.prompt.astype(np.float64)
    at_pool = wl.arrival + np.asarray(hop_s(net.client, req_bytes))
    # Engines take their requests in arrival order; a longer prompt's hop may reorder close arrivals.
    o = np.argsort(at_pool, kind="stable")
    arrival, at_pool, prompt, output = wl.arrival[o], at_pool[o], wl.prompt[o], wl.output[o]
    escalate, req_bytes = escalate[o], req_bytes[o]
    first_byte = float(hop_s(net.client, net.header_bytes))
    resp = np.asarray(hop_s(net.client, net.header_bytes + net.bytes_per_token * output.astype(np.float64)))

    def row(strategy: str, small: Pool | None, large: Pool | None, ttft: FloatArray, done: FloatArray,
            share: float, cost: float) -> CascadeResult:  # fmt: skip
        busy = (small.busy_s * _tp(cfg, c.small) if small else 0.0) + (
            large.busy_s * _tp(cfg, c.large) if large else 0.0
        )
        rs, rl = (small.replicas if small else 0), (large.replicas if large else 0)
        e2e = done + resp - arrival
        return CascadeResult(
            strategy=strategy,
            engines=engines,
            offered_rps=wl.rate,
            requests=n,
            escalation_share=share,
            small_replicas=rs,
            large_replicas=rl,
            accelerators=rs * _tp(cfg, c.small) + rl * _tp(cfg, c.large),
            cost_per_request=cost,
            accelerator_s_per_request=busy / n if n else float("nan"),
            ttft_p50_ms=_pct(ttft + first_byte - arrival, 50),
            ttft_p99_ms=_pct(ttft + first_byte - arrival, 99),
            e2e_p50_ms=_pct(e2e, 50),
            e2e_p99_ms=_pct(e2e, 99),
        )

    only_small = size_pool(cfg, c.small, at_pool, prompt, output)
    only_large = size_pool(cfg, c.large, at_pool, prompt, output)
    out = [
        row("always_small", only_small, None, only_small.first, only_small.finish, 0.0, c.small_cost),
        row("always_large", None, only_large, only_large.first, only_large.finish, 1.0, c.large_cost),
    ]

    # The cascade: every request on the small tier (cut at the prefix when a stream escalates).
    prefix = c.decide == "prefix"
    k = np.minimum(output, c.prefix_tokens)
    small_out = np.where(escalate, k, output) if prefix else output
    small = size_pool(cfg, c.small, at_pool, prompt, small_out) if prefix else only_small
    if prefix:
        frac = np.where(small_out > 1, (k - 1) / np.maximum(small_out - 1, 1), 0.0)
        decided = small.first + (small.finish - small.first) * frac
    else:
        decided = small.finish.copy()
    esc = np.flatnonzero(escalate)
    at_large = decided[esc] + np.asarray(hop_s(net.inter_rack, req_bytes[esc]))
    order = np.argsort(at_large, kind="stable")
    esc, at_large = esc[order], at_large[order]
    large = size_pool(cfg, c.large, at_large, prompt[esc], output[esc])
    ttft, done = decided.copy(), small.finish.copy()
    ttft[esc], done[esc] = large.first, large.finish
    share = float(escalate.mean()) if n else 0.0
    cost = c.small_cost + share * c.large_cost
    out.append(row("cascade", small, large if len(esc) else None, ttft, done, share, cost))
    return out


def run_cascade_sweep(cfg: SimConfig) -> list[CascadeResult]:
    """The three strategies at every configured G's offered load."""
    return [r for g in cfg.topology.engines for r in run_cascade(cfg, g)]


def render_markdown(cfg: SimConfig, results: list[CascadeResult]) -> str:
    """A Markdown table of the results, with the parameters that produced them."""
    c = cfg.cascade
    lines = [
        "# semdns simulate cascade",
        "",
        f"Small tier `{c.small}` ({cfg.engines.tiers[c.small].params_b:g}B, price {c.small_cost:g}), "
        f"large tier `{c.large}` ({cfg.engines.tiers[c.large].params_b:g}B, price {c.large_cost:g}), "
        f"escalation share {c.escalation_share:g}, decided on the {c.decide}"
        + (f" ({c.prefix_tokens} tokens)" if c.decide == "prefix" else "")
        + f"; pools sized so that {100 * c.slo_quantile:g} % of requests meet TTFT ≤ {cfg.slo.ttft_s:g} s "
        f"and TPOT ≤ {cfg.slo.tpot_s:g} s; {cfg.requests.count:,} requests per load, "
        f"accelerator {cfg.engines.accelerator}, seed {cfg.seed}.",
        "",
        "| offered req/s | strategy | escalated | replicas small / large | accelerators | "
        "cost / request | accel-s / request | TTFT p50 / p99 (ms) | e2e p50 / p99 (ms) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.offered_rps:g} | {r.strategy} | {r.escalation_share:.3f} | {r.small_replicas} / "
            f"{r.large_replicas} | {r.accelerators} | {r.cost_per_request:.3f} | "
            f"{r.accelerator_s_per_request:.4f} | {r.ttft_p50_ms:.0f} / {r.ttft_p99_ms:.0f} | "
            f"{r.e2e_p50_ms:.0f} / {r.e2e_p99_ms:.0f} |"
        )
    return "\n".join(lines) + "\n"
