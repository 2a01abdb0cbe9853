"""Forwarding requests to a delegation's servers: one synthetic pool per delegation node.

A parent does not know the names below a delegation (``contracts.legal.`` lives in the child's zone),
so it has no engines for them. The child is a full ``semdns serve`` gateway, though, so each of the
delegation's servers is treated as an ``openai`` replica whose model is the *name* asked for
(:class:`OpenAIHTTPEngine` with ``model=None`` keeps the body's ``model``, which dispatch sets). Being
ordinary replicas in an ordinary :class:`Pool`, they get the same retries, breakers, retry budget and
metrics as any engine; when they all fail, dispatch falls back to the delegation node's own engines
(the glue), then its ancestors.
"""

from __future__ import annotations

import logging
import random

from semdns.engines.breaker import BreakerState, CircuitBreaker
from semdns.engines.openai_http import OpenAIHTTPEngine, SharedHTTP
from semdns.engines.pool import Pool, Replica
from semdns.gateway.metrics import GatewayMetrics
from semdns.names import Name
from semdns.zone.tree import ZoneTree

log = logging.getLogger(__name__)


def delegation_pools(
    tree: ZoneTree, client: SharedHTTP, metrics: GatewayMetrics, rng: random.Random | None = None
) -> dict[Name, Pool]:
    """A pool per delegation node whose replicas are its servers' gateways (label: the server URL)."""
    pools: dict[Name, Pool] = {}
    for node in tree:
        record = node.delegation
        if record is None or tree.children(node.name):
            continue
        replicas: list[Replica] = []
        for server in dict.fromkeys(str(s).rstrip("/") for s in record.servers):
            engine = OpenAIHTTPEngine(client, server + "/v1", None, label=server)

            def on_change(state: BreakerState, name: Name = node.name, label: str = server) -> None:
                log.warning("circuit breaker of delegated %s (%s) is now %s", label, name, state.name.lower())
                metrics.breaker_changed(name, label, state)

            breaker = CircuitBreaker(node.gateway.breaker, on_change=on_change)
            replicas.append(Replica(node.name, engine, 1, breaker))
        if replicas:
            pools[node.name] = Pool(node.name, replicas, node.gateway, rng=rng)
    return pools
