"""The feed's events: one finished response, seen from the gateway (:mod:`semdns.ui.feed` carries
them and knows nothing of the gateway; this module reads the runtime and the response)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from semdns.errors import SemdnsError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from semdns.gateway.runtime import Runtime


def decision_event(
    runtime: Runtime, request: Request, response: Response, started: float, endpoint: str
) -> dict[str, Any]:
    """The feed event of one finished response, from its status and ``x-semdns-*`` headers (the
    request body is never read here). ``started`` is the ``perf_counter`` at the request's start; for a
    stream the latency is to its first event (the response head), not to its end."""
    latency_ms = (time.perf_counter() - started) * 1000
    # one pass over the raw list (Headers.get would scan it once per key)
    h = {key[9:]: value for key, value in response.raw_headers if key[:9] == b"x-semdns-"}
    confidence = h.get(b"confidence")
    fallback = h.get(b"fallback")
    delegated = h.get(b"delegated-to")
    return {
        "t": time.time(),
        "endpoint": endpoint,
        "status": response.status_code,
        "name": (h.get(b"name") or h.get(b"resolved") or b"-").decode("latin-1"),
        "resolved": h.get(b"resolved", b"-").decode("latin-1"),
        "stage": h.get(b"stage", b"-").decode("latin-1"),
        "confidence": float(confidence) if confidence else None,
        "decision_cache": h.get(b"cache", b"-").decode("latin-1"),
        "response_cache": h.get(b"response-cache", b"-").decode("latin-1"),
        "latency_ms": latency_ms,  # full precision: rounding costs more than the bytes it saves
        "degraded": h.get(b"degraded") == b"true",
        "fallback": fallback.decode("latin-1") if fallback is not None else None,
        "delegated_to": delegated.decode("latin-1") if delegated is not None else None,
        "stream": response.media_type == "text/event-stream",
        "tenant": tenant_label(runtime, request),
    }


def tenant_label(runtime: Runtime, request: Request) -> str:
    """The caller's tenant name (or ``anon`` / ``open-key`` in open mode), never its key."""
    edge = runtime.edge
    if edge is None:
        return "anon"
    authorization = api_key = None
    for key, value in request.scope["headers"]:  # raw: no Headers object built for two lookups
        if key == b"authorization":
            authorization = value.decode("latin-1")
        elif key == b"api-key":
            api_key = value.decode("latin-1")
    if authorization is None and api_key is None and edge.gate.open:
        return "anon"
    try:
        return edge.gate.authenticate(authorization, api_key).label
    except SemdnsError:
        return "unauthenticated"
