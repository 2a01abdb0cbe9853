"""One simulation run (a topology at one G) and a sweep over topologies and engine counts.

The pipeline is: workload → decision cache → routing (vectorised queues) → dispatch to a replica, with
failover to a sibling replica and then up the tree when the engine is down → the engines, deepest
names first, so that requests lost in a crash can be retried at the parent name → metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from semdns.sim.cache import model_hit_ratio, simulate_hits
from semdns.sim.calibration import StageModel, stage_model
from semdns.sim.config import SimConfig, TopologyKind
from semdns.sim.engine import EngineModel, engine_model, run_engine
from semdns.sim.failures import Outages, simulate_outages
from semdns.sim.namespace import Namespace, build_namespace
from semdns.sim.network import hop_s
from semdns.sim.profiles import TIERS
from semdns.sim.routing import route
from semdns.sim.topology import background_messages_per_interval
from semdns.sim.workload import make_workload

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RunResult:
    """The figures of one run; every field is a plain number so that rows go straight to CSV/JSON."""

    topology: str
    engines: int
    names: int
    max_depth: int
    requests: int
    completed: int
    failed: int
    offered_rps: float
    messages_per_query: float  # path messages incl. retries, averaged over requests
    background_messages_per_s: float
    total_messages: float  # path + background over the run
    inter_rack_per_query: float
    intra_rack_per_query: float
    cache_hit_ratio: float
    cache_hit_ratio_model: float
    routing_p50_ms: float
    routing_p99_ms: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    utilisation_mean: float
    utilisation_max: float
    utilisation_general: float
    utilisation_primary: float
    utilisation_subdomain: float
    utilisation_task: float
    throughput_rps: float
    goodput_rps: float
    fallback_share: float  # served by an ancestor of the resolved name
    retried: int
    outages: int
    wall_s: float
    simulated_rps_per_wall_s: float

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def _pct(x: FloatArray, q: float) -> float:
    return float(np.percentile(x, q)) * 1e3 if len(x) else float("nan")


class _Dispatcher:
    """Chooses a live replica: round robin within the name, else a sibling, else up the tree."""

    def __init__(self, ns: Namespace, outages: Outages) -> None:
        self.ns = ns
        self.outages = outages

    def live_engine(self, name: int, t: float, start: int = 0) -> int:
        ns = self.ns
        node = name
        while node >= 0:
            lo, r = int(ns.first_engine[node]), int(ns.replicas[node])
            for k in range(r):
                e = lo + (start + k) % r
                if not self.outages.is_down(e, t):
                    return e
            node = int(ns.parent[node])
        return -1


def simulate(cfg: SimConfig, kind: TopologyKind, engines: int, stages: StageModel | None = None) -> RunResult:
    """Simulate ``cfg``'s workload on ``engines`` engines organised as ``kind``."""
    wall0 = time.perf_counter()
    stages = stages or stage_model(cfg.resolver)
    ns = build_namespace(cfg, engines)
    models = [engine_model(cfg.engines, tier) for tier in TIERS]
    wl = make_workload(cfg.requests, ns, np.random.default_rng([cfg.seed, engines]))
    n = len(wl.arrival)
    horizon = float(wl.arrival[-1]) if n else 0.0
    ttl = cfg.resolver.cache_ttl_s
    hits = simulate_hits(wl.arrival, wl.query, ttl, cfg.resolver.cache_capacity)
    rng = np.random.default_rng([cfg.seed, engines, 1])
    routed = route(cfg, kind, ns, wl, hits, stages, rng)
    outages = simulate_outages(
        cfg.failures, engines, horizon * 1.5 + 1.0, np.random.default_rng([cfg.seed, engines, 2])
    )
    net = cfg.network

    # Dispatch: round robin over the name's replicas, in order of decision time.
    order = np.lexsort((routed.decided, wl.target))
    st = wl.target[order]
    starts = np.flatnonzero(np.concatenate([[True], st[1:] != st[:-1]])) if n else np.empty(0, np.int64)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))
    engine = ns.first_engine[wl.target] + rank % ns.replicas[wl.target]
    served_name = wl.target.copy()
    dispatcher = _Dispatcher(ns, outages)
    failed = np.zeros(n, dtype=np.bool_)
    if cfg.failures.enabled:
        down = outages.down_mask(engine, routed.decided)
        for i in np.flatnonzero(down).tolist():
            e = dispatcher.live_engine(int(wl.target[i]), float(routed.decided[i]), int(rank[i]))
            if e < 0:
                failed[i] = True
            else:
                engine[i] = e
                served_name[i] = ns.engine_name[e]
    req_bytes = net.header_bytes + net.bytes_per_token * wl.prompt.astype(np.float64)
    same = ns.engine_rack[engine] == routed.dispatch_rack
    intra = routed.intra + same
    inter = routed.inter + ~same
    at_engine = routed.decided + np.where(
        same, hop_s(net.intra_rack, req_bytes), hop_s(net.inter_rack, req_bytes)
    )

    # Engines, deepest names first; lost requests are retried at the parent name.
    first = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    retries = np.zeros(n, dtype=np.int64)
    queues: list[list[int]] = [[] for _ in range(engines)]
    for i, e_i in zip(np.flatnonzero(~failed).tolist(), engine[~failed].tolist(), strict=True):
        queues[e_i].append(i)
    busy = np.zeros(engines)
    tier_of = ns.tier_index()
    engine_depth = ns.depth[ns.engine_name]
    arr_list = at_engine  # mutated in place on retries
    prompt_l, output_l = wl.prompt, wl.output
    detect = cfg.failures.detect_s
    order_e: list[int] = np.argsort(-engine_depth, kind="stable").tolist()
    for e in order_e:
        q = queues[e]
        if not q:
            continue
        q.sort(key=lambda i: arr_list[i])
        idx = np.asarray(q, dtype=np.int64)
        model: EngineModel = models[int(tier_of[e])]
        run = run_engine(
            model,
            arr_list[idx].tolist(),
            prompt_l[idx].tolist(),
            output_l[idx].tolist(),
            outages.down[e],
            outages.up[e],
        )
        first[idx] = run.first_token
        finish[idx] = run.finish
        busy[e] = run.busy_s
        for j in run.rejected:
            failed[idx[j]] = True
        for j, when in run.killed:
            i = int(idx[j])
            parent = int(ns.parent[ns.engine_name[e]])
            t_retry = when + detect
            e2: int = dispatcher.live_engine(parent, t_retry) if parent >= 0 else -1
            if e2 < 0 or engine_depth[e2] >= engine_depth[e]:
                failed[i] = True
                continue
            retries[i] += 1
            served_name[i] = ns.engine_name[e2]
            arr_list[i] = t_retry + float(hop_s(net.inter_rack, req_bytes[i]))
            inter[i] += 2
            queues[e2].append(i)

    # Responses stream back to the client.
    resp = hop_s(net.client, net.header_bytes + net.bytes_per_token * wl.output.astype(np.float64))
    done = ~failed & ~np.isnan(finish)
    ttft = (first + hop_s(net.client, net.header_bytes)) - wl.arrival
    e2e = finish + resp - wl.arrival
    routing = routed.decided - wl.arrival
    tpot = np.where(wl.output > 1, (finish - first) / np.maximum(wl.output - 1, 1), 0.0)
    good = done & (ttft <= cfg.slo.ttft_s) & (tpot <= cfg.slo.tpot_s)
    makespan = max(horizon, float(np.nanmax(finish)) if done.any() else horizon, 1e-9)
    util = busy / makespan
    by_tier = [float(util[tier_of == k].mean()) if (tier_of == k).any() else float("nan") for k in range(4)]
    messages = routed.messages + 2 * retries
    bg_per_s = background_messages_per_interval(kind, engines, ns.names) / cfg.topology.state_interval_s
    wall = time.perf_counter() - wall0
    return RunResult(
        topology=kind,
        engines=engines,
        names=ns.names,
        max_depth=ns.max_depth,
        requests=n,
        completed=int(done.sum()),
        failed=int((~done).sum()),
        offered_rps=wl.rate,
        messages_per_query=float(messages.mean()),
        background_messages_per_s=bg_per_s,
        total_messages=float(messages.sum() + bg_per_s * horizon),
        inter_rack_per_query=float(inter.mean()),
        intra_rack_per_query=float(intra.mean()),
        cache_hit_ratio=float(hits.mean()),
        cache_hit_ratio_model=model_hit_ratio(wl.zipf_p, wl.rate, ttl, horizon),
        routing_p50_ms=_pct(routing, 50),
        routing_p99_ms=_pct(routing, 99),
        ttft_p50_ms=_pct(ttft[done], 50),
        ttft_p99_ms=_pct(ttft[done], 99),
        e2e_p50_ms=_pct(e2e[done], 50),
        e2e_p99_ms=_pct(e2e[done], 99),
        utilisation_mean=float(util.mean()),
        utilisation_max=float(util.max()),
        utilisation_general=by_tier[0],
        utilisation_primary=by_tier[1],
        utilisation_subdomain=by_tier[2],
        utilisation_task=by_tier[3],
        throughput_rps=float(done.sum()) / makespan,
        goodput_rps=float(good.sum()) / makespan,
        fallback_share=float((served_name != wl.target).mean()),
        retried=int((retries > 0).sum()),
        outages=outages.events,
        wall_s=wall,
        simulated_rps_per_wall_s=n / wall if wall > 0 else float("inf"),
    )


def run_sweep(cfg: SimConfig, on_run: Callable[[RunResult], None] | None = None) -> list[RunResult]:
    """Every configured topology at every configured G, in order; ``on_run`` sees each result."""
    stages = stage_model(cfg.resolver)
    out = []
    for g in cfg.topology.engines:
        for kind in cfg.topology.kinds:
            r = simulate(cfg, kind, g, stages)
            out.append(r)
            if on_run is not None:
                on_run(r)
    return out
