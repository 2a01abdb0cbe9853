"""Following referrals: the loop both an iterative asker and a recursive resolver run.

An answer may carry referrals (delegation points its descent reached). Following one means: pick the
referral's servers not yet on this query's path (a revisit is a delegation cycle, an error that names
the cycle), send the query on with the zone, the path confidence and the embedding, verify the signed
reply against the key the *parent* gave, and put the child's names where the delegation point was.
Referrals are followed in parallel (a cross-domain query may reach two delegations).

Caches: answers per (zone, query) for their TTL, and referrals per zone for theirs, so that a later
query constrained to a subtree goes straight to its servers. When every server of a zone fails (down,
timeout, bad signature), a cached answer still within ``max_stale_s`` of its expiry is served, flagged
stale (RFC 8767); without one the answer stops at the delegating node, flagged degraded, and the error
is reported: the request is still answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from semdns.delegation.cache import DEFAULT_MAX_STALE_S, StaleCache
from semdns.delegation.client import PeerClient
from semdns.delegation.convert import costliest
from semdns.errors import (
    BadSignature,
    DelegationError,
    DelegationLoop,
    HopLimitExceeded,
    PeerTimeout,
    SemdnsError,
)
from semdns.names import Name
from semdns.protocol.messages import (
    Answer,
    Constraints,
    Hop,
    HopKind,
    NameAnswer,
    PathEntry,
    Query,
    Referral,
    WireError,
)
from semdns.protocol.signing import verify
from semdns.resolve.text import cache_key

DEFAULT_HOP_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class _Pending:
    referral: Referral
    path: tuple[PathEntry, ...]


@dataclass
class _Outcome:
    """What following one referral produced (``answer`` is None on failure)."""

    referral: Referral
    answer: Answer | None
    hops: list[Hop] = field(default_factory=list)
    errors: list[WireError] = field(default_factory=list)
    stale: bool = False
    path: tuple[PathEntry, ...] = ()


def _wire_error(exc: SemdnsError, zone: str, server: str | None = None) -> WireError:
    return WireError(code=exc.code, message=str(exc)[:4000], zone=zone, server=server)


class Follower:
    """Follows referrals for one resolver (or one ``semdns dig`` run); holds its caches."""

    def __init__(
        self,
        peers: PeerClient,
        *,
        hop_timeout_s: float = DEFAULT_HOP_TIMEOUT_S,
        max_stale_s: float = DEFAULT_MAX_STALE_S,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.peers = peers
        self.hop_timeout_s = hop_timeout_s
        self.answers: StaleCache[tuple[str, str], tuple[Answer, str]] = StaleCache(
            cache_size, max_stale_s=max_stale_s, clock=clock
        )
        self.referrals: StaleCache[str, Referral] = StaleCache(
            cache_size, max_stale_s=max_stale_s, clock=clock
        )

    # -- entry points -----------------------------------------------------------------------------

    def start_referral(self, root: Referral, constraints: Constraints | None) -> Referral:
        """Where an asker starts: the deepest cached referral covering the query's ``within``
        constraint (skipping every parent above it), else ``root``."""
        if constraints is None or len(constraints.within) != 1:
            return root
        target = Name.parse(constraints.within[0])
        for ancestor in (target, *target.ancestors):
            found = self.referrals.get(str(ancestor))
            if found is not None:
                return msgspec.structs.replace(found.value, confidence=None)
        return root

    async def complete(
        self,
        answer: Answer,
        query: Query,
        *,
        path: Sequence[PathEntry],
        recursive: bool,
        deadline: float,
    ) -> Answer:
        """``answer`` with every referral followed (each child asked with ``recursive``), until none is
        left, the hop limit is reached or the deadline passes."""
        pending = [_Pending(r, tuple(path)) for r in answer.referrals]
        answer = msgspec.structs.replace(answer, referrals=[])
        # Bounded: every round moves each branch one resolver further, and a branch never gets
        # longer than the hop limit (it fails with hop_limit_exceeded instead).
        for _ in range(query.hop_limit + 1):
            if not pending:
                break
            embedding = query.embedding or answer.embedding
            shallow = query.shallow_embedding or answer.shallow_embedding
            carried = msgspec.structs.replace(query, embedding=embedding, shallow_embedding=shallow)
            outcomes = await asyncio.gather(
                *(self._follow(p, carried, recursive=recursive, deadline=deadline) for p in pending)
            )
            answer, pending = _merge(answer, outcomes)
        if pending:
            left = [
                WireError(
                    code="hop_limit_exceeded", message="referrals left at the hop limit", zone=p.referral.zone
                )
                for p in pending
            ]
            answer = msgspec.structs.replace(answer, degraded=True, errors=[*answer.errors, *left])
        return answer

    # -- one referral -----------------------------------------------------------------------------

    async def _follow(self, pending: _Pending, query: Query, *, recursive: bool, deadline: float) -> _Outcome:
        referral = pending.referral
        key = (referral.zone, _query_key(query, referral))
        cached = self.answers.get(key)
        if cached is not None:
            verified = referral.public_key is not None
            answer, server = cached.value
            hop = Hop(server="cache", zone=referral.zone, kind="cached", verified=verified)
            cached_path = (*pending.path, PathEntry(zone=referral.zone, server=server))
            return _Outcome(referral, answer, [hop], path=cached_path)
        errors: list[WireError] = []
        hops: list[Hop] = []
        try:
            servers = self._servers(pending, query)
        except DelegationError as exc:
            errors.append(_wire_error(exc, referral.zone))
            hops.append(Hop(server="-", zone=referral.zone, kind="error", error=errors[-1]))
            return _Outcome(referral, None, hops, errors, path=pending.path)
        for server in servers:
            started = time.perf_counter()
            try:
                answer = await self._ask(server, referral, query, pending.path, recursive, deadline)
            except DelegationError as exc:
                error = _wire_error(exc, referral.zone, server)
                errors.append(error)
                elapsed = (time.perf_counter() - started) * 1e6
                hops.append(
                    Hop(server=server, zone=referral.zone, kind="error", elapsed_us=elapsed, error=error)
                )
                if isinstance(exc, (DelegationLoop, HopLimitExceeded)):
                    break
                continue
            elapsed = (time.perf_counter() - started) * 1e6
            kind: HopKind = "referral" if answer.referrals else "answer"
            hops.append(
                Hop(
                    server=server,
                    zone=referral.zone,
                    kind=kind,
                    elapsed_us=elapsed,
                    verified=referral.public_key is not None,
                    referred=[r.zone for r in answer.referrals],
                )
            )
            self.referrals.put(referral.zone, referral, referral.ttl)
            if not answer.degraded and not answer.stale:
                self.answers.put(key, (answer, server), min(answer.ttl, referral.ttl))
            child_path = (*pending.path, PathEntry(zone=referral.zone, server=server))
            return _Outcome(referral, answer, hops + answer.hops, errors, path=child_path)
        looped = any(e.code in ("delegation_loop", "hop_limit_exceeded") for e in errors)
        stale = None if looped else self.answers.get(key, allow_stale=True)
        if stale is not None:
            verified = referral.public_key is not None
            hops.append(Hop(server="cache", zone=referral.zone, kind="stale", verified=verified))
            answer, server = stale.value
            stale_path = (*pending.path, PathEntry(zone=referral.zone, server=server))
            return _Outcome(referral, answer, hops, errors, stale=True, path=stale_path)
        return _Outcome(referral, None, hops, errors, path=pending.path)

    def _servers(self, pending: _Pending, query: Query) -> list[str]:
        referral = pending.referral
        if len(pending.path) + query.hops + 1 > query.hop_limit:
            raise HopLimitExceeded(
                f"following {referral.zone} would take the query past its hop limit of {query.hop_limit} "
                f"(path: {_describe(pending.path)})"
            )
        visited = {(p.zone, p.server.rstrip("/")) for p in pending.path}
        fresh = [s for s in referral.servers if (referral.zone, s.rstrip("/")) not in visited]
        if not fresh:
            cycle = [*pending.path, PathEntry(zone=referral.zone, server=referral.servers[0])]
            raise DelegationLoop(f"delegation cycle: {_describe(cycle)}")
        return fresh

    async def _ask(
        self,
        server: str,
        referral: Referral,
        query: Query,
        path: tuple[PathEntry, ...],
        recursive: bool,
        deadline: float,
    ) -> Answer:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise PeerTimeout(f"the request's deadline passed before {referral.zone} could be asked")
        timeout = min(self.hop_timeout_s, remaining)
        child_query = msgspec.structs.replace(
            query,
            zone=referral.zone,
            start_confidence=referral.confidence,
            recursive=recursive,
            timeout_ms=max(1, int(remaining * 1000)),
            path=[*path, PathEntry(zone=referral.zone, server=server)],
        )
        reply = await self.peers.ask(server, child_query, timeout)
        if referral.public_key is not None:
            verify(referral.public_key, reply.payload, reply.envelope.sig, who=f"{server} ({referral.zone})")
        answer = reply.answer
        if answer.id != query.id or answer.zone != referral.zone:
            raise BadSignature(
                f"{server} answered for {answer.zone} (query {answer.id}) when asked about "
                f"{referral.zone} (query {query.id}); the answer was rejected"
            )
        return answer


def _describe(path: Sequence[PathEntry]) -> str:
    return " -> ".join(f"{p.zone}@{p.server}" for p in path) or "(start)"


def _query_key(query: Query, referral: Referral) -> str:
    key = cache_key(query.text or "") + "\x1f" + cache_key(query.context or "")
    if query.constraints is not None:
        key += "\x1e" + msgspec.json.encode(query.constraints).decode()
    servers = ",".join(referral.servers)
    return f"{key}\x1e{referral.confidence!r}\x1e{query.recursive}\x1e{servers}"


def _merge(parent: Answer, outcomes: Sequence[_Outcome]) -> tuple[Answer, list[_Pending]]:
    """Put each child's names where its delegation point was; collect the trace, hops and errors."""
    names = list(parent.names)
    trace = list(parent.trace)
    hops = list(parent.hops)
    errors = list(parent.errors)
    pending: list[_Pending] = []
    stage, ttl = parent.stage, parent.ttl
    degraded, stale = parent.degraded, parent.stale
    for outcome in outcomes:
        hops.extend(outcome.hops)
        errors.extend(outcome.errors)
        child = outcome.answer
        if child is None:
            degraded = True  # the answer stops at the delegating node
            continue
        at = next((i for i, n in enumerate(names) if n.name == outcome.referral.zone), None)
        replacement: list[NameAnswer] = list(child.names)
        if at is None:
            names.extend(replacement)
        else:
            names[at : at + 1] = replacement
        trace.extend(child.trace)
        errors.extend(e for e in child.errors if e not in errors)
        pending.extend(_Pending(r, outcome.path) for r in child.referrals)
        stage = costliest(stage, child.stage)
        ttl = min(ttl, child.ttl) if ttl else child.ttl
        degraded = degraded or child.degraded
        stale = stale or child.stale or outcome.stale
    names.sort(key=lambda n: -n.confidence)
    merged = msgspec.structs.replace(
        parent,
        names=names,
        trace=trace,
        hops=hops,
        errors=errors,
        stage=stage,
        ttl=ttl,
        degraded=degraded,
        stale=stale,
    )
    return merged, pending
