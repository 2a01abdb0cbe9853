"""Part of the attack suite (docs/security.md): a man in the middle replays a child zone's genuine,
correctly signed answer to an earlier query as the answer to a new one. The signature verifies (the
bytes are the child's), so what stops it is the query id and zone inside the signed payload."""

from __future__ import annotations

import asyncio

import httpx

from conftest import ROOT_URL, Cluster
from semdns.delegation.client import PeerClient
from semdns.delegation.stub import RemoteResolver
from semdns.protocol.messages import Answer

FIRST = "Can my landlord keep my security deposit for normal wear and tear?"
SECOND = "Is a verbal agreement to sell my car a binding contract?"


class Replayer(httpx.AsyncBaseTransport):
    """Forwards to the cluster; keeps legal.'s first reply and sends it again for every later query."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.recorded: tuple[int, httpx.Headers, bytes] | None = None
        self.replayed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.port != 18941 or not request.url.path.endswith("/query"):
            return await self.inner.handle_async_request(request)
        if self.recorded is None:
            response = await self.inner.handle_async_request(request)
            body = await response.aread()
            self.recorded = (response.status_code, response.headers, body)
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        self.replayed += 1
        status, headers, body = self.recorded
        return httpx.Response(status, headers=headers, content=body)


def test_a_replayed_signed_answer_is_rejected(cluster: Cluster) -> None:
    async def go() -> tuple[Answer, Answer, int]:
        replayer = Replayer(cluster.router)
        client = RemoteResolver(ROOT_URL, zone=".", peers=PeerClient(httpx.AsyncClient(transport=replayer)))
        try:
            first = await client.resolve(FIRST, mode="iterative")
            second = await client.resolve(SECOND, mode="iterative")
        finally:
            await client.aclose()
        return first, second, replayer.replayed

    first, second, replayed = asyncio.run(go())
    assert not first.errors
    assert replayed >= 1
    assert second.degraded
    assert second.errors and second.errors[0].code == "bad_signature"
    assert "when asked about" in second.errors[0].message  # the id check, not the signature, caught it
