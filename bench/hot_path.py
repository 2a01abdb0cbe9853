"""CPU cost of two pieces of the request path, in-process and by CPU time (so a busy machine disturbs
it far less than wall-clock benchmarks): a labelled Prometheus counter increment through
``labels()`` against :class:`semdns.promlabels.CachedLabels`, and one request through Starlette's
router and middleware against :class:`semdns.gateway.app.GatewayApp`'s direct route (a trivial
endpoint, no network: the difference is the routing layers alone).

    python bench/hot_path.py
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from semdns.gateway.app import GatewayApp
from semdns.promlabels import CachedLabels


def _per_call_us(call: Callable[[], object], n: int = 200_000) -> float:
    for _ in range(1000):
        call()
    t0 = time.process_time()
    for _ in range(n):
        call()
    return round((time.process_time() - t0) / n * 1e6, 2)


async def _endpoint(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


_SCOPE: dict[str, Any] = {
    "type": "http", "method": "POST", "path": "/v1/chat/completions", "query_string": b"",
    "headers": [(b"content-type", b"application/json")], "root_path": "", "scheme": "http",
    "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "http_version": "1.1",
    "asgi": {"version": "3.0"},
}  # fmt: skip


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"{}", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


async def _per_request_us(app: Any, n: int = 20_000) -> float:
    for _ in range(500):
        await app(dict(_SCOPE), _receive, _send)
    t0 = time.process_time()
    for _ in range(n):
        await app(dict(_SCOPE), _receive, _send)
    return round((time.process_time() - t0) / n * 1e6, 1)


def main() -> None:
    counter = Counter("x", "x", ["name", "stage", "status"], registry=CollectorRegistry())
    cached = CachedLabels(counter)
    routes = [Route("/v1/chat/completions", _endpoint, methods=["POST"])]
    plain = Starlette(routes=routes)
    direct = GatewayApp(routes=routes, fast={("POST", "/v1/chat/completions"): _endpoint})
    result = {
        "counter_inc_us": {
            "labels()": _per_call_us(lambda: counter.labels("legal.", "explicit", "200").inc()),
            "CachedLabels": _per_call_us(lambda: cached.labels("legal.", "explicit", "200").inc()),
        },
        "request_through_routing_us": {
            "starlette_router_and_middleware": asyncio.run(_per_request_us(plain)),
            "gateway_direct_route": asyncio.run(_per_request_us(direct)),
        },
        "load_average": list(os.getloadavg()),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
