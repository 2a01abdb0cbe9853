"""Who may reach the gateway at all, and who counts as its administrator.

Two reusable checks, for every route that needs them (the ``/admin`` routes, and the console when it
lands):

* :func:`protect` — **protected mode**, after Redis's: a gateway that listens beyond loopback with no
  tenants file (so with no authentication at all) answers only clients on this machine, and tells the
  others how to fix it. It wraps the ASGI app only when that mode is on, so a gateway on loopback or
  with tenants pays nothing, and a protected one pays one comparison of the client's address per
  connection scope (no Starlette middleware: see :mod:`semdns.gateway.app`).
* :class:`AdminGuard` — an ``/admin`` route needs an admin credential in every mode: the key of a
  tenant with ``admin: true``, or the operator's key from ``SEMDNS_ADMIN_KEY`` (the only way in for a
  gateway without tenants). ``/admin/resolve`` runs the encoder, so it also spends a per-credential
  token bucket (:attr:`GatewaySettings.admin_resolve_per_min`) and the tenant's own request limits.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from semdns.errors import AdminRequired, ProtectedMode, RateLimited, Unauthorized
from semdns.gateway.settings import GatewaySettings
from semdns.gateway.wire import error_body
from semdns.tenancy.gate import Principal, bearer_token

if TYPE_CHECKING:
    from semdns.gateway.runtime import Runtime

log = logging.getLogger(__name__)

Mode = Literal["loopback", "tenants", "protected", "insecure-open"]

_LOOPBACK_CLIENTS = frozenset({"127.0.0.1", "::1", "localhost"})


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address, or ``localhost``) can only be reached from this machine. ``None``
    is a Unix socket or an in-process client: local. Anything that is not an address (a host name
    other than ``localhost``, ``0.0.0.0``, ``::``) is not loopback."""
    if host is None or host in _LOOPBACK_CLIENTS:
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


@dataclass(frozen=True, slots=True)
class Exposure:
    """What a gateway promises about who can reach it, from where it listens and how it authenticates."""

    host: str
    tenants: bool
    insecure_open: bool = False

    @classmethod
    def of(cls, settings: GatewaySettings) -> Exposure:
        return cls(settings.host, bool(settings.tenants_file), settings.insecure_open)

    @property
    def mode(self) -> Mode:
        """``tenants``: every request authenticates. ``loopback``: no tenants, only this machine can
        connect. ``protected``: no tenants, listening beyond loopback, non-loopback clients refused.
        ``insecure-open``: no tenants, anyone who reaches the port is served (the operator asked)."""
        if self.tenants:
            return "tenants"
        if is_loopback(self.host):
            return "loopback"
        return "insecure-open" if self.insecure_open else "protected"

    @property
    def warning(self) -> str | None:
        """The warning logged at start and shown on ``/readyz`` for ``insecure-open``."""
        if self.mode != "insecure-open":
            return None
        return (
            f"semdns listens on {self.host} with no tenants file and --insecure-open: anyone who can "
            "reach this port may use every name and burn its engines; give a tenants file (--tenants) "
            "or listen on 127.0.0.1"
        )

    def health(self) -> dict[str, object]:
        """For ``/readyz``."""
        out: dict[str, object] = {"mode": self.mode, "host": self.host}
        if self.warning is not None:
            out["warning"] = self.warning
        return out


def refusal_message(host: str) -> str:
    """The protected-mode error: what happened and the three ways to fix it."""
    return (
        f"semdns is in protected mode: it listens on {host} without a tenants file, so it answers only "
        "clients on its own machine (loopback). To serve other machines, restart it with a tenants file "
        "(`semdns tenant add NAME --file tenants.yaml`, then `semdns serve --tenants tenants.yaml`) so "
        "that every client sends a key; or, on a network you trust, with `--insecure-open` "
        "(SEMDNS_INSECURE_OPEN=1) to serve anyone who can reach the port; or listen on 127.0.0.1 "
        "behind a proxy that authenticates"
    )


