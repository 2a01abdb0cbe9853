"""What the gateway writes back: OpenAI-style error bodies, SSE error events and the ``x-semdns-*``
headers and ``semdns`` body field that explain every answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from semdns.dispatch import Served
from semdns.errors import InvalidRequest, SemdnsError
from semdns.resolve.decision import RoutingDecision

if TYPE_CHECKING:
    from semdns.gateway.recursion import Followed

JSON = "application/json"


def error_body(status: int, message: str, code: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape: ``{"error": {"message", "type", "param", "code"}}``."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 404:
        kind = "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(
    exc: SemdnsError, decision: RoutingDecision | None = None, served: Served | None = None
) -> Response:
    param = exc.param if isinstance(exc, InvalidRequest) else getattr(exc, "param", None)
    body = error_body(exc.http_status, str(exc), exc.code, param)
    headers = decision_headers(decision, served) if decision is not None else {}
    headers.update(getattr(exc, "headers", None) or {})  # 429: Retry-After and x-ratelimit-*
    return Response(orjson.dumps(body), exc.http_status, headers=headers or None, media_type=JSON)


def error_event(exc: SemdnsError) -> bytes:
    """The SSE event that ends a stream which failed after its first byte (OpenAI clients raise on it)."""
    return b"data: " + orjson.dumps(error_body(exc.http_status, str(exc), exc.code)) + b"\n\n"


def fallback_path(served: Served) -> str:
    """``contracts.legal.->legal.``: the names left, then the name that served."""
    return "->".join([*(str(h.name) for h in served.hops), str(served.name)])


def decision_headers(decision: RoutingDecision, served: Served | None) -> dict[str, str]:
    headers = {
        "x-semdns-resolved": str(decision.name),
        "x-semdns-stage": decision.stage,
        "x-semdns-confidence": f"{decision.confidence:.4f}",
        "x-semdns-cache": decision.cache,
    }
    if decision.is_multi:
        headers["x-semdns-names"] = ",".join(str(n) for n in decision.names)
    if served is not None:
        headers["x-semdns-name"] = str(served.name)
        if served.hops:
            headers["x-semdns-fallback"] = fallback_path(served)
            headers["x-semdns-degraded"] = "true"
    return headers


def semdns_field(decision: RoutingDecision, served: Served) -> dict[str, Any]:
    """The ``semdns`` field of a response body: the same facts as the headers, plus details."""
    field: dict[str, Any] = {
        "name": str(served.name),
        "resolved": str(decision.name),
        "names": [str(n) for n in decision.names],
        "stage": decision.stage,
        "confidence": round(decision.confidence, 4),
        "cache": decision.cache,
        "degraded": served.degraded,
        "fallback": [h.to_json() for h in served.hops],
        "replica": served.replica,
        "attempts": served.attempts,
    }
    if decision.is_multi:
        # Cross-domain decisions fan out to every name and are aggregated (semdns.gateway.fanout),
        # which adds the parts under "aggregation".
        field["cross_domain"] = True
    return field


def explain_delegation(
    field: dict[str, Any],
    headers: dict[str, str],
    served: Served,
    followed: Followed | None,
    child: object = None,
) -> None:
    """Add what recursion and forwarding did to the ``semdns`` field and the headers (in place): the
    child gateway that served (``delegated_to``, with the child's own ``semdns`` field under ``child``)
    and a failed delegation (``degraded``: the answer stopped at the delegation node)."""
    if served.delegated_to is not None:
        field["delegated_to"] = served.delegated_to
        headers["x-semdns-delegated-to"] = served.delegated_to
        if isinstance(child, dict):
            field["child"] = child
            if child.get("degraded"):
                field["degraded"] = True
                headers["x-semdns-degraded"] = "true"
    if followed is not None and followed.followed:
        field["delegation"] = followed.explain()
        if followed.degraded:
            field["degraded"] = True
            headers["x-semdns-degraded"] = "true"
