"""The gatekeeper: who is calling (key → tenant), may they use this name, are they within limits.

Without a tenants file semdns runs open: every request is admitted, and each distinct bearer token is
still its own :attr:`Principal.scope`, so that no cached answer ever crosses from one key to another.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from semdns.errors import Forbidden, RateLimited, Unauthorized
from semdns.names import Name
from semdns.state.base import BucketResult, State
from semdns.tenancy.config import Tenant, Tenants
from semdns.tenancy.keys import hash_key

DAY_S = 24 * 3600


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a tenant (tenants file) or an anonymous key scope (open mode)."""

    scope: str
    """The cache and limiter scope: ``t:<tenant>``, ``k:<hash of the key>`` or ``anon``."""
    tenant: Tenant | None = None

    @property
    def label(self) -> str:
        """For logs and metrics: the tenant name, never a key."""
        return (
            self.tenant.name if self.tenant is not None else ("open-key" if self.scope != "anon" else "anon")
        )


@dataclass(slots=True)
class Admission:
    """A request let through, with the ``x-ratelimit-*`` headers its response should carry."""

    principal: Principal
    headers: dict[str, str] = field(default_factory=dict)


def bearer_token(authorization: str | None, api_key: str | None = None) -> str | None:
    """The key from ``Authorization: Bearer …`` (or an ``api-key`` header), else ``None``."""
    if authorization:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    if api_key and api_key.strip():
        return api_key.strip()
    return None


class Gatekeeper:
    """Authentication, permissions and rate limits over one :class:`~semdns.state.State`."""

    def __init__(self, tenants: Tenants | None, state: State) -> None:
        self.tenants = tenants
        self.state = state

    @property
    def open(self) -> bool:
        return self.tenants is None

    def authenticate(self, authorization: str | None, api_key: str | None = None) -> Principal:
        """The principal for the request's credentials; :class:`Unauthorized` when they are refused."""
        token = bearer_token(authorization, api_key)
        if self.tenants is None:
            if token is None:
                return Principal("anon")
            return Principal("k:" + hashlib.sha256(token.encode()).hexdigest()[:32])
        if token is None:
            if authorization:
                raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
            raise Unauthorized(
                "this semdns requires an API key: send 'Authorization: Bearer <key>' "
                "(an operator creates one with `semdns tenant add NAME`)"
            )
        tenant = self.tenants.by_key_hash.get(hash_key(token))
        if tenant is None:
            raise Unauthorized("the API key is not valid (unknown or revoked)")
        return Principal("t:" + tenant.name, tenant)

    def permit(self, principal: Principal, name: Name) -> Name:
        """The name the request may be served by: ``name`` or, per tenant setting, its nearest allowed
        ancestor; :class:`Forbidden` otherwise."""
        tenant = principal.tenant
        if tenant is None:
            return name
        allowed = tenant.nearest_allowed(name)
        if allowed is None:
            roots = ", ".join(str(s) for s in tenant.subtrees)
            raise Forbidden(f"tenant {tenant.name!r} may not use {name} (it may use: {roots})")
        return allowed

    async def admit(self, principal: Principal) -> Admission:
        """Spend one request from the tenant's bucket and check its token bucket and daily quota;
        :class:`RateLimited` (429, with ``Retry-After``) when any is exhausted."""
        tenant = principal.tenant
        admission = Admission(principal)
        if tenant is None:
            return admission
        if tenant.requests_per_min is not None:
            limit = tenant.requests_per_min
            got = await self.state.bucket(f"rl:req:{tenant.name}", limit, limit / 60, 1, "take")
            admission.headers.update(_headers("requests", limit, got))
            if not got.allowed:
                raise RateLimited(
                    f"tenant {tenant.name!r} is over its limit of {limit} requests per minute",
                    headers={**admission.headers, "retry-after": _seconds(got.retry_after_s)},
                )
        if tenant.tokens_per_min is not None:
            limit = tenant.tokens_per_min
            got = await self.state.bucket(f"rl:tok:{tenant.name}", limit, limit / 60, 1, "check")
            admission.headers.update(_headers("tokens", limit, got))
            if not got.allowed:
                raise RateLimited(
                    f"tenant {tenant.name!r} is over its limit of {limit} tokens per minute",
                    headers={**admission.headers, "retry-after": _seconds(got.retry_after_s)},
                )
        if tenant.daily_tokens is not None:
            used = await self.state.quota(f"rl:day:{tenant.name}", 0, tenant.daily_tokens, DAY_S, add=False)
            if not used.allowed:
                raise RateLimited(
                    f"tenant {tenant.name!r} has used its daily quota of {tenant.daily_tokens} tokens",
                    headers={**admission.headers, "retry-after": "3600"},
                )
        return admission

    async def settle(self, principal: Principal, tokens: int) -> None:
        """Charge the tokens a request used (after its answer: usage is known only then)."""
        tenant = principal.tenant
        if tenant is None or tokens <= 0:
            return
        if tenant.tokens_per_min is not None:
            limit = tenant.tokens_per_min
            await self.state.bucket(f"rl:tok:{tenant.name}", limit, limit / 60, tokens, "debit")
        if tenant.daily_tokens is not None:
            await self.state.quota(f"rl:day:{tenant.name}", tokens, tenant.daily_tokens, DAY_S, add=True)


def _headers(kind: str, limit: int, got: BucketResult) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*`` headers for one bucket."""
    return {
        f"x-ratelimit-limit-{kind}": str(limit),
        f"x-ratelimit-remaining-{kind}": str(max(0, math.floor(got.remaining))),
        f"x-ratelimit-reset-{kind}": _duration(got.reset_s),
    }


def _seconds(value: float) -> str:
    return str(max(1, math.ceil(value)))


def _duration(seconds: float) -> str:
    """OpenAI's reset format: ``1s``, ``6m0s``, ``120ms``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
