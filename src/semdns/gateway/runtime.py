"""The runtime: everything one gateway needs, built once from the zone tree and settings.

No globals: the ASGI app, the dispatcher, the health prober and the metrics all receive this object
(or parts of it). Tests build their own runtime with their own tree and a stub resolver.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from semdns.dispatch import Dispatcher, DispatchObserver
from semdns.engines.breaker import BreakerState, CircuitBreaker
from semdns.engines.budget import RetryBudget
from semdns.engines.health import HealthProber
from semdns.engines.local import DEFAULT_MODEL_FILE, LocalEngine, LocalModelHost
from semdns.engines.openai_http import OpenAIHTTPEngine, SharedHTTP
from semdns.engines.pool import Pool, Replica
from semdns.engines.protocol import Engine
from semdns.gateway.edge import Edge
from semdns.gateway.forward import delegation_pools
from semdns.gateway.metrics import GatewayMetrics
from semdns.gateway.settings import GatewaySettings
from semdns.names import Name
from semdns.resolve.decision import RoutingDecision
from semdns.ui.feed import DecisionFeed
from semdns.zone.tree import ZoneNode, ZoneTree

if TYPE_CHECKING:
    from semdns.gateway.recursion import Recursion
    from semdns.gateway.tracing import Tracing
    from semdns.tenancy import Tenants

log = logging.getLogger(__name__)


class ResolverLike(Protocol):
    """What the gateway needs from :class:`semdns.resolve.Resolver`."""

    async def aresolve(self, query: str, context: str | None = None) -> RoutingDecision: ...


@dataclass
class Runtime:
    """One gateway's state: tree, resolver, pools, dispatcher, shared HTTP client, metrics."""

    tree: ZoneTree
    resolver: ResolverLike
    settings: GatewaySettings
    metrics: GatewayMetrics
    client: SharedHTTP
    pools: dict[Name, Pool]
    dispatcher: Dispatcher
    local_hosts: dict[str | None, LocalModelHost] = field(default_factory=dict)
    prober: HealthProber | None = None
    ready: bool = False
    edge: Edge | None = None
    recursion: Recursion | None = None
    """Follows delegations for ``auto`` (set by ``semdns serve``, which owns the follower)."""
    tracing: Tracing | None = None
    """OpenTelemetry (:mod:`.tracing`): None unless an OTLP endpoint is configured."""
    replica_records: dict[tuple[Name, str], tuple[object, Replica]] = field(default_factory=dict)
    """(name, label) → (the record and breaker spec it was built from, the replica): what a reload
    compares to keep unchanged replicas."""
    feed: DecisionFeed = field(default_factory=DecisionFeed)
    """Decisions as they are served, for the console's live view (free when nobody watches)."""

    @classmethod
    def build(
        cls,
        tree: ZoneTree,
        resolver: ResolverLike,
        settings: GatewaySettings | None = None,
        *,
        rng: random.Random | None = None,
        previous: Runtime | None = None,
    ) -> Runtime:
        """Pools for every name that has engines; nothing is started until :meth:`start`.

        With ``previous`` (a hot reload, :mod:`semdns.gateway.reload`) the new runtime is built aside
        from the one in service and shares its long-lived parts; start it with :meth:`start_after`."""
        settings = settings or GatewaySettings()
        # A reload's runtime shares the previous one's metrics, HTTP client, local models and edge
        # state, and keeps every replica whose record did not change (health and breaker included).
        metrics = previous.metrics if previous is not None else GatewayMetrics()
        client = previous.client if previous is not None else SharedHTTP(max_connections=1024)
        hosts = dict(previous.local_hosts) if previous is not None else {}
        kept = previous.replica_records if previous is not None else {}
        records: dict[tuple[Name, str], tuple[object, Replica]] = {}
        pools: dict[Name, Pool] = {}
        for node in tree:
            if node.engines:
                pools[node.name] = _build_pool(node, client, hosts, settings, metrics, rng, kept, records)
        # Tracing (only when an OTLP endpoint is configured) wraps the steps; off, nothing is built.
        tracing = previous.tracing if previous is not None else _tracing_from_env()
        observer: DispatchObserver = metrics
        make_dispatcher: Callable[..., Dispatcher] = Dispatcher
        if tracing is not None:
            from semdns.gateway.tracing import TracedDispatcher, TracedObserver, TracedResolver

            client.trace_configs = client.trace_configs or tracing.trace_configs()
            resolver = TracedResolver(getattr(resolver, "inner", resolver), tracing.tracer)
            observer = TracedObserver(metrics, tracing.tracer)
            make_dispatcher = functools.partial(TracedDispatcher, tracer=tracing.tracer)
        dispatcher = make_dispatcher(
            tree,
            pools,
            budget=RetryBudget(settings.retry_budget_ratio, settings.retry_budget_min_per_s),
            observer=observer,
            delegations=delegation_pools(tree, client, metrics, rng),
        )
        if tracing is not None:
            tracing.instrument([*pools.values(), *dispatcher.delegations.values()])
        prober = None
        if settings.probes:
            prober = HealthProber(
                pools.values(),
                on_change=lambda r, ok: metrics.health_changed(r.name, r.label, ok),
            )
        if previous is not None and previous.edge is not None:
            edge = previous.edge.successor(tree, _load_tenants(settings))
        else:
            edge = _build_edge(tree, resolver, settings, metrics)
        if tracing is not None:
            edge.tracer = tracing.tracer
        runtime = cls(
            tree, resolver, settings, metrics, client, pools, dispatcher, hosts, prober, edge=edge,
            replica_records=records, tracing=tracing,
        )  # fmt: skip
        if previous is not None:
            runtime.feed = previous.feed  # the console's watchers follow the reload
        if previous is None:
            runtime.expose()
        return runtime

    def expose(self) -> None:
        """Point the scrape-time metrics (zone serials, the resolver cache's counters) at this
        runtime: at build, or when a reload puts it in service (not before: a refused reload must
        not show the serials of a tree that never served)."""
        resolver_cache = getattr(self.resolver, "cache", None)
        if resolver_cache is not None and callable(getattr(resolver_cache, "stats", None)):
            self.metrics.watch_cache(resolver_cache.stats)
        tree = self.tree
        self.metrics.watch_zones(lambda: tree.serials)

    async def start(self) -> None:
        """Warm the local model (when asked), start probes, then report ready."""
        if self.settings.warm_local:
            for host in self.local_hosts.values():
                if host.available():
                    await host.warm()
                else:
                    log.warning("local engine unavailable: install it with pip install 'semdns[local]'")
        if self.prober is not None:
            self.prober.start()
        if self.edge is not None:
            await self.edge.start()
        if self.tracing is not None and self.recursion is not None:
            self.recursion.follower.peers.trace_configs = self.tracing.trace_configs()
        self.ready = True

    async def start_after(self) -> None:
        """Start a reloaded runtime: its probes only (the model, edge state and client it shares with
        the previous runtime are already running)."""
        if self.prober is not None:
            self.prober.start()
        self.ready = True

    async def retire(self) -> None:
        """Stop what a replaced runtime owns alone (its probes); shared parts stay with its successor."""
        if self.prober is not None:
            await self.prober.stop()

    async def aclose(self) -> None:
        self.ready = False
        if self.prober is not None:
            await self.prober.stop()
        await self.client.aclose()
        for host in self.local_hosts.values():
            host.close()
        if self.edge is not None:
            await self.edge.aclose()
        if self.recursion is not None:
            # The follower's peer client holds an aiohttp session on this loop: close it here, or the
            # process warns about an unclosed session on exit.
            await self.recursion.follower.peers.aclose()
        if self.tracing is not None:
            # Exports what is still queued: off the loop, which may serve the receiver (tests).
            await asyncio.to_thread(self.tracing.shutdown)


