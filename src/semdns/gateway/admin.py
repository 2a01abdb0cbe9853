"""Operational routes: ``/v1/models``, ``/healthz``, ``/readyz``, ``/metrics``, ``/admin/resolve``."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from semdns.errors import InvalidRequest, SemdnsError
from semdns.gateway.metrics import CONTENT_TYPE
from semdns.gateway.runtime import Runtime
from semdns.gateway.wire import JSON, error_response


class AdminRoutes:
    """Route handlers bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

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
        body = {"status": "ready" if ready else "not_ready", "started": runtime.ready, "names_down": down}
        return Response(orjson.dumps(body), 200 if ready else 503, media_type=JSON)

    async def metrics(self, request: Request) -> Response:
        return Response(self.runtime.metrics.exposition(), media_type=CONTENT_TYPE)

    async def resolve(self, request: Request) -> Response:
        """The ``semdns dig`` JSON for ``?q=``."""
        query = request.query_params.get("q", "").strip()
        if not query:
            return error_response(InvalidRequest("give the query to resolve as ?q=...", param="q"))
        try:
            decision = await self.runtime.resolver.aresolve(query)
        except SemdnsError as exc:
            return error_response(exc)
        return Response(orjson.dumps(decision.to_json()), media_type=JSON)
