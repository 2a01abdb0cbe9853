"""The protocol's HTTP endpoints, mounted by ``semdns serve`` beside the OpenAI-compatible API.

``POST /semdns/v1/query``: an SQP query in (MessagePack or JSON, by ``Content-Type``), a signed answer
envelope out (in the form the ``Accept`` header asks for, else the request's). ``GET
/semdns/v1/dictionaries/{id}``: a zone's zstd dictionary (CCP). ``GET /semdns/v1/zone``: what this
resolver serves and its public key. ``GET /semdns/v1/stats``: query counters (tests count a parent's
requests with it). Bodies are read with a hard cap, so an oversized message costs at most the cap.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from semdns.delegation.authority import Authority
from semdns.errors import MessageTooLarge, ProtocolError, UnknownDictionary
from semdns.protocol.codec import CONTENT_TYPES, content_type_of, decode
from semdns.protocol.messages import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, ContentType, Query

BODY_TIMEOUT_S = 30.0
"""Longest wait for a query's body: a peer that trickles it (slowloris) is answered 400 and let go."""


async def _read_capped(request: Request, limit: int, timeout_s: float = BODY_TIMEOUT_S) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise MessageTooLarge(f"query of {declared} bytes exceeds the limit of {limit} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            async for piece in request.stream():
                body.extend(piece)
                if len(body) > limit:
                    raise MessageTooLarge(f"query exceeds the limit of {limit} bytes")
    except TimeoutError:
        raise ProtocolError(f"the query's body did not arrive within {timeout_s:g} s") from None
    return bytes(body)


class ProtocolRoutes:
    """Request handlers over one :class:`Authority`."""

    def __init__(
        self,
        authority: Authority,
        *,
        max_bytes: int = MAX_MESSAGE_BYTES,
        body_timeout_s: float = BODY_TIMEOUT_S,
    ) -> None:
        self.authority = authority
        self.max_bytes = max_bytes
        self.body_timeout_s = body_timeout_s

    def routes(self) -> list[Route]:
        return [
            Route("/semdns/v1/query", self.query, methods=["POST"]),
            Route("/semdns/v1/dictionaries/{dictionary_id}", self.dictionary, methods=["GET"]),
            Route("/semdns/v1/dictionaries/{dictionary_path:path}", self.no_dictionary, methods=["GET"]),
            Route("/semdns/v1/zone", self.zone, methods=["GET"]),
            Route("/semdns/v1/stats", self.stats, methods=["GET"]),
        ]

    async def query(self, request: Request) -> Response:
        form: ContentType = "json"
        try:
            form = content_type_of(request.headers.get("content-type"))
            reply_form = content_type_of(request.headers.get("accept")) if _accepts(request) else form
            body = await _read_capped(request, self.max_bytes, self.body_timeout_s)
            query = decode(body, Query, form, max_bytes=self.max_bytes)
        except ProtocolError as exc:
            self.authority.counts["malformed"] += 1
            answer = self.authority.error_answer("invalid", ".", exc)
            return Response(
                self.authority.seal(answer, form), exc.http_status, media_type=CONTENT_TYPES[form]
            )
        answer, status = await self.authority.answer(query)
        return Response(self.authority.seal(answer, reply_form), status, media_type=CONTENT_TYPES[reply_form])

    async def dictionary(self, request: Request) -> Response:
        dictionary_id = request.path_params["dictionary_id"]
        try:
            found = self.authority.dictionaries.get(dictionary_id)
        except UnknownDictionary as exc:
            return _unknown_dictionary(exc)
        return Response(found.data, media_type="application/octet-stream")

    async def no_dictionary(self, request: Request) -> Response:
        """An id with a ``/`` in it (sent encoded, ``0%2F``): no dictionary has one. Without this route
        the router would redirect ``.../0/`` to ``.../0``, another dictionary than the one asked for,
        and an id is never handed to the owner fetch with a path in it."""
        path = request.path_params["dictionary_path"]
        return _unknown_dictionary(UnknownDictionary(f"dictionary {path!r} is unknown: ids have no '/'"))

    async def zone(self, request: Request) -> Response:
        key = self.authority.key
        return JSONResponse(
            {
                "version": PROTOCOL_VERSION,
                "apex": str(self.authority.tree.apex),
                "names": len(self.authority.tree),
                "server": self.authority.server,
                "public_key": key.public_text if key else None,
                "key_id": key.key_id if key else None,
                "dictionaries": sorted(d for d in self.authority.dictionaries_ids()),
            }
        )

    async def stats(self, request: Request) -> Response:
        return JSONResponse(dict(self.authority.counts))


def _accepts(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "json" in accept or "msgpack" in accept


def _unknown_dictionary(exc: UnknownDictionary) -> Response:
    """The protocol's error body for a dictionary id nobody holds (docs/protocol.md)."""
    return JSONResponse({"error": {"code": exc.code, "message": str(exc)}}, exc.http_status)