def _build_edge(
    tree: ZoneTree, resolver: ResolverLike, settings: GatewaySettings, metrics: GatewayMetrics
) -> Edge:
    """Tenants, shared state and the response cache (TenantsFileError / ValueError on bad config)."""
    from semdns.state import open_state

    tenants = _load_tenants(settings)
    state = open_state(settings.redis_url or None)
    return Edge(
        tree,
        state,
        tenants,
        encoder=getattr(resolver, "encoder", None),
        cache=settings.response_cache,
        shadow=settings.cache_shadow,
        registry=metrics.registry,
    )


def _tracing_from_env() -> Tracing | None:
    """OpenTelemetry only when an OTLP endpoint is set (not even imported otherwise)."""
    variables = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    if not any(os.environ.get(v, "").strip() for v in variables):
        return None
    from semdns.gateway.tracing import Tracing

    return Tracing.from_env()


def _load_tenants(settings: GatewaySettings) -> Tenants | None:
    from semdns.tenancy import load_tenants

    return load_tenants(settings.tenants_file) if settings.tenants_file else None


def _build_pool(
    node: ZoneNode,
    client: SharedHTTP,
    hosts: dict[str | None, LocalModelHost],
    settings: GatewaySettings,
    metrics: GatewayMetrics,
    rng: random.Random | None,
    kept: Mapping[tuple[Name, str], tuple[object, Replica]],
    records: dict[tuple[Name, str], tuple[object, Replica]],
) -> Pool:
    replicas: list[Replica] = []
    seen: dict[str, int] = {}
    for record in node.engines:
        engine: Engine
        if record.kind == "openai":
            assert record.url is not None and record.model is not None  # the schema guarantees both
            base = f"{str(record.url).rstrip('/')}#{record.model}"
        else:
            base = f"local:{os.path.basename(record.model or DEFAULT_MODEL_FILE)}"
        count = seen.get(base, 0)
        seen[base] = count + 1
        # Two identical records are two replicas (e.g. to give one server two slots): keep labels distinct.
        label = f"{base}#{count + 1}" if count else base
        spec = (record, node.gateway.breaker)
        previous = kept.get((node.name, label))
        if previous is not None and previous[0] == spec:
            replicas.append(previous[1])
            records[(node.name, label)] = previous
            continue
        if record.kind == "openai":
            assert record.url is not None and record.model is not None
            engine = OpenAIHTTPEngine(
                client, str(record.url), record.model, api_key_env=record.api_key_env, label=label
            )
        else:
            host = hosts.get(record.model)
            if host is None:
                host = LocalModelHost(
                    record.model,
                    n_ctx=settings.local_n_ctx,
                    threads=settings.local_threads or None,
                    max_queue=settings.local_max_queue,
                )
                hosts[record.model] = host
            engine = LocalEngine(host, str(node.name), max_tokens=settings.local_max_tokens, label=label)

        def on_change(state: BreakerState, name: Name = node.name, label: str = label) -> None:
            log.warning("circuit breaker of %s (%s) is now %s", label, name, state.name.lower())
            metrics.breaker_changed(name, label, state)

        breaker = CircuitBreaker(node.gateway.breaker, on_change=on_change)
        metrics.breaker_changed(node.name, label, BreakerState.CLOSED)
        metrics.health_changed(node.name, label, True)
        replica = Replica(node.name, engine, record.weight, breaker, record.timeout_s)
        records[(node.name, label)] = (spec, replica)
        replicas.append(replica)
    return Pool(node.name, replicas, node.gateway, rng=rng)
