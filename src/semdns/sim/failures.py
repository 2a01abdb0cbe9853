"""Engine crash and recovery, run as SimPy processes: one process per engine alternates up and down.

Failures are rare next to requests, so a SimPy process per engine costs little while keeping the
failure model in the standard discrete-event idiom (and easy to extend: correlated rack failures,
gradual traffic restoration). The result is, per engine, the sorted down intervals the request path
consults, so that the per-request work stays vectorised.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import simpy

from semdns.sim.config import Failures


@dataclass(frozen=True)
class Outages:
    """Per engine, arrays of crash times and the matching recovery times."""

    down: list[npt.NDArray[np.float64]]
    up: list[npt.NDArray[np.float64]]

    def is_down(self, engine: int, t: float) -> bool:
        d = self.down[engine]
        if len(d) == 0:
            return False
        i = int(np.searchsorted(d, t, side="right")) - 1
        return i >= 0 and t < float(self.up[engine][i])

    def down_mask(self, engine: npt.NDArray[np.int64], t: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Vectorised :meth:`is_down` for many (engine, time) pairs."""
        out = np.zeros(len(t), dtype=np.bool_)
        for e in np.unique(engine):
            d = self.down[int(e)]
            if len(d) == 0:
                continue
            m = engine == e
            i = np.searchsorted(d, t[m], side="right") - 1
            ok = i >= 0
            res = np.zeros(int(m.sum()), dtype=np.bool_)
            res[ok] = t[m][ok] < self.up[int(e)][i[ok]]
            out[m] = res
        return out

    @property
    def events(self) -> int:
        return sum(len(d) for d in self.down)


def no_outages(engines: int) -> Outages:
    empty = np.empty(0)
    return Outages([empty] * engines, [empty] * engines)


def simulate_outages(f: Failures, engines: int, horizon_s: float, rng: np.random.Generator) -> Outages:
    """Run each engine's crash/recover process over ``[0, horizon_s)`` in one SimPy environment."""
    if not f.enabled:
        return no_outages(engines)
    env = simpy.Environment()
    down: list[list[float]] = [[] for _ in range(engines)]
    up: list[list[float]] = [[] for _ in range(engines)]

    def engine_life(e: int) -> Generator[simpy.Event, None, None]:
        while True:
            yield env.timeout(float(rng.exponential(f.mtbf_s)))
            repair = float(rng.exponential(f.mttr_s))
            down[e].append(env.now)
            up[e].append(env.now + repair)  # known at crash time, so it holds past the horizon too
            yield env.timeout(repair)

    for e in range(engines):
        env.process(engine_life(e))
    env.run(until=horizon_s)
    return Outages([np.asarray(d) for d in down], [np.asarray(u) for u in up])
