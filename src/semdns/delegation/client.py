"""Asking another resolver: one SQP query over HTTP, the signed answer decoded (not yet trusted).

Failures become :class:`~semdns.errors.DelegationError` subclasses with the server named: a timeout
(:class:`PeerTimeout`), a refused connection or a 5xx (:class:`PeerUnavailable`), or an error answer
whose stable code is kept (``delegation_loop`` reported by a child stays ``delegation_loop``).
"""

from __future__ import annotations

from dataclasses import dataclass

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
        self._client = client or httpx.AsyncClient(
            trust_env=False,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )
        self._owns = client is None
        self.form: ContentType = form
        self.sent = 0

    async def aclose(self) -> None:
        if self._owns:
            await self._client.aclose()

    async def ask(self, server: str, query: Query, timeout_s: float) -> Reply:
        """One query to ``server``; raise a :class:`DelegationError` naming it when that fails."""
        url = server.rstrip("/") + QUERY_PATH
        media = CONTENT_TYPES[self.form]
        self.sent += 1
        try:
            response = await self._client.post(
                url,
                content=encode(query, self.form),
                headers={"content-type": media, "accept": media},
                timeout=max(0.001, timeout_s),
            )
        except httpx.TimeoutException:
            raise PeerTimeout(
                f"{server} did not answer for {query.zone} within {timeout_s * 1000:.0f} ms"
            ) from None
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"{server} is unreachable for {query.zone}: {exc!r}") from None
        try:
            form = content_type_of(response.headers.get("content-type"))
            envelope = decode(response.content, Envelope, form)
            payload = bytes(envelope.payload)
            answer = decode(payload, Answer, form)
        except ProtocolError as exc:
            raise PeerUnavailable(
                f"{server} sent an unreadable reply (HTTP {response.status_code}) for {query.zone}: {exc}"
            ) from None
        if response.status_code >= 400 or (answer.errors and not answer.names):
            first = answer.errors[0] if answer.errors else None
            kind = _BY_CODE.get(first.code, PeerUnavailable) if first else PeerUnavailable
            message = first.message if first else f"HTTP {response.status_code}"
            error = kind(f"{server} ({query.zone}): {message}")
            if first is not None and kind is PeerUnavailable:
                error.code = first.code
            raise error
        return Reply(envelope, answer, payload)

    async def dictionary(self, server: str, dictionary_id: str, timeout_s: float = 5.0) -> bytes:
        """Fetch a zone's zstd dictionary from its owner."""
        url = server.rstrip("/") + DICTIONARY_PATH + dictionary_id
        try:
            response = await self._client.get(url, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise PeerUnavailable(f"{server}: cannot fetch dictionary {dictionary_id}: {exc!r}") from None
        if response.status_code != 200:
            raise PeerUnavailable(f"{server}: dictionary {dictionary_id}: HTTP {response.status_code}")
        return response.content
