"""Prometheus metrics of one gateway (its own registry: no process globals, so tests and several
runtimes in one process never share counters).

Exported: requests by served name, deciding stage and status; resolution and engine latency
histograms; engine attempts by outcome; retries (allowed or refused by the budget); fallbacks by
source and target name; breaker state per replica (0 closed, 1 half-open, 2 open); replica health by
probe; routing decisions by cache status, plus the resolver cache's own counters when it has them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from semdns.engines.breaker import BreakerState
from semdns.names import Name
from semdns.promlabels import CachedLabels

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_RESOLUTION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_ENGINE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class _CacheStatsCollector(Collector):
    """Exposes the resolver cache's ``stats()`` dict (numbers only) at scrape time."""

    def __init__(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stats = self.stats()
        except Exception:  # the resolver's cache must never break a scrape
            return
        family = GaugeMetricFamily(
            "semdns_resolver_cache",
            "Resolver decision-cache counters, as the cache reports them",
            labels=["stat"],
        )
        for key, value in stats.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                family.add_metric([str(key)], float(value))
        yield family


class _ZoneSerialCollector(Collector):
    """``semdns_zone_serial``: each zone's serial in service, read from the live tree at scrape time."""

    def __init__(self, serials: Callable[[], Mapping[Name, int]]) -> None:
        self.serials = serials

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "semdns_zone_serial", "The serial of each zone in service (0: the zone file gives none)",
            labels=["zone"],
        )  # fmt: skip
        for origin, serial in sorted(self.serials().items()):
            family.add_metric([str(origin)], float(serial))
        yield family


T = TypeVar("T")


class GatewayMetrics:
    """All gateway metrics; also the dispatcher's :class:`~semdns.dispatch.DispatchObserver`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._parts: dict[str, object] = {}
        r = self.registry
        self.requests = CachedLabels(Counter(
            "semdns_requests", "Requests by served name, deciding stage and HTTP status",
            ["name", "stage", "status"], registry=r,
        ))  # fmt: skip
        self.resolution_seconds = CachedLabels(Histogram(
            "semdns_resolution_seconds", "Time to resolve a request to a name, by deciding stage",
            ["stage"], buckets=_RESOLUTION_BUCKETS, registry=r,
        ))  # fmt: skip
        self.engine_seconds = CachedLabels(Histogram(
            "semdns_engine_seconds", "Engine attempt latency (to the answer, or to the end of a stream)",
            ["name", "replica", "outcome"], buckets=_ENGINE_BUCKETS, registry=r,
        ))  # fmt: skip
        self.retries = CachedLabels(Counter(
            "semdns_retries", "Retries on another replica, by whether the retry budget allowed them",
            ["name", "allowed"], registry=r,
        ))  # fmt: skip
        self.fallbacks = CachedLabels(
            Counter(
                "semdns_fallbacks", "Fallbacks from a name to its parent", ["source", "target"], registry=r
            )
        )
        self.breaker_state = Gauge(
            "semdns_breaker_state", "Circuit breaker state per replica: 0 closed, 1 half-open, 2 open",
            ["name", "replica"], registry=r,
        )  # fmt: skip
        self.replica_healthy = Gauge(
            "semdns_replica_healthy",
            "1 when active probes find the replica up",
            ["name", "replica"],
            registry=r,
        )
        self.decision_cache = CachedLabels(
            Counter(
                "semdns_decision_cache", "Routing decisions by decision-cache status", ["status"], registry=r
            )
        )
        self._cache_collector: _CacheStatsCollector | None = None
        self._zones_collector: _ZoneSerialCollector | None = None

    def once(self, key: str, make: Callable[[], T]) -> T:
        """The part registered under ``key``, made by ``make`` the first time: a step that registers
        its own series in this registry (compression, cascades) is built once, and a hot reload's new
        generation, which shares these metrics, reuses it instead of registering them again."""
        if key not in self._parts:
            self._parts[key] = make()
        return cast(T, self._parts[key])

    def watch_cache(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        """Export the resolver cache's counters (a reload's new resolver replaces the old one's)."""
        if self._cache_collector is None:
            self._cache_collector = _CacheStatsCollector(stats)
            self.registry.register(self._cache_collector)
        else:
            self._cache_collector.stats = stats

    def watch_zones(self, serials: Callable[[], Mapping[Name, int]]) -> None:
        """Export the serials of the zones in service (a reload's tree replaces the old one's)."""
        if self._zones_collector is None:
            self._zones_collector = _ZoneSerialCollector(serials)
            self.registry.register(self._zones_collector)
        else:
            self._zones_collector.serials = serials

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    # -- DispatchObserver -------------------------------------------------------------------------

    def attempt(self, name: Name, replica: str, outcome: str, seconds: float) -> None:
        self.engine_seconds.labels(str(name), replica, outcome).observe(seconds)

    def fallback(self, source: Name, target: Name) -> None:
        self.fallbacks.labels(str(source), str(target)).inc()

    def retry(self, name: Name, allowed: bool) -> None:
        self.retries.labels(str(name), "true" if allowed else "false").inc()

    # -- health -----------------------------------------------------------------------------------

    def breaker_changed(self, name: Name, replica: str, state: BreakerState) -> None:
        self.breaker_state.labels(str(name), replica).set(int(state))

    def health_changed(self, name: Name, replica: str, healthy: bool) -> None:
        self.replica_healthy.labels(str(name), replica).set(1 if healthy else 0)

    def forget_replica(self, name: Name, replica: str) -> None:
        """A reload removed the replica: drop its state series (its counters stay, as history)."""
        for gauge in (self.breaker_state, self.replica_healthy):
            with contextlib.suppress(KeyError):
                gauge.remove(str(name), replica)
