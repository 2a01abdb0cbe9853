"""The simulator's configuration: a YAML file validated by pydantic, with errors that name the field.

Every knob has a default, so ``{}`` is a valid config; an example that uses them all is
``examples/sim/small.yaml``. Unknown keys are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from semdns.sim.profiles import ACCELERATORS, TIERS
from semdns.textfiles import UnreadableText, read_text
from semdns.zone.yamlsource import YamlSourceError, load_located


class SimConfigError(ValueError):
    """A simulator config that cannot be used; the message names the field (``a.b.c: what is wrong``)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LengthDist(_Strict):
    """A token-length distribution; ``lognormal`` is parameterised by its mean, not by mu."""

    kind: Literal["constant", "exponential", "lognormal"] = "lognormal"
    mean: float = Field(256.0, gt=0)
    sigma: float = Field(0.8, ge=0, description="lognormal shape (std of the log)")
    max: int = Field(32768, ge=1, description="lengths are clipped to [1, max]")


class Arrivals(_Strict):
    """Poisson, or bursty: a two-state Markov-modulated Poisson process with the same mean rate."""

    kind: Literal["poisson", "bursty"] = "poisson"
    burst_factor: float = Field(4.0, ge=1, description="rate in a burst / rate outside one")
    burst_fraction: float = Field(0.2, gt=0, lt=1, description="share of time spent in bursts")
    burst_mean_s: float = Field(1.0, gt=0, description="mean length of one burst")


class Popularity(_Strict):
    """Zipf popularity over distinct queries: what gives the decision cache something to hit."""

    distinct_queries: int = Field(50_000, ge=1)
    zipf_s: float = Field(0.8, ge=0, description="0 = uniform")


class Requests(_Strict):
    """The offered load. Give ``rate_per_s`` or ``rate_per_engine_s`` (scales with G), not both."""

    count: int = Field(20_000, ge=1)
    rate_per_s: float | None = Field(None, gt=0)
    rate_per_engine_s: float | None = Field(None, gt=0)
    arrivals: Arrivals = Arrivals()
    prompt_tokens: LengthDist = LengthDist(mean=512)
    output_tokens: LengthDist = LengthDist(mean=128)
    popularity: Popularity = Popularity()
    domain_mix: list[float] | None = Field(
        None, description="weights over the top-level names (domains); default uniform"
    )
    general_share: float = Field(0.01, ge=0, lt=1, description="queries that resolve to the root")
    stop_probability: float = Field(
        0.02, ge=0, le=1, description="chance that resolution stops at an inner name"
    )

    @model_validator(mode="after")
    def _one_rate(self) -> Requests:
        if self.rate_per_s is not None and self.rate_per_engine_s is not None:
            raise ValueError("give rate_per_s or rate_per_engine_s, not both")
        return self

    def rate_for(self, engines: int) -> float:
        """Offered requests per second at ``engines`` engines (default: 2 per engine per second)."""
        if self.rate_per_s is not None:
            return self.rate_per_s
        return (self.rate_per_engine_s or 2.0) * engines

    @field_validator("domain_mix")
    @classmethod
    def _mix(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or any(w < 0 for w in v) or sum(v) <= 0):
            raise ValueError("domain_mix needs non-negative weights with a positive sum")
        return v


class Latency(_Strict):
    """A latency distribution given as two percentiles; it is sampled as the lognormal they define."""

    p50_us: float = Field(gt=0)
    p99_us: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Latency:
        if self.p99_us < self.p50_us:
            raise ValueError("p99_us must be >= p50_us")
        return self


class Stage(Latency):
    """One resolver stage: the share of queries it decides and how long deciding takes."""

    share: float = Field(ge=0, le=1)


class Resolver(_Strict):
    """Resolver costs: from ``calibration`` (JSON printed by ``bench/resolve.py``) or ``stages`` by hand."""

    calibration: Path | None = None
    stages: dict[str, Stage] | None = None
    cached: Latency | None = None
    cache_ttl_s: float = Field(3600.0, ge=0, description="0 disables the decision cache")
    cache_capacity: int | None = Field(None, ge=1, description="LRU entries; default unbounded")
    score_us_per_candidate: float = Field(
        0.05, ge=0, description="load-aware scoring cost for each candidate engine or child"
    )
    workers: int = Field(4, ge=1, description="CPU workers per resolver (or per flat router)")

    @field_validator("stages")
    @classmethod
    def _shares(cls, v: dict[str, Stage] | None) -> dict[str, Stage] | None:
        if v is not None:
            total = sum(s.share for s in v.values())
            if not v or not math.isclose(total, 1.0, abs_tol=0.02):
                raise ValueError(f"stage shares must sum to 1 (they sum to {total:.3f})")
        return v


