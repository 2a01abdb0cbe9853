"""The routing phase: from a query's arrival to the moment a router or resolver dispatches it.

Routers and resolvers are FIFO queues with ``workers`` CPU servers each, solved with the vectorised
Lindley scan of :mod:`semdns.sim.queues`. Service times:

* a flat router pays the deciding stage's latency (from the calibration) plus scoring all G engines;
* in the hierarchy the same classification work is split evenly over the resolvers on the path (the
  real resolver computes one embedding and reuses it at every level), and each resolver scores only
  its b children; the root resolver holds the decision cache;
* a decision-cache hit costs the cached latency and skips the descent.

Flat routers and the root resolver live in rack 0; every other resolver in its name's rack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from semdns.sim.calibration import StageModel
from semdns.sim.config import SimConfig, TopologyKind
from semdns.sim.namespace import Namespace
from semdns.sim.network import collective_s, hop_s, rack_hop_s
from semdns.sim.queues import fifo_departures
from semdns.sim.topology import path_messages
from semdns.sim.workload import Workload

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Routed:
    """Per request: when the decision is made, from which rack it is dispatched, and its messages."""

    decided: FloatArray
    dispatch_rack: IntArray
    messages: IntArray  # per-query path messages (before retries)
    intra: IntArray  # of which intra-rack
    inter: IntArray  # of which inter-rack (client messages are neither)
    stage: IntArray  # deciding stage index, -1 for a cache hit


def route(
    cfg: SimConfig,
    kind: TopologyKind,
    ns: Namespace,
    wl: Workload,
    hits: npt.NDArray[np.bool_],
    stages: StageModel,
    rng: np.random.Generator,
) -> Routed:
    n = len(wl.arrival)
    net, res = cfg.network, cfg.resolver
    g = ns.engines
    stage, cpu = stages.sample(rng, n)
    cached = stages.cached.sample(rng, n)
    stage = np.where(hits, -1, stage)
    req_bytes = net.header_bytes + net.bytes_per_token * wl.prompt.astype(np.float64)
    t = wl.arrival + hop_s(net.client, req_bytes)
    score = res.score_us_per_candidate * 1e-6
    rack0 = int(ns.engine_rack[0])
    intra = np.zeros(n, dtype=np.int64)
    inter = np.zeros(n, dtype=np.int64)
    if kind != "hierarchical":
        service = np.where(hits, cached, cpu + g * score)
        decided = fifo_departures(t, service, np.zeros(n, dtype=np.int64), res.workers)
        if kind == "flat_poll":
            decided = decided + collective_s(net, g, 2 * g)
            in_rack0 = int((ns.engine_rack == rack0).sum())
            intra += 2 * in_rack0
            inter += 2 * (g - in_rack0)
        elif kind == "all_to_all":
            decided = decided + collective_s(net, g, g - 1)
            per_rack = np.bincount(ns.engine_rack)
            same = int((per_rack * (per_rack - 1)).sum())
            intra += same
            inter += g * (g - 1) - same
        msgs = np.full(n, path_messages(kind, g), dtype=np.int64)
        return Routed(decided, np.full(n, rack0, dtype=np.int64), msgs, intra, inter, stage)

    depth = ns.depth[wl.target]
    miss = ~hits
    per_level_cpu = cpu / (depth + 1) + ns.branching * score
    decided = fifo_departures(
        t, np.where(hits, cached, per_level_cpu), np.zeros(n, dtype=np.int64), res.workers
    )
    name_rack = ns.name_rack()
    for level in range(1, ns.max_depth + 1):
        idx = np.flatnonzero(miss & (depth >= level))
        if len(idx) == 0:
            break
        here = ns.ancestors[wl.target[idx], level]
        above = ns.ancestors[wl.target[idx], level - 1]
        same = name_rack[here] == name_rack[above]
        arrive = decided[idx] + rack_hop_s(net, same, req_bytes[idx])
        decided[idx] = fifo_departures(arrive, per_level_cpu[idx], here, res.workers)
        intra[idx] += same
        inter[idx] += ~same
    msgs = np.where(hits, 3, depth + 3).astype(np.int64)
    dispatch = np.where(hits, rack0, name_rack[wl.target]).astype(np.int64)
    return Routed(decided, dispatch, msgs, intra, inter, stage)
