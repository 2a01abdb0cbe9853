"""Resolver costs: read from the JSON that ``bench/resolve.py`` prints, or taken from the config.

The benchmark measures the real resolver (keyword, embedding, classifier stages and the decision
cache), so reading its output calibrates the simulator against this machine's resolver instead of the
paper's assumed figures. Only ``stages`` and ``cached`` are read; other keys are ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semdns.sim.config import Latency, Resolver, SimConfigError

_Z99 = 2.3263478740408408  # standard normal quantile at 0.99


@dataclass(frozen=True)
class LogNormal:
    """A lognormal latency fitted to a median and a 99th percentile, in seconds."""

    mu: float
    sigma: float

    @classmethod
    def from_percentiles(cls, p50_us: float, p99_us: float) -> LogNormal:
        return cls(mu=math.log(p50_us * 1e-6), sigma=max(0.0, math.log(p99_us / p50_us) / _Z99))

    def sample(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
        return np.exp(self.mu + self.sigma * rng.standard_normal(n))


@dataclass(frozen=True)
class StageModel:
    """Which share of (uncached) queries each stage decides, and each stage's latency."""

    names: tuple[str, ...]
    shares: tuple[float, ...]
    latencies: tuple[LogNormal, ...]
    cached: LogNormal
    source: str

    def sample(
        self, rng: np.random.Generator, n: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Draw, for ``n`` uncached queries, the deciding stage's index and its latency in seconds."""
        stage = rng.choice(len(self.names), size=n, p=np.asarray(self.shares) / sum(self.shares))
        lat = np.empty(n)
        for i, dist in enumerate(self.latencies):
            mask = stage == i
            lat[mask] = dist.sample(rng, int(mask.sum()))
        return stage.astype(np.int64), lat


# Hand defaults when neither a calibration file nor stages are given: the paper's shape (about 60 %
# decided by keywords in under a millisecond), with embedding and classifier costs of a CPU MiniLM.
_DEFAULT_STAGES: dict[str, tuple[float, float, float]] = {
    "keyword": (0.6, 50.0, 200.0),
    "embedding": (0.3, 7000.0, 15000.0),
    "classifier": (0.1, 8000.0, 16000.0),
}
_DEFAULT_CACHED = (5.0, 20.0)


def _latency(obj: Any, where: str) -> tuple[float, float]:
    if not isinstance(obj, dict):
        raise SimConfigError(f"{where}: expected an object with p50_us and p99_us")
    try:
        lat = Latency(p50_us=obj["p50_us"], p99_us=obj["p99_us"])
    except KeyError as err:
        raise SimConfigError(f"{where}.{err.args[0]}: missing") from None
    except ValueError as err:
        raise SimConfigError(f"{where}: {err}") from None
    return lat.p50_us, lat.p99_us


def read_calibration(path: Path) -> StageModel:
    """Parse the resolver benchmark's JSON into a :class:`StageModel`."""
    where = f"resolver.calibration ({path})"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SimConfigError(f"{where}: cannot read ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise SimConfigError(f"{where}: not valid JSON ({err})") from None
    stages = data.get("stages") if isinstance(data, dict) else None
    if not isinstance(stages, dict) or not stages:
        raise SimConfigError(f"{where}: no 'stages' object")
    names, shares, lats = [], [], []
    for name, obj in stages.items():
        p50, p99 = _latency(obj, f"{where}.stages.{name}")
        share = obj.get("share")
        if not isinstance(share, int | float) or share < 0:
            raise SimConfigError(f"{where}.stages.{name}.share: expected a number >= 0")
        names.append(str(name))
        shares.append(float(share))
        lats.append(LogNormal.from_percentiles(p50, p99))
    if sum(shares) <= 0:
        raise SimConfigError(f"{where}.stages: shares sum to 0")
    cached = _latency(data.get("cached", dict(zip(("p50_us", "p99_us"), _DEFAULT_CACHED, strict=True))),
                      f"{where}.cached")  # fmt: skip
    return StageModel(
        tuple(names), tuple(shares), tuple(lats), LogNormal.from_percentiles(*cached), str(path)
    )


def stage_model(cfg: Resolver) -> StageModel:
    """The resolver cost model the config asks for: calibration file, hand stages, or defaults."""
    if cfg.calibration is not None:
        model = read_calibration(cfg.calibration)
        if cfg.cached is not None:
            cached = LogNormal.from_percentiles(cfg.cached.p50_us, cfg.cached.p99_us)
            model = StageModel(model.names, model.shares, model.latencies, cached, model.source)
        return model
    if cfg.stages is not None:
        items = {k: (s.share, s.p50_us, s.p99_us) for k, s in cfg.stages.items()}
        source = "config"
    else:
        items = _DEFAULT_STAGES
        source = "defaults"
    c = (cfg.cached.p50_us, cfg.cached.p99_us) if cfg.cached is not None else _DEFAULT_CACHED
    return StageModel(
        tuple(items),
        tuple(v[0] for v in items.values()),
        tuple(LogNormal.from_percentiles(v[1], v[2]) for v in items.values()),
        LogNormal.from_percentiles(*c),
        source,
    )