class Tier(_Strict):
    """An engine tier: model size, numeric format, KV footprint, tensor parallelism and replicas."""

    params_b: float = Field(gt=0, description="parameters, in billions")
    bytes_per_param: float = Field(2.0, gt=0)
    kv_bytes_per_token: float = Field(gt=0)
    tp: int = Field(1, ge=1, description="accelerators per engine (tensor parallel, within a rack)")
    replicas: int = Field(1, ge=1, description="engines per name at this tier")


def _default_tiers() -> dict[str, Tier]:
    # Sizes from the specification's table (70B+ / 13-30B / 3-7B / 1-3B); KV bytes per token for
    # GQA models of those sizes (e.g. 70B: 80 layers x 8 KV heads x 128 dims x 2 (K, V) x 2 bytes).
    return {
        "general": Tier(params_b=70, kv_bytes_per_token=327_680, tp=4, replicas=2),
        "primary": Tier(params_b=20, kv_bytes_per_token=163_840, tp=1, replicas=1),
        "subdomain": Tier(params_b=5, kv_bytes_per_token=98_304, tp=1, replicas=1),
        "task": Tier(params_b=2, kv_bytes_per_token=49_152, tp=1, replicas=1),
    }


class Engines(_Strict):
    """The engine model: a named accelerator, efficiencies, batching limit and the four tiers."""

    accelerator: str = "h100-sxm"
    memory_efficiency: float = Field(0.8, gt=0, le=1)
    flop_efficiency: float = Field(0.5, gt=0, le=1)
    max_batch: int = Field(64, ge=1)
    step_overhead_us: float = Field(100.0, ge=0, description="scheduler/kernel-launch cost per step")
    tiers: dict[str, Tier] = Field(default_factory=_default_tiers)

    @field_validator("accelerator")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in ACCELERATORS:
            raise ValueError(f"unknown accelerator {v!r}; known: {', '.join(sorted(ACCELERATORS))}")
        return v

    @field_validator("tiers")
    @classmethod
    def _all_tiers(cls, v: dict[str, Tier]) -> dict[str, Tier]:
        defaults = _default_tiers()
        unknown = set(v) - set(TIERS)
        if unknown:
            raise ValueError(f"unknown tier(s) {sorted(unknown)}; tiers are {', '.join(TIERS)}")
        return {name: v.get(name, defaults[name]) for name in TIERS}


TopologyKind = Literal["hierarchical", "flat", "flat_poll", "all_to_all"]
_DEFAULT_KINDS: list[TopologyKind] = ["flat", "hierarchical"]


class Topology(_Strict):
    """Which topologies to compare, over which engine counts G, and the tree's branching factor."""

    kinds: list[TopologyKind] = Field(default_factory=lambda: _DEFAULT_KINDS.copy(), min_length=1)
    engines: list[int] = Field(default_factory=lambda: [8, 16, 32, 64], min_length=1)
    branching: int = Field(4, ge=2)
    state_interval_s: float = Field(0.1, gt=0, description="period of pushed load reports")

    @field_validator("engines")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(g < 1 for g in v):
            raise ValueError("every engine count must be >= 1")
        return sorted(set(v))


class Link(_Strict):
    latency_us: float = Field(ge=0)
    bandwidth_gbps: float = Field(gt=0, description="gigabits per second")


class Network(_Strict):
    """Intra-rack (NVLink-class) vs inter-rack (Ethernet/InfiniBand-class) links, and message sizes."""

    rack_size: int = Field(16, ge=1, description="engines per rack")
    intra_rack: Link = Link(latency_us=2.0, bandwidth_gbps=3600.0)
    inter_rack: Link = Link(latency_us=10.0, bandwidth_gbps=400.0)
    client: Link = Link(latency_us=500.0, bandwidth_gbps=10.0)
    header_bytes: int = Field(256, ge=0)
    bytes_per_token: int = Field(4, ge=0)
    state_bytes: int = Field(128, ge=1, description="size of one load report or coordination message")


