"""The JSON the console shows, built from what the runtime already holds (no new bookkeeping).

* :func:`namespace` — the zone tree with DNs, descriptions, each name's replicas (probe health,
  breaker state, in-flight requests), delegations (servers, signed or not) and zone serials;
* :func:`caches` — the decision cache's counters (evictions included), the response cache's
  ``stats()`` (hit rates per tier and name, shadow report) and the feed's own counters;
* :func:`tenants` — each tenant's limits and what is left of them now (read without spending);
* :func:`request_totals` — served requests per name so far, from the Prometheus counter: the
  console turns successive totals into per-name rates (exact even when the feed drops events).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from semdns.engines.breaker import BreakerState
from semdns.tenancy.gate import DAY_S

if TYPE_CHECKING:
    from semdns.engines.pool import Replica
    from semdns.gateway.runtime import Runtime
    from semdns.tenancy.config import Tenant
    from semdns.ui.feed import DecisionFeed


def namespace(runtime: Runtime) -> dict[str, Any]:
    tree = runtime.tree
    serials = _serials(runtime)
    zones: dict[str, dict[str, Any]] = {}
    nodes = []
    for node in tree:
        origin = str(node.zone_origin)
        zone = zones.setdefault(origin, {"origin": origin, "names": 0, "serial": serials.get(origin)})
        zone["names"] += 1
        pool = runtime.pools.get(node.name)
        replicas = [_replica(r) for r in pool.replicas] if pool is not None else []
        delegation = None
        if node.delegation is not None:
            delegation = {
                "servers": [str(s) for s in node.delegation.servers],
                "signed": node.delegation.public_key is not None,
                "ttl": node.delegation.ttl,
            }
        parent = node.name.parent
        nodes.append(
            {
                "name": str(node.name),
                "parent": str(parent) if parent is not None else None,
                "depth": node.name.depth,
                "dn": str(node.dn),
                "description": node.description,
                "zone": origin,
                "ttl": node.ttl,
                "source": str(node.source),
                "keywords": len(node.keywords),
                "examples": len(node.examples),
                "balancing": node.gateway.balancing if pool is not None else None,
                "replicas": replicas,
                "available": pool.available_count() if pool is not None else None,
                "delegation": delegation,
                "response_cache": node.cache.enabled,
            }
        )
    return {
        "apex": str(tree.apex),
        "ready": runtime.ready,
        "probes": runtime.prober is not None,
        "zones": sorted(zones.values(), key=lambda z: (z["origin"] != ".", z["origin"])),
        "nodes": nodes,
        "names_down": [str(n) for n, p in runtime.pools.items() if p.available_count() == 0],
    }


def _replica(replica: Replica) -> dict[str, Any]:
    state = replica.breaker.state
    return {
        "label": replica.label,
        "weight": replica.weight,
        "healthy": replica.healthy,
        "breaker": state.name.lower().replace("_", "-"),
        "available": replica.available(),
        "outstanding": replica.outstanding,
        "ok": replica.healthy and state is not BreakerState.OPEN,
    }


def _serials(runtime: Runtime) -> dict[str, Any]:
    """Zone serials by origin, where the loaded tree records them (``ZoneTree.serials``); empty
    otherwise (the console then shows none rather than inventing one)."""
    raw = getattr(runtime.tree, "serials", None)
    if not raw:
        return {}
    try:
        return {str(origin): serial for origin, serial in dict(raw).items()}
    except (TypeError, ValueError):
        return {}


async def caches(runtime: Runtime, feed: DecisionFeed) -> dict[str, Any]:
    out: dict[str, Any] = {"decision_cache": None, "response_cache": {"enabled": False}}
    resolver_cache = getattr(runtime.resolver, "cache", None)
    stats = getattr(resolver_cache, "stats", None)
    if callable(stats):
        decision = dict(stats())
        lookups = sum(int(decision.get(k, 0)) for k in ("hits", "negative_hits", "misses"))
        hits = int(decision.get("hits", 0)) + int(decision.get("negative_hits", 0))
        decision["hit_rate"] = round(hits / lookups, 4) if lookups else 0.0
        out["decision_cache"] = decision
    edge = runtime.edge
    if edge is not None and edge.cache is not None:
        out["response_cache"] = {"enabled": True, **await edge.cache.stats()}
    out["feed"] = feed.stats()
    return out


async def tenants(runtime: Runtime) -> dict[str, Any]:
    edge = runtime.edge
    if edge is None or edge.gate.tenants is None:
        return {"mode": "open", "tenants": []}
    state = edge.gate.state
    rows = []
    for tenant in edge.gate.tenants.by_name.values():
        rows.append(
            {
                "name": tenant.name,
                "admin": tenant.admin,
                "subtrees": [str(s) for s in tenant.subtrees],
                "outside": tenant.outside,
                "limits": {
                    "requests_per_min": tenant.requests_per_min,
                    "tokens_per_min": tenant.tokens_per_min,
                    "daily_tokens": tenant.daily_tokens,
                },
                "remaining": await _remaining(state, tenant),
            }
        )
    return {"mode": "file", "state": state.health(), "tenants": rows}


async def _remaining(state: Any, tenant: Tenant) -> dict[str, int | None]:
    """What is left now, read with the limiter's own ``check`` (spends nothing): the same keys and
    refill rates as :class:`~semdns.tenancy.Gatekeeper`."""
    out: dict[str, int | None] = {"requests": None, "tokens": None, "daily_tokens": None}
    if tenant.requests_per_min is not None:
        limit = tenant.requests_per_min
        got = await state.bucket(f"rl:req:{tenant.name}", limit, limit / 60, 1, "check")
        out["requests"] = max(0, int(got.remaining))
    if tenant.tokens_per_min is not None:
        limit = tenant.tokens_per_min
        got = await state.bucket(f"rl:tok:{tenant.name}", limit, limit / 60, 1, "check")
        out["tokens"] = max(0, int(got.remaining))
    if tenant.daily_tokens is not None:
        used = await state.quota(f"rl:day:{tenant.name}", 0, tenant.daily_tokens, DAY_S, add=False)
        out["daily_tokens"] = max(0, tenant.daily_tokens - used.used)
    return out


def request_totals(runtime: Runtime) -> dict[str, float]:
    """Requests served so far per name (every stage and status), from ``semdns_requests``."""
    totals: dict[str, float] = {}
    for family in runtime.metrics.requests.metric.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                name = sample.labels.get("name", "-")
                totals[name] = totals.get(name, 0.0) + sample.value
    return totals
