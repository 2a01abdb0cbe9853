"""Recursion for ``model: auto``: a local decision that stopped at a delegation is followed to the end.

The parent's resolver only scores down to the delegation node (``legal.``, outcome ``delegated``); the
names below live in the child's zone. Like a recursive DNS resolver, the gateway then asks the child
through the same :class:`~semdns.delegation.follower.Follower` the protocol server uses (its caches,
stale serving, signature checks, hop limit and per-hop timeouts; the query embedding, when the parent
computed one, travels along so the child does not embed again) and routes on the final names
(``contracts.legal.``). When following fails the local decision stands, flagged degraded with the
follower's errors: the request is still served, by the delegation node's own engines.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from semdns.delegation.authority import new_query_id, referrals_for
from semdns.delegation.convert import embedding_message, name_answers
from semdns.delegation.follower import Follower
from semdns.names import Name
from semdns.protocol.messages import Answer, PathEntry, Query, WireError
from semdns.resolve.decision import Answer as DecisionAnswer
from semdns.resolve.decision import RoutingDecision
from semdns.resolve.encoder import Encoder
from semdns.zone.tree import ZoneTree

DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Followed:
    """A decision after recursion: ``followed`` when a delegation was asked at all; ``degraded`` and
    ``stale`` as the follower reported them; ``errors`` its wire errors (empty when all went well)."""

    decision: RoutingDecision
    followed: bool = False
    degraded: bool = False
    stale: bool = False
    errors: tuple[WireError, ...] = ()

    def explain(self) -> dict[str, Any]:
        """The ``semdns.delegation`` field: what recursion did."""
        return {
            "followed": self.followed,
            "degraded": self.degraded,
            "stale": self.stale,
            "errors": [{"code": e.code, "message": e.message, "zone": e.zone} for e in self.errors],
        }


class Recursion:
    """Follows the delegations a local decision stopped at (one per gateway, sharing the follower)."""

    def __init__(
        self,
        tree: ZoneTree,
        follower: Follower,
        *,
        server: str,
        encoder: Encoder | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        shallow: Encoder | None = None,
    ) -> None:
        self.tree = tree
        self.follower = follower
        self.server = server.rstrip("/")
        self.encoder = encoder
        self.shallow = shallow  # the resolver's shallow encoder, to name the shallow vector it carries
        self.timeout_s = timeout_s

    async def follow(self, decision: RoutingDecision, text: str, context: str | None) -> Followed:
        """``decision`` with each delegation point replaced by the child's names (unchanged when it
        stopped at none)."""
        names = name_answers(decision, self.tree)
        referrals = referrals_for(names, self.tree)
        if not referrals:
            return Followed(decision)
        apex = str(self.tree.apex)
        embedding = None
        if decision.embedding is not None and self.encoder is not None:
            embedding = embedding_message(decision.embedding, self.encoder)
        shallow = None
        if decision.shallow_embedding is not None and self.shallow is not None:
            shallow = embedding_message(decision.shallow_embedding, self.shallow)
        query_id = new_query_id()
        answer = Answer(
            id=query_id,
            zone=apex,
            server=self.server,
            names=names,
            referrals=referrals,
            stage=decision.stage,
            ttl=decision.ttl,
            embedding=embedding,
            shallow_embedding=shallow,
        )
        query = Query(id=query_id, text=text, context=context or None, zone=apex, recursive=True)
        here = [PathEntry(zone=apex, server=self.server)]
        merged = await self.follower.complete(
            answer, query, path=here, recursive=True, deadline=time.monotonic() + self.timeout_s
        )
        final = tuple(DecisionAnswer(Name.parse(n.name), n.dn, n.confidence) for n in merged.names)
        if not final:
            final = decision.answers
        updated = dataclasses.replace(
            decision,
            answers=final,
            confidence=max(a.confidence for a in final),
            stage=merged.stage,
            ttl=merged.ttl or decision.ttl,
        )
        return Followed(updated, True, merged.degraded, merged.stale, tuple(merged.errors))
