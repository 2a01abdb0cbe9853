"""The simulated namespace: a complete b-ary tree of names, each served by a pool of engine replicas.

Names are numbered breadth-first, so name ``k``'s parent is ``(k - 1) // b`` and no pointers are needed.
A name at depth d is served by engines of tier ``tier_for_depth(d)`` (general at the root, then
primary, subdomain, task) with that tier's replica count; names are added level by level until the
tree holds exactly G engines (the last name may get fewer replicas). Both topologies serve the same
namespace with the same engines: they differ only in how a query finds its engine.

Engines are numbered in name order and packed ``rack_size`` to a rack, so siblings share racks; a
name's resolver sits in the rack of its first engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from semdns.sim.config import SimConfig
from semdns.sim.profiles import TIERS, tier_for_depth

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Namespace:
    """The tree and its engines, as flat arrays indexed by name or by engine."""

    branching: int
    parent: IntArray  # per name; -1 for the root
    depth: IntArray  # per name
    first_engine: IntArray  # per name
    replicas: IntArray  # per name
    engine_name: IntArray  # per engine
    engine_rack: IntArray  # per engine
    ancestors: IntArray  # [name, level] -> ancestor at that level (or -1 below the name's depth)

    @property
    def names(self) -> int:
        return len(self.parent)

    @property
    def engines(self) -> int:
        return len(self.engine_name)

    @property
    def max_depth(self) -> int:
        return int(self.depth.max())

    def name_rack(self) -> IntArray:
        """The rack where each name's resolver runs (its first engine's rack)."""
        return self.engine_rack[self.first_engine]

    def children(self, name: int) -> range:
        lo = name * self.branching + 1
        return range(min(lo, self.names), min(lo + self.branching, self.names))

    def tier_index(self) -> IntArray:
        """Per engine, the index into :data:`TIERS` of its tier."""
        return np.minimum(self.depth[self.engine_name], len(TIERS) - 1)


def build_namespace(cfg: SimConfig, engines: int) -> Namespace:
    """Grow the tree breadth-first until it holds ``engines`` engines."""
    b = cfg.topology.branching
    tiers = cfg.engines.tiers
    parent: list[int] = []
    depth: list[int] = []
    replicas: list[int] = []
    total = 0
    while total < engines:
        k = len(parent)
        p = -1 if k == 0 else (k - 1) // b
        d = 0 if k == 0 else depth[p] + 1
        r = min(tiers[tier_for_depth(d)].replicas, engines - total)
        parent.append(p)
        depth.append(d)
        replicas.append(r)
        total += r
    rep = np.asarray(replicas, dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(rep)[:-1]]).astype(np.int64)
    engine_name = np.repeat(np.arange(len(rep), dtype=np.int64), rep)
    engine_rack = np.arange(engines, dtype=np.int64) // cfg.network.rack_size
    dep = np.asarray(depth, dtype=np.int64)
    par = np.asarray(parent, dtype=np.int64)
    levels = int(dep.max()) + 1
    anc = np.full((len(rep), levels), -1, dtype=np.int64)
    for k in range(len(rep)):
        node = k
        for lvl in range(int(dep[k]), -1, -1):
            anc[k, lvl] = node
            node = int(par[node])
    return Namespace(b, par, dep, first, rep, engine_name, engine_rack, anc)
