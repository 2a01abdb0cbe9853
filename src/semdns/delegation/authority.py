"""The serving side: answer SQP queries for the zones this resolver holds, signed with the zone key.

A resolver is authoritative for its tree's apex and everything below it (``legal.`` for a resolver
loaded with legal.yaml), and refuses queries about anything else (``not_authoritative``). The descent
starts at the zone the asker followed, with the asker's path confidence and, when the encoder matches,
its embedding (never embedded twice). Delegation points the descent reaches become referrals; for a
recursive query they are followed here (:class:`~semdns.delegation.follower.Follower`) and the reply
holds the final names and the whole chain. Every reply is an :class:`Envelope` whose payload is signed
with the zone's Ed25519 key.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import msgspec

from semdns.delegation.convert import embedding_message, level_entries, name_answers, usable_vector
from semdns.delegation.follower import Follower
from semdns.errors import (
    DelegationLoop,
    HopLimitExceeded,
    InvalidRequest,
    NotAuthoritative,
    ProtocolError,
    SemdnsError,
)
from semdns.names import InvalidName, Name
from semdns.protocol.ccp import DictionaryStore, decompress_context
from semdns.protocol.codec import encode
from semdns.protocol.messages import (
    Answer,
    ContentType,
    Envelope,
    NameAnswer,
    PathEntry,
    Query,
    Referral,
    WireError,
)
from semdns.protocol.signing import ZoneKey
from semdns.resolve.resolver import Resolver
from semdns.zone.tree import ZoneTree


@dataclass
class Authority:
    """Answers protocol queries for one tree; ``server`` is this resolver's own URL (for traces and
    loop detection)."""

    tree: ZoneTree
    resolver: Resolver
    follower: Follower
    server: str
    key: ZoneKey | None = None
    dictionaries: DictionaryStore = field(default_factory=DictionaryStore)
    counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def build(cls, tree: ZoneTree, resolver: Resolver, follower: Follower, server: str) -> Authority:
        """Load the apex zone's signing key (when the zone file names one) and train its dictionaries."""
        from semdns.compress.dictionaries import trained_dictionaries
        from semdns.protocol.ccp import zone_dictionaries

        key_path = tree.signing_keys.get(tree.apex)
        key = ZoneKey.load(key_path) if key_path else None
        store = DictionaryStore(zone_dictionaries(tree).values())
        for trained in trained_dictionaries(tree):
            store.add(trained)
        return cls(tree, resolver, follower, server.rstrip("/"), key, store)

    # -- answering --------------------------------------------------------------------------------

    async def answer(self, query: Query) -> tuple[Answer, int]:
        """Resolve ``query``: the answer and its HTTP status. Errors come back inside the answer
        (``errors``, with their stable codes), never raised."""
        self.counts["queries"] += 1
        self.counts["recursive" if query.recursive else "iterative"] += 1
        try:
            return await self._answer(query), 200
        except SemdnsError as exc:
            self.counts["errors"] += 1
            return self.error_answer(query.id, query.zone, exc), exc.http_status

    def error_answer(self, query_id: str, zone: str, exc: SemdnsError) -> Answer:
        return Answer(
            id=query_id,
            zone=zone,
            server=self.server,
            errors=[WireError(code=exc.code, message=str(exc)[:4000], zone=zone, server=self.server)],
        )

    async def _answer(self, query: Query) -> Answer:
        started = time.monotonic()
        zone = self._zone(query)
        if any(p.zone == query.zone and p.server.rstrip("/") == self.server for p in query.path[:-1]):
            raise DelegationLoop(
                "delegation cycle: "
                + " -> ".join(f"{p.zone}@{p.server}" for p in query.path)
                + f" reached {query.zone}@{self.server} again"
            )
        if query.hops + len(query.path) > query.hop_limit + 1:
            raise HopLimitExceeded(
                f"query passed {len(query.path)} resolvers; its hop limit is {query.hop_limit}"
            )
        text = self._text(query)
        context = self._context(query)
        carried = usable_vector(query.embedding, self.resolver.encoder)
        shallow = self.resolver.shallow
        carried_shallow = usable_vector(query.shallow_embedding, shallow) if shallow is not None else None
        start = self._start(zone, query)
        decision = await self.resolver.aresolve(
            text,
            context,
            embedding=carried,
            start=start,
            start_confidence=query.start_confidence if start == zone else None,
            shallow_embedding=carried_shallow,
        )
        names = name_answers(decision, self.tree)
        referrals = self._referrals(names)
        names = self._constrain(names, query, start)
        computed = decision.embedding if carried is None else None
        computed_shallow = decision.shallow_embedding if carried_shallow is None else None
        answer = Answer(
            id=query.id,
            zone=query.zone,
            server=self.server,
            names=names,
            trace=level_entries(decision, zone=str(self.tree.apex), server=self.server),
            referrals=referrals,
            stage=decision.stage,
            ttl=decision.ttl,
            embedding_reused=carried is not None,
            embedding=embedding_message(computed, self.resolver.encoder) if computed is not None else None,
            shallow_embedding=embedding_message(computed_shallow, shallow)
            if computed_shallow is not None and shallow is not None
            else None,
        )
        if query.recursive and referrals:
            here = PathEntry(zone=query.zone, server=self.server)
            path = [*query.path[:-1], here] if query.path else [here]
            deadline = started + query.timeout_ms / 1000.0
            answer = await self.follower.complete(
                answer,
                msgspec.structs.replace(query, hops=0, path=path),
                path=path,
                recursive=True,
                deadline=deadline,
            )
        return answer

    def _zone(self, query: Query) -> Name:
        try:
            zone = Name.parse(query.zone)
        except InvalidName as exc:
            raise ProtocolError(f"query zone: {exc}") from None
        if not zone.is_under(self.tree.apex) or zone not in self.tree:
            raise NotAuthoritative(
                f"this resolver serves {self.tree.apex} and below; it was asked about {zone}. "
                "Ask the resolver its parent delegates that zone to."
            )
        return zone

    def _start(self, zone: Name, query: Query) -> Name:
        """The query's zone, or the deepest local name of a ``within`` constraint below it."""
        if query.constraints is None or len(query.constraints.within) != 1:
            return zone
        try:
            target = Name.parse(query.constraints.within[0])
        except InvalidName as exc:
            raise ProtocolError(f"constraints.within: {exc}") from None
        for candidate in (target, *target.ancestors):
            if candidate in self.tree and candidate.is_under(zone):
                return candidate
        return zone

    def _text(self, query: Query) -> str:
        if query.text is not None:
            text = query.text
        elif query.text_compressed is not None:
            text = decompress_context(query.text_compressed, self.dictionaries)
        else:
            raise InvalidRequest("the query has neither text nor text_compressed", param="text")
        if not text.strip():
            raise InvalidRequest("the query text is empty", param="text")
        return text

    def _context(self, query: Query) -> str | None:
        if query.context_compressed is not None:
            return decompress_context(query.context_compressed, self.dictionaries)
        return query.context or None

    def _referrals(self, names: list[NameAnswer]) -> list[Referral]:
        return referrals_for(names, self.tree)

    @staticmethod
    def _constrain(names: list[NameAnswer], query: Query, start: Name) -> list[NameAnswer]:
        """Apply ``max_depth``: a deeper answer is cut to its ancestor at that depth."""
        constraints = query.constraints
        if constraints is None or constraints.max_depth is None:
            return names
        cut: list[NameAnswer] = []
        for entry in names:
            name = Name.parse(entry.name)
            if name.depth > constraints.max_depth:
                name = Name(name.labels[name.depth - constraints.max_depth :])
                entry = msgspec.structs.replace(entry, name=str(name), dn="")
            if all(c.name != entry.name for c in cut):
                cut.append(entry)
        return cut or names

    def dictionaries_ids(self) -> list[str]:
        return self.dictionaries.ids()

    # -- the signed reply -------------------------------------------------------------------------

    def seal(self, answer: Answer, form: ContentType) -> bytes:
        """The signed envelope of ``answer`` in ``form``."""
        payload = encode(answer, form)
        return encode(
            Envelope(
                zone=answer.zone,
                key_id=self.key.key_id if self.key else None,
                payload=msgspec.Raw(payload),
                sig=self.key.sign(payload) if self.key else None,
            ),
            form,
        )


def referrals_for(names: list[NameAnswer], tree: ZoneTree) -> list[Referral]:
    """A referral for every answer name that is a delegation point of ``tree`` (the descent stopped
    there); shared by the protocol server and the gateway's recursion."""
    referrals: list[Referral] = []
    for entry in names:
        node = tree.node(Name.parse(entry.name))
        record = node.delegation
        if record is None or tree.children(node.name):
            continue
        referrals.append(
            Referral(
                zone=entry.name,
                servers=[str(s).rstrip("/") for s in record.servers],
                public_key=record.public_key,
                ttl=record.ttl,
                confidence=entry.confidence,
            )
        )
    return referrals


def new_query_id() -> str:
    return uuid.uuid4().hex