class Failures(_Strict):
    """Engine crash and recovery (exponential MTBF and MTTR), run as SimPy processes."""

    enabled: bool = False
    mtbf_s: float = Field(3600.0, gt=0)
    mttr_s: float = Field(60.0, gt=0)
    detect_s: float = Field(0.5, ge=0, description="time before an in-flight request is retried")


class Slo(_Strict):
    """Goodput counts requests that meet both targets."""

    ttft_s: float = Field(2.0, gt=0)
    tpot_s: float = Field(0.1, gt=0, description="mean time per output token after the first")


class Cascade(_Strict):
    """A confidence cascade's cost model (``semdns.sim.cascade``): a small tier that answers every
    request and a large tier that takes the ``escalation_share`` the small one is unsure of.

    The default share, 0.48, is what ``bench/cascade.py`` measured at the median score threshold
    (docs/compression.md); the default prices (1 and 2 per request) are the ones it used.
    """

    small: str = "task"
    large: str = "primary"
    escalation_share: float = Field(0.48, ge=0, le=1)
    small_cost: float = Field(1.0, ge=0, description="price of one request on the small tier")
    large_cost: float = Field(2.0, ge=0, description="price of one request on the large tier")
    decide: Literal["answer", "prefix"] = Field(
        "answer", description="decide on the whole answer, or on its first prefix_tokens (streams)"
    )
    prefix_tokens: int = Field(16, ge=1)
    slo_quantile: float = Field(0.99, gt=0, le=1, description="share of a pool's requests within the SLO")
    max_replicas: int = Field(4096, ge=1, description="give up sizing a pool beyond this")

    @field_validator("small", "large")
    @classmethod
    def _tier(cls, v: str) -> str:
        if v not in TIERS:
            raise ValueError(f"unknown tier {v!r}; tiers are {', '.join(TIERS)}")
        return v

    @model_validator(mode="after")
    def _two_tiers(self) -> Cascade:
        if self.small == self.large:
            raise ValueError("small and large must be different tiers")
        return self


class SimConfig(_Strict):
    """The whole simulator configuration."""

    seed: int = 0
    requests: Requests = Requests()
    resolver: Resolver = Resolver()
    engines: Engines = Engines()
    topology: Topology = Topology()
    network: Network = Network()
    failures: Failures = Failures()
    slo: Slo = Slo()
    cascade: Cascade = Cascade()
    plots: bool = True


def _format_errors(err: ValidationError, where: Callable[[tuple[str | int, ...]], str] | None = None) -> str:
    """pydantic's errors as ``path: what``, each after ``where(path)`` (a config file's ``file:line: ``)
    when given; one a line."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = str(e["msg"]).removeprefix("Value error, ")
        prefix = where(tuple(e["loc"])) if where is not None else ""
        lines.append(f"{prefix}{loc}: {msg}")
    return "\n".join(lines) if where is not None else "; ".join(lines)


def parse_config(
    data: Any,
    base_dir: Path | None = None,
    where: Callable[[tuple[str | int, ...]], str] | None = None,
) -> SimConfig:
    """Validate a mapping as a :class:`SimConfig`; relative calibration paths resolve from ``base_dir``;
    ``where`` places each error (``load_config``: the file and line of its path)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        top = where(()) if where is not None else ""
        raise SimConfigError(f"{top}(top level): the config must be a mapping")
    try:
        cfg = SimConfig.model_validate(data)
    except ValidationError as err:
        raise SimConfigError(_format_errors(err, where)) from None
    cal = cfg.resolver.calibration
    if cal is not None and base_dir is not None and not cal.is_absolute():
        cfg = cfg.model_copy(
            update={"resolver": cfg.resolver.model_copy(update={"calibration": base_dir / cal})}
        )
    return cfg


def load_config(path: Path) -> SimConfig:
    """Read and validate a YAML config file; every problem is reported as ``file:line: path: what``
    (one a line), like the zone files'."""
    try:
        text = read_text(path)
    except UnreadableText as err:
        raise SimConfigError(f"{path}: cannot read ({err.reason})") from None
    try:
        doc = load_located(text)
    except YamlSourceError as err:
        line = f":{err.line}" if err.line else ""
        raise SimConfigError(f"{path}{line}: {err.message}") from None

    def where(location: tuple[str | int, ...]) -> str:
        line = doc.line_of(location)
        return f"{path}:{line}: " if line else f"{path}: "

    return parse_config(doc.value, base_dir=path.parent, where=where)
