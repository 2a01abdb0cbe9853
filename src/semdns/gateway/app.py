"""The ASGI application factory.

Starlette for routing only: no middleware is added (each one would cost every request), request
handling lives in :mod:`.openai_api` and :mod:`.admin`, and the runtime is started and stopped by the
app's lifespan. Unknown paths and wrong methods get OpenAI-style JSON errors too. The app faces the
network through :func:`~semdns.gateway.guard.protect` (protected mode; a no-op unless it is on).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from semdns.errors import SemdnsError
from semdns.gateway import heap
from semdns.gateway.guard import Exposure, protect
from semdns.gateway.live import Endpoint, Live
from semdns.gateway.runtime import Runtime
from semdns.gateway.wire import JSON, error_body, error_response

if TYPE_CHECKING:
    from semdns.gateway.reload import Reloader

log = logging.getLogger(__name__)


def create_app(
    runtime: Runtime | Live,
    *,
    manage_runtime: bool = True,
    extra_routes: Sequence[Route] = (),
    reloader: Reloader | None = None,
    overrides: Sequence[Route] = (),
    settle_heap: bool = False,
) -> ASGIApp:
    """The gateway app over ``runtime``; with ``manage_runtime`` its lifespan starts and closes it.
    ``extra_routes`` are mounted beside the API. A :class:`Live` (hot reload) may be given instead of
    a runtime: every route then runs on the generation in service when the request arrived, its
    per-generation extra routes included, and ``reloader`` adds SIGHUP, the file watch and
    ``/admin/reload``. ``overrides`` come before the built-in routes and win on the same path
    (``--workers``: ``/metrics`` of the whole group). ``settle_heap`` (``semdns serve``) freezes what
    start built out of the garbage collector's scans (:mod:`semdns.gateway.heap`)."""
    live = runtime if isinstance(runtime, Live) else Live(runtime)
    on = live.endpoint
    api = {
        "/v1/chat/completions": on(lambda g: g.api.chat_completions, traced=True),
        "/v1/completions": on(lambda g: g.api.completions, traced=True),
    }
    routes = [
        *overrides,
        *(Route(path, endpoint, methods=["POST"]) for path, endpoint in api.items()),
        Route("/v1/embeddings", on(lambda g: g.embeddings.embeddings), methods=["POST"]),
        Route("/v1/responses", on(lambda g: g.responses.responses, traced=True), methods=["POST"]),
        Route("/v1/models", on(lambda g: g.admin.models), methods=["GET"]),
        Route("/healthz", on(lambda g: g.admin.healthz), methods=["GET"]),
        Route("/readyz", on(lambda g: g.admin.readyz), methods=["GET"]),
        Route("/metrics", on(lambda g: g.admin.metrics), methods=["GET"]),
        Route("/admin/resolve", on(lambda g: g.admin.resolve), methods=["GET"]),
        Route("/admin/cache/stats", on(lambda g: g.admin.cache_stats), methods=["GET"]),
        Route("/admin/cache/purge", on(lambda g: g.admin.cache_purge), methods=["POST"]),
        *(
            Route(r.path, live.extra_endpoint(i), methods=sorted(r.methods or ()))
            for i, r in enumerate(live.current.extra)
        ),
        *extra_routes,
    ]
    if reloader is not None:
        routes += reloader.routes()
    settings = live.current.runtime.settings
    if settings.console:
        from semdns.ui.routes import console_routes  # here, not above: semdns.ui imports the gateway

        routes += console_routes(lambda: live.current.runtime, allow_remote=settings.console_remote)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_runtime:
            await live.current.runtime.start()
        if reloader is not None:
            reloader.start()
        if settle_heap:
            heap.settle()
        try:
            yield
        finally:
            if reloader is not None:
                await reloader.aclose()
            if manage_runtime:
                await live.current.runtime.aclose()

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = f"{request.method} {request.url.path}: {exc.detail}"
        return Response(
            _dumps(error_body(exc.status_code, message, code)),
            exc.status_code,
            headers=exc.headers,
            media_type=JSON,
        )

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        return error_response(SemdnsError("internal error in the gateway (logged)"))

    overridden = {r.path for r in overrides}
    app = GatewayApp(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: crash},
        fast={("POST", p): e for p, e in api.items() if p not in overridden},
    )
    return protect(app, Exposure.of(live.current.runtime.settings))


class GatewayApp(Starlette):
    """Starlette, with the two API routes taken straight to their endpoints.

    ``POST /v1/chat/completions`` and ``POST /v1/completions`` skip Starlette's router and its two
    middleware layers (server errors, exceptions): their endpoints answer every error themselves
    (OpenAI-style bodies), so those layers only cost time on the path every request takes. Every other
    request, the lifespan included, goes through Starlette as usual.
    """

    def __init__(self, *args: Any, fast: Mapping[tuple[str, str], Endpoint], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast = dict(fast)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self.fast.get((scope["method"], scope["path"]))
            if endpoint is not None:
                scope["app"] = self
                response = await endpoint(Request(scope, receive, send))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _dumps(value: object) -> bytes:
    import orjson

    return orjson.dumps(value)
