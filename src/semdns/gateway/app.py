"""The ASGI application factory.

Starlette for routing only: no middleware is added (each one would cost every request), request
handling lives in :mod:`.openai_api` and :mod:`.admin`, and the runtime is started and stopped by the
app's lifespan. Unknown paths and wrong methods get OpenAI-style JSON errors too.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from semdns.errors import SemdnsError
from semdns.gateway.admin import AdminRoutes
from semdns.gateway.embeddings_api import EmbeddingRoutes
from semdns.gateway.openai_api import OpenAIRoutes
from semdns.gateway.responses_api import ResponsesRoute
from semdns.gateway.runtime import Runtime
from semdns.gateway.wire import JSON, error_body, error_response

log = logging.getLogger(__name__)


def create_app(
    runtime: Runtime, *, manage_runtime: bool = True, extra_routes: Sequence[Route] = ()
) -> Starlette:
    """The gateway app over ``runtime``; with ``manage_runtime`` its lifespan starts and closes it.
    ``extra_routes`` are mounted beside the API (``semdns serve`` adds the resolver protocol's)."""
    api = OpenAIRoutes(runtime)
    admin = AdminRoutes(runtime)
    routes = [
        Route("/v1/chat/completions", api.chat_completions, methods=["POST"]),
        Route("/v1/completions", api.completions, methods=["POST"]),
        Route("/v1/embeddings", EmbeddingRoutes(runtime).embeddings, methods=["POST"]),
        Route("/v1/responses", ResponsesRoute(api.chat_completions).responses, methods=["POST"]),
        Route("/v1/models", admin.models, methods=["GET"]),
        Route("/healthz", admin.healthz, methods=["GET"]),
        Route("/readyz", admin.readyz, methods=["GET"]),
        Route("/metrics", admin.metrics, methods=["GET"]),
        Route("/admin/resolve", admin.resolve, methods=["GET"]),
        Route("/admin/cache/stats", admin.cache_stats, methods=["GET"]),
        Route("/admin/cache/purge", admin.cache_purge, methods=["POST"]),
        *extra_routes,
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_runtime:
            await runtime.start()
        try:
            yield
        finally:
            if manage_runtime:
                await runtime.aclose()

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

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: crash},
    )


def _dumps(value: object) -> bytes:
    import orjson

    return orjson.dumps(value)
