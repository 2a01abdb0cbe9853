"""Server settings (the zone files say *what* is served; these say *how* this process serves it).

Read from ``SEMDNS_*`` environment variables, overridable by the CLI, so that a container needs no
config file. Per-name behaviour (balancing, timeouts, retries, breaker) lives in the zone files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off", ""))

_LOWEST: dict[str, float] = {
    "max_body_bytes": 1,
    "local_max_queue": 1,
    "local_threads": 0,
    "local_max_tokens": 1,
    "local_n_ctx": 1,
    "retry_budget_ratio": 0,
    "retry_budget_min_per_s": 0,
    "body_timeout_s": 0,
    "admin_resolve_per_min": 0,
}
"""The smallest value each numeric setting takes (``body_timeout_s`` must be above it): a negative
body limit would refuse every request with 413, a NaN timeout would never fire."""


def _out_of_range(name: str, value: object) -> str | None:
    """Why ``value`` cannot be setting ``name``, or None when it can."""
    lowest = _LOWEST.get(name)
    if lowest is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if name == "body_timeout_s" and value <= lowest:
        return f"must be above {lowest:g} seconds, got {value:g}"
    if value < lowest:
        return f"must be at least {lowest:g}, got {value:g}"
    return None


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """How one gateway process serves."""

    max_body_bytes: int = 1_048_576
    """Largest request body accepted (413 above it)."""
    local_max_queue: int = 8
    """Requests the local engine holds (running + waiting) before it answers 503 ``engine_overloaded``."""
    local_threads: int = 0
    """CPU threads for llama.cpp; 0 = up to 4, from the machine's CPU count."""
    local_max_tokens: int = 256
    """Cap on generated tokens per local request (the client's ``max_tokens`` can only lower it)."""
    local_n_ctx: int = 2048
    """Context window of the local model."""
    warm_local: bool = True
    """Load the local model at start-up (``readyz`` waits for it) rather than on the first request."""
    retry_budget_ratio: float = 0.2
    """Retries allowed per request, on average (20% extra load at most)."""
    retry_budget_min_per_s: float = 5.0
    """Retries a quiet gateway may always make, per second."""
    probes: bool = True
    """Run active health probes (per-name interval in the zone's ``gateway.probe_interval_s``)."""
    redis_url: str = ""
    """Shared state (response cache, rate limits, quotas) in Redis, ``redis://HOST:PORT/DB``; empty:
    in-process. ``SEMDNS_REDIS_URL`` or ``--redis``."""
    tenants_file: str = ""
    """The tenants file (keys, subtrees, limits); empty: open, every key its own cache scope."""
    response_cache: bool = True
    """The response cache (per-name settings in the zone files' ``cache:``)."""
    cache_shadow: bool = False
    """Shadow mode for every name: the cache decides, the engine answers anyway, both are counted."""
    host: str = "127.0.0.1"
    """The address the server listens on; beyond loopback without a tenants file the gateway is in
    protected mode (:mod:`semdns.gateway.guard`)."""
    insecure_open: bool = False
    """Serve clients from any address with no tenants file (``--insecure-open``; warned at start and on
    ``/readyz``)."""
    admin_key: str = field(default="", repr=False)
    """The operator's key for the ``/admin`` routes (``SEMDNS_ADMIN_KEY``), in any mode."""
    body_timeout_s: float = 30.0
    """Longest wait for a request body, from the end of its headers (408 after it)."""
    admin_resolve_per_min: int = 120
    """Calls of ``/admin/resolve`` each admin credential may make per minute (it runs the encoder)."""
    console: bool = True
    """The web console at ``/ui`` (admin key with tenants; loopback only without, unless remote)."""
    console_remote: bool = False
    """Without a tenants file, let non-loopback callers open the console (``--console-remote``)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = _out_of_range(f.name, getattr(self, f.name))
            if problem is not None:
                raise ValueError(f"{f.name} {problem}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> GatewaySettings:
        """Defaults, then ``SEMDNS_<FIELD>`` variables, then ``overrides`` (the CLI's options). A
        variable that does not hold a value of its setting's type and range is refused by name: a
        misspelt boolean (``ture``) is not read as false, a negative size not taken as is."""
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        defaults = cls()
        for f in fields(cls):
            variable = f"SEMDNS_{f.name.upper()}"
            raw = source.get(variable)
            if raw is None:
                continue
            kind = type(getattr(defaults, f.name))
            try:
                if kind is bool:
                    word = raw.strip().lower()
                    if word not in _TRUE | _FALSE:
                        raise ValueError
                    values[f.name] = word in _TRUE
                else:
                    values[f.name] = kind(raw)
            except ValueError:
                expected = (
                    "true or false (1/0, yes/no, on/off)" if kind is bool else f"a valid {kind.__name__}"
                )
                raise ValueError(f"{variable}={raw!r} is not {expected}") from None
            problem = _out_of_range(f.name, values[f.name])
            if problem is not None:
                raise ValueError(f"{variable}={raw!r}: {problem}")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
