"""Operational routes: ``/v1/models``, ``/healthz``, ``/readyz``, ``/metrics``, ``/admin/resolve``.

Every ``/admin`` route needs an admin credential in every mode (:class:`~semdns.gateway.guard.AdminGuard`).
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from semdns.errors import InvalidRequest, SemdnsError
from semdns.gateway.guard import AdminGuard, Exposure
from semdns.gateway.metrics import CONTENT_TYPE
from semdns.gateway.runtime import Runtime
from semdns.gateway.wire import JSON, error_response


class AdminRoutes:
    """Route handlers bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.guard = AdminGuard(runtime)

    async def models(self, request: Request) -> Response:
        """``auto`` plus every name that has engines, in OpenAI's list shape (``id`` is the name)."""
        data = [{"id": "auto", "object": "model", "created": 0, "owned_by": "semdns"}]
        for node in self.runtime.tree:
            if node.name in self.runtime.pools:
                data.append(
                    {
                        "id": str(node.name),
                        "object": "model",
                        "created": 0,
                        "owned_by": "semdns",
                        "dn": str(node.dn),
                        "description": node.description,
                    }
                )
        return Response(orjson.dumps({"object": "list", "data": data}), media_type=JSON)

    async def healthz(self, request: Request) -> Response:
        """Liveness: the process answers."""
        return Response(b'{"status":"ok"}', media_type=JSON)

    async def readyz(self, request: Request) -> Response:
        """Readiness: started, and the top of the tree has a replica that can take traffic (so every
        request has somewhere to fall back to). Names with no available replica are listed."""
        runtime = self.runtime
        down = [str(name) for name, pool in runtime.pools.items() if pool.available_count() == 0]
        apex_pool = runtime.pools.get(runtime.tree.apex)
        apex_ok = apex_pool is None or apex_pool.available_count() > 0
        ready = runtime.ready and apex_ok
        body: dict[str, object] = {
            "status": "ready" if ready else "not_ready",
            "started": runtime.ready,
            "names_down": down,
            "zones": {str(origin): serial for origin, serial in sorted(runtime.tree.serials.items())},
        }
        body["exposure"] = Exposure.of(runtime.settings).health()
        if runtime.edge is not None:
            # Shared state down is degraded, not unready: the gateway keeps answering from local state.
            body["edge"] = runtime.edge.health()
        return Response(orjson.dumps(body), 200 if ready else 503, media_type=JSON)

    async def metrics(self, request: Request) -> Response:
        return Response(self.runtime.metrics.exposition(), media_type=CONTENT_TYPE)

    async def cache_stats(self, request: Request) -> Response:
        """``semdns cache stats``: entries, hit rate by tier and name, shadow false hits."""
        edge = self.runtime.edge
        try:
            self._admin_only(request)
        except SemdnsError as exc:
            return error_response(exc)
        if edge is None or edge.cache is None:
            return Response(b'{"enabled":false}', media_type=JSON)
        return Response(orjson.dumps({"enabled": True, **await edge.cache.stats()}), media_type=JSON)

    async def cache_purge(self, request: Request) -> Response:
        """``semdns cache purge [--tenant T] [--name N]``: delete entries, in every process."""
        edge = self.runtime.edge
        try:
            self._admin_only(request)
            if edge is None or edge.cache is None:
                raise InvalidRequest("the response cache is off in this gateway")
            tenant = request.query_params.get("tenant") or None
            name = request.query_params.get("name") or None
            if name is not None:
                name = str(self.runtime.tree.lookup(name).name)
            scope = None
            if tenant is not None:
                tenants = edge.gate.tenants
                if tenants is not None and tenant not in tenants.by_name:
                    raise InvalidRequest(f"no tenant named {tenant!r}", param="tenant")
                scope = "t:" + tenant
        except SemdnsError as exc:
            return error_response(exc)
        removed = await edge.cache.purge(scope, name)
        return Response(orjson.dumps({"purged": removed, "tenant": tenant, "name": name}), media_type=JSON)

    def _admin_only(self, request: Request) -> None:
        """An admin credential (admin tenant or ``SEMDNS_ADMIN_KEY``), whatever the mode."""
        self.guard.principal(request.headers)

    async def resolve(self, request: Request) -> Response:
        """The ``semdns dig`` JSON for ``?q=`` (admin only, rate-limited: it runs the encoder)."""
        query = request.query_params.get("q", "").strip()
        try:
            principal = self.guard.principal(request.headers)
            limit = self.runtime.settings.admin_resolve_per_min
            headers = await self.guard.spend(principal, "/admin/resolve", limit)
            if not query:
                raise InvalidRequest("give the query to resolve as ?q=...", param="q")
            decision = await self.runtime.resolver.aresolve(query)
        except SemdnsError as exc:
            return error_response(exc)
        return Response(orjson.dumps(decision.to_json()), headers=headers, media_type=JSON)
