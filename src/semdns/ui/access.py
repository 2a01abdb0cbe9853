"""Who may open the console.

With a tenants file or ``SEMDNS_ADMIN_KEY``: the same admin credential as the ``/admin`` routes,
sent as ``Authorization: Bearer <key>``, ``api-key: <key>``, or as the password of HTTP Basic auth (any
user name): Basic is what a browser can send on a plain navigation and on an ``EventSource``, so the
console page and its live feed need no key in a URL. Without a tenants file: loopback callers only,
unless the operator allows remote ones (``--console-remote`` / ``SEMDNS_CONSOLE_REMOTE``).

Kept to one function, :func:`console_denied`, over the gateway's shared admin guard.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import TYPE_CHECKING

from semdns.errors import Forbidden, SemdnsError, Unauthorized
from semdns.gateway.guard import AdminGuard
from semdns.tenancy.gate import bearer_token

if TYPE_CHECKING:
    from starlette.requests import Request

    from semdns.gateway.runtime import Runtime

REALM = 'Basic realm="semdns console", charset="UTF-8"'


def console_denied(request: Request, runtime: Runtime, *, allow_remote: bool) -> SemdnsError | None:
    """Why ``request`` may not use the console, or ``None`` when it may.

    Where the gateway has an admin credential (a tenants file, or ``SEMDNS_ADMIN_KEY``), the console
    takes the same one as the ``/admin`` routes (:class:`~semdns.gateway.guard.AdminGuard`). Where it
    has none (the out-of-the-box loopback gateway), loopback callers may look; others only with
    ``--console-remote``."""
    edge = runtime.edge
    credentialed = (edge is not None and not edge.gate.open) or bool(runtime.settings.admin_key)
    if credentialed:
        key = console_key(request)
        if key is None:
            return Unauthorized(
                "the console needs an admin credential: the key of a tenant with admin: true, or "
                "SEMDNS_ADMIN_KEY (Authorization: Bearer <key>, or the key as the HTTP Basic password)"
            )
        try:
            AdminGuard(runtime).principal({"authorization": f"Bearer {key}"})
        except SemdnsError as exc:
            return exc
        return None
    if allow_remote or is_loopback(request.client.host if request.client else None):
        return None
    return Forbidden(
        "the console answers loopback callers only when the gateway has no admin credential; "
        "set SEMDNS_ADMIN_KEY or a tenants file, or start semdns serve with --console-remote "
        "(SEMDNS_CONSOLE_REMOTE=1) to allow others"
    )


def console_key(request: Request) -> str | None:
    """The API key in the request: Bearer, ``api-key``, or the password of Basic auth."""
    authorization = request.headers.get("authorization")
    if authorization and authorization.strip().lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization.strip()[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password.strip() or None if sep else None
    return bearer_token(authorization, request.headers.get("api-key"))


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8 and ::1 (an unparsable or missing peer address is not loopback)."""
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
