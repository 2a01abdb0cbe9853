"""Asking another resolver: one SQP query over HTTP, the signed answer decoded (not yet trusted).

The default transport is one pooled :class:`aiohttp.ClientSession` (created on first use, on the
running loop): httpx costs several times its CPU per request, which was most of a hop's cost
(bench/protocol.py). Pass an :class:`httpx.AsyncClient` instead to route through a custom transport
(the tests' in-process router). Failures become :class:`~semdns.errors.DelegationError` subclasses
with the server named: a timeout (:class:`PeerTimeout`), a refused connection or a 5xx
(:class:`PeerUnavailable`), or an error answer whose stable code is kept (``delegation_loop``
reported by a child stays ``delegation_loop``).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import httpx

from semdns.errors import (
    BadSignature,
    DelegationError,
    DelegationLoop,
    HopLimitExceeded,
    PeerTimeout,
    PeerUnavailable,
    ProtocolError,
)
from semdns.protocol.codec import CONTENT_TYPES, content_type_of, decode, encode
from semdns.protocol.messages import Answer, ContentType, Envelope, Query

QUERY_PATH = "/semdns/v1/query"
DICTIONARY_PATH = "/semdns/v1/dictionaries/"

_BY_CODE: dict[str, type[DelegationError]] = {
    "delegation_loop": DelegationLoop,
    "hop_limit_exceeded": HopLimitExceeded,
    "bad_signature": BadSignature,
    "peer_timeout": PeerTimeout,
}


@dataclass(frozen=True)
class Reply:
    """A decoded reply: the envelope (with the raw payload the signature covers) and the answer."""

    envelope: Envelope
    answer: Answer
    payload: bytes


class PeerClient:
    """Sends queries to peers on one pooled HTTP client; counts what it sent."""

    def __init__(self, client: httpx.AsyncClient | None = None, *, form: ContentType = "msgpack") -> None:
        self._client = client
        self._session: aiohttp.ClientSession | None = None
        self.form: ContentType = form
        self.sent = 0
        self.trace_configs: list[aiohttp.TraceConfig] | None = None
        """aiohttp request hooks (the gateway's tracing sets them to carry ``traceparent`` on)."""

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> tuple[int, str, bytes]:
        """One POST: status, content type, body. Raises httpx- or aiohttp-specific errors."""
        if self._client is not None:
            response = await self._client.post(url, content=body, headers=headers, timeout=timeout_s)
            return response.status_code, response.headers.get("content-type", ""), response.content
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=300),
                trust_env=False,
                trace_configs=self.trace_configs,
            )
        async with self._session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as reply:
            return reply.status, reply.headers.get("content-type", ""), await reply.read()

    async def ask(self, server: str, query: Query, timeout_s: float) -> Reply:
        """One query to ``server``; raise a :class:`DelegationError` naming it when that fails."""
        url = server.rstrip("/") + QUERY_PATH
        media = CONTENT_TYPES[self.form]
        self.sent += 1
        try:
            status, content_type, content = await self._post(
                url,
                encode(query, self.form),
                {"content-type": media, "accept": media},
                max(0.001, timeout_s),
            )
        except (TimeoutError, httpx.TimeoutException):
            raise PeerTimeout(
                f"{server} did not answer for {query.zone} within {timeout_s * 1000:.0f} ms"
            ) from None
        except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
            raise PeerUnavailable(f"{server} is unreachable for {query.zone}: {exc!r}") from None
        try:
            form = content_type_of(content_type)
            envelope = decode(content, Envelope, form)
            payload = bytes(envelope.payload)
            answer = decode(payload, Answer, form)
        except ProtocolError as exc:
            raise PeerUnavailable(
                f"{server} sent an unreadable reply (HTTP {status}) for {query.zone}: {exc}"
            ) from None
        if status >= 400 or (answer.errors and not answer.names):
            first = answer.errors[0] if answer.errors else None
            kind = _BY_CODE.get(first.code, PeerUnavailable) if first else PeerUnavailable
            message = first.message if first else f"HTTP {status}"
            error = kind(f"{server} ({query.zone}): {message}")
            if first is not None and kind is PeerUnavailable:
                error.code = first.code
            raise error
        return Reply(envelope, answer, payload)

    async def dictionary(self, server: str, dictionary_id: str, timeout_s: float = 5.0) -> bytes:
        """Fetch a zone's zstd dictionary from its owner."""
        url = server.rstrip("/") + DICTIONARY_PATH + dictionary_id
        try:
            async with httpx.AsyncClient(trust_env=False) as fallback:
                response = await (self._client or fallback).get(url, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"{server}: cannot fetch dictionary {dictionary_id}: {exc!r}") from None
        if response.status_code != 200:
            raise PeerUnavailable(f"{server}: dictionary {dictionary_id}: HTTP {response.status_code}")
        return response.content
