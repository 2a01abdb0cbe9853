"""The console's routes, all under ``/ui``: the page and its assets, and the JSON and SSE it reads.

``GET  /ui/``                the page (``/ui`` redirects here)
``GET  /ui/static/{file}``   its CSS and JS, shipped in the package (no CDN, no build step)
``GET  /ui/api/namespace``   zones, names, DNs, replicas with health and breaker state, delegations
``GET  /ui/api/dig?q=``      the resolver's decision for ``q``, as JSON and as ``semdns dig`` text
``POST /ui/api/send``        ``{"query", "model"?, "max_tokens"?}`` sent through the gateway itself
``GET  /ui/api/feed``        server-sent events: ``decision`` per served request, ``rates`` every 2 s
``GET  /ui/api/caches``      decision and response cache statistics, the feed's own counters
``GET  /ui/api/tenants``     tenants, their limits and what is left of them

Every route passes :func:`semdns.ui.access.console_denied` first. Errors are OpenAI-style JSON, like
the rest of the gateway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from semdns.errors import InvalidRequest, SemdnsError, Unauthorized
from semdns.gateway.wire import JSON, error_response
from semdns.ui import views
from semdns.ui.access import REALM, console_denied, console_key
from semdns.ui.feed import FeedFull

if TYPE_CHECKING:
    from semdns.gateway.runtime import Runtime

MAX_QUERY_CHARS = 4000
TICK_S = 2.0
"""How often the feed sends per-name request totals (the page turns them into rates)."""
DRAIN_S = 0.2
"""How often the feed hands queued decisions to the connection, in one write."""

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
_PAGE_HEADERS = {
    # Everything comes from this server: the page works offline and cannot be made to load elsewhere.
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}

Handler = Callable[[Request], Awaitable[Response]]


def console_routes(current: Callable[[], Runtime], *, allow_remote: bool = False) -> list[Route]:
    """The console's routes over the runtime ``current()`` returns at each request (the generation in
    service, so that the console follows hot reloads); ``allow_remote``: open mode answers
    non-loopback callers too."""
    return ConsoleRoutes(current, allow_remote=allow_remote).routes()


def _assets() -> dict[str, tuple[bytes, str]]:
    """Every file of the package's ``static`` folder, read once: name → (bytes, content type)."""
    out: dict[str, tuple[bytes, str]] = {}
    for item in resources.files("semdns.ui").joinpath("static").iterdir():
        suffix = "." + item.name.rsplit(".", 1)[-1] if "." in item.name else ""
        if item.is_file() and suffix in _TYPES:
            out[item.name] = (item.read_bytes(), _TYPES[suffix])
    return out