class _Protected:
    """The ASGI wrapper of protected mode: a non-loopback client gets 403 ``protected_mode``."""

    def __init__(self, app: ASGIApp, exposure: Exposure) -> None:
        self.app = app
        self.exposure = exposure
        self._body = orjson.dumps(
            error_body(ProtectedMode.http_status, refusal_message(exposure.host), ProtectedMode.code)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if client is None or scope["type"] == "lifespan" or is_loopback(client[0]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "protected mode"})
            return
        await send(
            {
                "type": "http.response.start",
                "status": ProtectedMode.http_status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self._body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self._body})


def protect(app: ASGIApp, exposure: Exposure) -> ASGIApp:
    """``app`` as it should face the network: wrapped in protected mode when :attr:`Exposure.mode` is
    ``protected``, untouched otherwise. Logs the insecure-open warning."""
    if exposure.warning is not None:
        log.warning("%s", exposure.warning)
    if exposure.mode != "protected":
        return app
    log.warning("protected mode: %s", refusal_message(exposure.host))
    return _Protected(app, exposure)


class AdminGuard:
    """Is this request an administrator's? Reads the runtime's edge and settings at each call (so a
    reloaded tenants file counts at once)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        key = runtime.settings.admin_key
        self._key_digest = hashlib.sha256(key.encode()).digest() if key else None

    def principal(self, headers: Mapping[str, str]) -> Principal:
        """The admin principal of the request; :class:`Unauthorized` (no or unknown credential) or
        :class:`AdminRequired` (a tenant that is not an admin)."""
        token = bearer_token(headers.get("authorization"), headers.get("api-key"))
        if token is not None and self._key_digest is not None:
            digest = hashlib.sha256(token.encode()).digest()
            if hmac.compare_digest(digest, self._key_digest):
                return Principal("admin")
        edge = self.runtime.edge
        gate = edge.gate if edge is not None else None
        if gate is not None and not gate.open:
            principal = gate.authenticate(headers.get("authorization"), headers.get("api-key"))
            if principal.tenant is None or not principal.tenant.admin:
                raise AdminRequired("the /admin routes need the key of a tenant with admin: true")
            return principal
        if self._key_digest is None:
            raise AdminRequired(
                "the /admin routes need an admin credential and this semdns has none: set "
                "SEMDNS_ADMIN_KEY on the server and send it as 'Authorization: Bearer <key>' "
                "(or use a tenants file with a tenant that has admin: true)"
            )
        if token is None:
            raise Unauthorized("the /admin routes need 'Authorization: Bearer <admin key>'")
        raise Unauthorized("this is not the admin key (SEMDNS_ADMIN_KEY)")

    def is_admin(self, headers: Mapping[str, str]) -> bool:
        """Whether the request carries an admin credential (for a route that hides rather than refuses,
        such as the console's login redirect); :meth:`principal` says why not."""
        try:
            self.principal(headers)
        except (Unauthorized, AdminRequired):
            return False
        return True

    async def spend(self, principal: Principal, route: str, per_min: int) -> dict[str, str]:
        """One call of an expensive admin route: the per-credential bucket, then the tenant's own
        request limits; :class:`RateLimited` when either is spent. Returns the ``x-ratelimit-*``
        headers."""
        edge = self.runtime.edge
        if edge is None:
            return {}
        got = await edge.state.bucket(f"rl:admin:{route}:{principal.scope}", per_min, per_min / 60, 1, "take")
        headers = {
            "x-ratelimit-limit-requests": str(per_min),
            "x-ratelimit-remaining-requests": str(max(0, math.floor(got.remaining))),
        }
        if not got.allowed:
            raise RateLimited(
                f"{route} is limited to {per_min} calls a minute per admin credential",
                headers={**headers, "retry-after": str(max(1, math.ceil(got.retry_after_s)))},
            )
        if principal.tenant is not None:
            admission = await edge.gate.admit(principal)
            headers.update(admission.headers)
        return headers
