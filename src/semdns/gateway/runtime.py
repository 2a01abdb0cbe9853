"""The runtime: everything one gateway needs, built once from the zone tree and settings.

No globals: the ASGI app, the dispatcher, the health prober and the metrics all receive this object
(or parts of it). Tests build their own runtime with their own tree and a stub resolver.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from semdns.dispatch import Dispatcher
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
    ) -> Runtime:
        """Pools for every name that has engines; nothing is started until :meth:`start`."""
        settings = settings or GatewaySettings()
        metrics = GatewayMetrics()
        client = SharedHTTP(max_connections=1024)
        hosts: dict[str | None, LocalModelHost] = {}
        pools: dict[Name, Pool] = {}
        for node in tree:
            if node.engines:
                pools[node.name] = _build_pool(node, client, hosts, settings, metrics, rng)
        resolver_cache = getattr(resolver, "cache", None)
        if resolver_cache is not None and callable(getattr(resolver_cache, "stats", None)):
            metrics.watch_cache(resolver_cache.stats)
        dispatcher = Dispatcher(
            tree,
            pools,
            budget=RetryBudget(settings.retry_budget_ratio, settings.retry_budget_min_per_s),
            observer=metrics,
            delegations=delegation_pools(tree, client, metrics, rng),
        )
        prober = None
        if settings.probes:
            prober = HealthProber(
                pools.values(),
                on_change=lambda r, ok: metrics.health_changed(r.name, r.label, ok),
            )
        edge = _build_edge(tree, resolver, settings, metrics)
        return cls(tree, resolver, settings, metrics, client, pools, dispatcher, hosts, prober, edge=edge)

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
        self.ready = True

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


def _build_edge(
    tree: ZoneTree, resolver: ResolverLike, settings: GatewaySettings, metrics: GatewayMetrics
) -> Edge:
    """Tenants, shared state and the response cache (TenantsFileError / ValueError on bad config)."""
    from semdns.state import open_state
    from semdns.tenancy import load_tenants

    tenants = load_tenants(settings.tenants_file) if settings.tenants_file else None
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


def _build_pool(
    node: ZoneNode,
    client: SharedHTTP,
    hosts: dict[str | None, LocalModelHost],
    settings: GatewaySettings,
    metrics: GatewayMetrics,
    rng: random.Random | None,
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
        replicas.append(Replica(node.name, engine, record.weight, breaker, record.timeout_s))
    return Pool(node.name, replicas, node.gateway, rng=rng)