class ConsoleRoutes:
    """Handlers bound to one runtime."""

    def __init__(self, current: Callable[[], Runtime], *, allow_remote: bool = False) -> None:
        self._current = current
        self.allow_remote = allow_remote
        self.assets = _assets()

    @property
    def runtime(self) -> Runtime:
        """The runtime in service now."""
        return self._current()

    def routes(self) -> list[Route]:
        g = self._guarded
        return [
            Route("/ui", g(self.redirect), methods=["GET"]),
            Route("/ui/", g(self.page), methods=["GET"]),
            Route("/ui/static/{file}", g(self.asset), methods=["GET"]),
            Route("/ui/api/namespace", g(self.namespace), methods=["GET"]),
            Route("/ui/api/dig", g(self.dig), methods=["GET"]),
            Route("/ui/api/send", g(self.send), methods=["POST"]),
            Route("/ui/api/feed", g(self.feed), methods=["GET"]),
            Route("/ui/api/caches", g(self.caches), methods=["GET"]),
            Route("/ui/api/tenants", g(self.tenants), methods=["GET"]),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            denied = console_denied(request, self.runtime, allow_remote=self.allow_remote)
            if denied is not None:
                response = error_response(denied)
                if isinstance(denied, Unauthorized):
                    response.headers["www-authenticate"] = REALM
                return response
            try:
                return await handler(request)
            except SemdnsError as exc:
                return error_response(exc)

        return guarded

    # -- the page -----------------------------------------------------------------------------------

    async def redirect(self, request: Request) -> Response:
        return RedirectResponse("/ui/", status_code=308)

    async def page(self, request: Request) -> Response:
        body, kind = self.assets["index.html"]
        return Response(body, headers=_PAGE_HEADERS, media_type=kind)

    async def asset(self, request: Request) -> Response:
        name = request.path_params["file"]
        found = self.assets.get(name) if name != "index.html" else None
        if found is None:
            raise _NotFound(f"no console asset named {name!r}")
        body, kind = found
        return Response(body, headers=_PAGE_HEADERS, media_type=kind)

    # -- data ---------------------------------------------------------------------------------------

    async def namespace(self, request: Request) -> Response:
        return _json(views.namespace(self.runtime))

    async def caches(self, request: Request) -> Response:
        return _json(await views.caches(self.runtime, self.runtime.feed))

    async def tenants(self, request: Request) -> Response:
        return _json(await views.tenants(self.runtime))

    async def dig(self, request: Request) -> Response:
        """The decision for ``?q=`` as ``semdns dig --json`` prints it, plus its text form."""
        from semdns.cli_dig import format_decision

        query = _query(request.query_params.get("q"))
        started = time.perf_counter()
        decision = await self.runtime.resolver.aresolve(query)
        elapsed_ms = (time.perf_counter() - started) * 1000
        return _json(
            {
                "decision": decision.to_json(),
                "text": format_decision(decision, self.runtime.tree),
                "elapsed_ms": round(elapsed_ms, 3),
            }
        )

    async def send(self, request: Request) -> Response:
        """Send a query through this gateway (``/v1/chat/completions``, in process, with the console
        user's key when tenants are configured) and show the answer and its headers."""
        import httpx

        payload = _send_payload(await request.body())
        key = console_key(request)
        headers = {"authorization": f"Bearer {key}"} if key else {}
        transport = httpx.ASGITransport(app=request.scope["app"], client=("127.0.0.1", 0))
        started = time.perf_counter()
        async with httpx.AsyncClient(transport=transport, base_url="http://semdns.console") as client:
            answer = await client.post("/v1/chat/completions", content=orjson.dumps(payload), headers=headers)
        elapsed_ms = (time.perf_counter() - started) * 1000
        try:
            body: Any = answer.json()
        except ValueError:
            body = answer.text[:4000]
        shown = {
            k: v
            for k, v in answer.headers.items()
            if k.startswith(("x-semdns-", "x-ratelimit-")) or k in ("retry-after", "content-type")
        }
        return _json({"status": answer.status_code, "headers": shown, "body": body, "elapsed_ms": elapsed_ms})

    async def feed(self, request: Request) -> Response:
        """Server-sent events: ``decision`` events as requests are served, ``rates`` every 2 s."""
        feed = self.runtime.feed
        if feed.full:
            raise FeedFull(f"the console feed already has {feed.max_subscribers} viewers")
        runtime = self.runtime

        async def events() -> AsyncIterator[bytes]:
            with feed.subscribe() as sub:
                queue = sub.queue
                yield b"retry: 2000\n\n" + _event(b"rates", _rates(runtime, sub.dropped))
                next_tick = time.monotonic() + TICK_S
                while True:
                    await asyncio.sleep(DRAIN_S)
                    chunks = []
                    while not queue.empty():
                        chunks.append(_event(b"decision", queue.get_nowait()))
                    if time.monotonic() >= next_tick:
                        next_tick += TICK_S
                        chunks.append(_event(b"rates", _rates(runtime, sub.dropped)))
                    if chunks:
                        yield b"".join(chunks)

        return StreamingResponse(events(), headers=_SSE_HEADERS, media_type="text/event-stream")


class _NotFound(SemdnsError):
    http_status = 404
    code = "not_found"


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS), media_type=JSON)


def _event(kind: bytes, data: bytes) -> bytes:
    return b"event: " + kind + b"\ndata: " + data + b"\n\n"


def _rates(runtime: Runtime, dropped: int) -> bytes:
    return orjson.dumps(
        {"t": round(time.time(), 3), "totals": views.request_totals(runtime), "dropped": dropped}
    )


def _query(raw: str | None) -> str:
    query = (raw or "").strip()
    if not query:
        raise InvalidRequest("give the query to resolve as ?q=...", param="q")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidRequest(
            f"the query has {len(query)} characters; the console takes {MAX_QUERY_CHARS}", param="q"
        )
    return query


def _send_payload(raw: bytes) -> dict[str, Any]:
    """The chat request the console sends: validated here so a bad form gets a clear 400."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest('the body must be JSON: {"query": "...", "model": "auto"}') from None
    if not isinstance(body, dict):
        raise InvalidRequest('the body must be a JSON object with a "query" string')
    query = body.get("query")
    if not isinstance(query, str):
        raise InvalidRequest('"query" must be a string', param="query")
    query = _query(query)
    model = body.get("model", "auto")
    if not isinstance(model, str) or not model.strip() or len(model) > 255:
        raise InvalidRequest('"model" must be a name, a DN or "auto"', param="model")
    max_tokens = body.get("max_tokens", 64)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 4096:
        raise InvalidRequest('"max_tokens" must be an integer from 1 to 4096', param="max_tokens")
    unknown = set(body) - {"query", "model", "max_tokens"}
    if unknown:
        raise InvalidRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    return {
        "model": model.strip(),
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": query}],
    }
