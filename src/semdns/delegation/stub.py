"""Asking a semdns resolver from outside (``semdns dig --server``), iteratively or recursively.

``recursive``: one query to the server, which follows every delegation itself and returns the final
names with the whole chain. ``iterative`` (``dig --trace``): the server answers with referrals and this
side follows them, verifying each child's signature with the key its parent's referral carried, and
caching referrals and answers for their TTL (a later query constrained to a cached subtree skips every
parent). ``trust_key`` is the server's own public key when the caller wants its answers verified too
(the trust anchor, like DNSSEC's root key).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Literal

import httpx

from semdns.delegation.cache import DEFAULT_MAX_STALE_S
from semdns.delegation.client import PeerClient
from semdns.delegation.follower import DEFAULT_HOP_TIMEOUT_S, Follower
from semdns.errors import PeerUnavailable
from semdns.protocol.messages import Answer, Constraints, NameAnswer, Query, Referral

Mode = Literal["iterative", "recursive"]


class RemoteResolver:
    """A client of one semdns server, with its own referral and answer caches."""

    def __init__(
        self,
        server: str,
        *,
        trust_key: str | None = None,
        zone: str | None = None,
        hop_timeout_s: float = DEFAULT_HOP_TIMEOUT_S,
        deadline_s: float = 10.0,
        max_stale_s: float = DEFAULT_MAX_STALE_S,
        clock: Callable[[], float] = time.monotonic,
        peers: PeerClient | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.trust_key = trust_key
        self.zone = zone
        self.deadline_s = deadline_s
        self.peers = peers or PeerClient()
        self.follower = Follower(
            self.peers, hop_timeout_s=hop_timeout_s, max_stale_s=max_stale_s, clock=clock
        )

    async def aclose(self) -> None:
        await self.peers.aclose()

    async def _apex(self) -> str:
        """The zone the server is authoritative for (asked once: ``GET /semdns/v1/zone``)."""
        if self.zone is None:
            async with httpx.AsyncClient(trust_env=False) as client:
                try:
                    response = await client.get(self.server + "/semdns/v1/zone", timeout=self.deadline_s)
                    self.zone = str(response.json()["apex"])
                except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                    raise PeerUnavailable(
                        f"{self.server} does not answer as a semdns resolver: {exc!r}"
                    ) from None
        return self.zone

    async def resolve(
        self,
        text: str,
        *,
        mode: Mode = "recursive",
        context: str | None = None,
        within: str | None = None,
        max_depth: int | None = None,
        hop_limit: int = 8,
        trace_id: str | None = None,
    ) -> Answer:
        """The final answer for ``text``: names, the trace across resolvers, hops, degraded/stale."""
        zone = await self._apex()
        constraints = (
            Constraints(within=[within] if within else [], max_depth=max_depth)
            if within or max_depth is not None
            else None
        )
        query = Query(
            id=uuid.uuid4().hex,
            text=text,
            context=context,
            constraints=constraints,
            recursive=mode == "recursive",
            hop_limit=hop_limit,
            trace_id=trace_id,
            timeout_ms=int(self.deadline_s * 1000),
        )
        root = Referral(zone=zone, servers=[self.server], public_key=self.trust_key)
        start = self.follower.start_referral(root, constraints)
        seed = Answer(
            id=query.id,
            zone=start.zone,
            names=[NameAnswer(name=start.zone, confidence=0.0, zone=start.zone)],
            referrals=[start],
        )
        return await self.follower.complete(
            seed,
            query,
            path=[],
            recursive=mode == "recursive",
            deadline=time.monotonic() + self.deadline_s,
        )
