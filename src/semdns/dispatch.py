"""Dispatch: from a resolved name to an answer, through replicas, retries, failover and fallback.

For the resolved name, the pool's balancing policy picks a replica; an attempt that fails in a
retryable way (connect error, timeout, 5xx, 429, a full local queue, all *before the first byte*) is
retried on another replica of the same name while the retry budget and ``max_retries`` allow (this is
the failover); when no replica of the name can answer, the request falls back to the parent name, and
so on up to the root. Every hop is recorded, and an answer from any name other than the resolved one
is *degraded* and flagged as such by the gateway. A non-retryable failure (the backend rejected the
request itself) ends the request at once: another replica would reject it too.

The whole request runs under one deadline (the resolved name's ``gateway.deadline_s``); each attempt
gets the smaller of its own timeout and the time left.

Streams commit at their first event: :meth:`Dispatcher.open_stream` returns only once an engine has
produced one, so everything before that can still be retried; a failure after it is the gateway's to
report as an error event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from semdns.engines.budget import RetryBudget
from semdns.engines.pool import Pool, Replica
from semdns.engines.protocol import Endpoint, EngineCall
from semdns.errors import (
    DeadlineExceeded,
    EngineError,
    EngineTimeout,
    NoEngineAvailable,
    UnsupportedParameter,
)
from semdns.names import Name
from semdns.zone.tree import ZoneTree

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Hop:
    """A name the request left, and why (``upstream_error``, ``no_engines``, ``circuit_open``, …)."""

    name: Name
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"name": str(self.name), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Served:
    """Who answered: the name, the replica, the names left on the way, the attempts made."""

    name: Name
    replica: str
    hops: tuple[Hop, ...]
    attempts: int
    delegated_to: str | None = None
    """The child gateway the request was forwarded to (a name under a delegation), else None."""

    @property
    def degraded(self) -> bool:
        return bool(self.hops)


class DispatchObserver(Protocol):
    """What dispatch reports (implemented by the gateway's metrics)."""

    def attempt(self, name: Name, replica: str, outcome: str, seconds: float) -> None: ...

    def fallback(self, source: Name, target: Name) -> None: ...

    def retry(self, name: Name, allowed: bool) -> None: ...


class _NullObserver:
    def attempt(self, name: Name, replica: str, outcome: str, seconds: float) -> None:
        pass

    def fallback(self, source: Name, target: Name) -> None:
        pass

    def retry(self, name: Name, allowed: bool) -> None:
        pass


@dataclass(frozen=True, slots=True)
class _Failure:
    name: Name
    replica: str
    error: EngineError


class Dispatcher:
    """Runs one request against the pools of a tree."""

    def __init__(
        self,
        tree: ZoneTree,
        pools: Mapping[Name, Pool],
        *,
        budget: RetryBudget | None = None,
        observer: DispatchObserver | None = None,
        delegations: Mapping[Name, Pool] | None = None,
    ) -> None:
        self.tree = tree
        self.pools = pools
        # Delegation node -> the pool of its servers' gateways (semdns.gateway.forward): names under a
        # delegation are forwarded there first, then fall back to the node's own engines.
        self.delegations: Mapping[Name, Pool] = delegations or {}
        self.budget = budget or RetryBudget()
        self.observer: DispatchObserver = observer or _NullObserver()

    async def complete(
        self, endpoint: Endpoint, body: dict[str, Any], name: Name, session: str | None = None
    ) -> tuple[dict[str, Any], Served]:
        """A non-streaming answer and who served it."""

        async def attempt(replica: Replica, call: EngineCall) -> dict[str, Any]:
            return await replica.engine.complete(call)

        return await self._run(endpoint, body, name, session, attempt, release_on_success=True)

    async def open_stream(
        self,
        endpoint: Endpoint,
        body: dict[str, Any],
        name: Name,
        session: str | None = None,
        *,
        coalesce: bool = False,
    ) -> tuple[AsyncIterator[bytes], Served]:
        """A stream whose first event has arrived; iterate it to the end (or ``aclose`` it). With
        ``coalesce`` an item may hold several complete events (:class:`EngineCall`)."""

        async def attempt(replica: Replica, call: EngineCall) -> AsyncIterator[bytes]:
            call.coalesce = coalesce
            events = replica.engine.stream(call)
            try:
                first = await anext(events)
            except StopAsyncIteration:
                raise EngineError(f"{replica.label}: the stream ended before its first event") from None
            except BaseException:
                await _aclose(events)
                raise
            return _committed(first, events, replica, self.observer)

        return await self._run(endpoint, body, name, session, attempt, release_on_success=False)

    async def _run(
        self,
        endpoint: Endpoint,
        body: dict[str, Any],
        name: Name,
        session: str | None,
        attempt: Callable[[Replica, EngineCall], Awaitable[T]],
        *,
        release_on_success: bool,
    ) -> tuple[T, Served]:
        loop_time = asyncio.get_running_loop().time
        point = delegation_point(self.tree, name)
        policy = self.tree.node(name if point is None else point).gateway  # UnknownName otherwise
        deadline = loop_time() + policy.deadline_s
        self.budget.deposit()
        hops: list[Hop] = []
        failures: list[_Failure] = []
        attempts = 0
        current: Name | None = name
        while current is not None and (current in self.tree or current == name):
            forwarding = current not in self.tree
            pool = self.pools.get(current)
            if forwarding and point is not None:
                pool = self.delegations.get(point)
            if pool is None:
                hops.append(Hop(current, "no_engines"))
                current = self._next(current, point)
                continue
            # Forwarded: the child gateway routes on the name and applies its own system prompt.
            system_prompt = None if forwarding else self.tree.nodes[current].system_prompt
            sent = {**body, "model": str(current)} if forwarding else body
            tried: list[Replica] = []
            last_error: EngineError | None = None
            # Replicas that cannot honour a parameter of the request are skipped, never used with it
            # dropped (and never charged to their circuit breaker).
            refusing = _refusing(pool, endpoint, sent, current, failures)
            while True:
                replica = pool.select(sent, session, [*tried, *refusing] if refusing else tried)
                if replica is None:
                    break
                if tried:
                    allowed = len(tried) <= pool.policy.max_retries and self.budget.try_spend()
                    self.observer.retry(current, allowed)
                    if not allowed:
                        break
                remaining = deadline - loop_time()
                if remaining <= 0:
                    raise _deadline_error(name, policy.deadline_s, failures)
                tried.append(replica)
                attempts += 1
                timeout = min(replica.timeout_s or pool.policy.attempt_timeout_s, remaining)
                call = EngineCall(endpoint, sent, timeout, system_prompt)
                replica.begin()
                started = time.perf_counter()
                try:
                    result = await attempt(replica, call)
                except EngineError as exc:
                    replica.end(False)
                    self.observer.attempt(current, replica.label, exc.kind, time.perf_counter() - started)
                    failures.append(_Failure(current, replica.label, exc))
                    last_error = exc
                    if not exc.retryable:
                        raise
                    if isinstance(exc, EngineTimeout) and deadline - loop_time() <= 0:
                        raise _deadline_error(name, policy.deadline_s, failures) from None
                    continue
                except BaseException:
                    replica.end(None)
                    raise
                if release_on_success:
                    replica.end(True)
                    self.observer.attempt(current, replica.label, "ok", time.perf_counter() - started)
                via = replica.label if forwarding else None
                return result, Served(current, replica.label, tuple(hops), attempts, via)
            reason = _reason(last_error) if tried else ("unsupported" if refusing else "unavailable")
            hops.append(Hop(current, reason))
            following = self._next(current, point)
            if following is not None:
                self.observer.fallback(current, following)
            current = following
        raise _exhausted(name, hops, failures)

    def _next(self, name: Name, point: Name | None = None) -> Name | None:
        """Where a request goes after ``name`` failed: a forwarded name falls back to its delegation
        node (the child already fell back inside its own tree), anything else to its parent."""
        if name not in self.tree:
            return point
        parent = name.parent
        return parent if parent is not None and parent in self.tree else None


def delegation_point(tree: ZoneTree, name: Name) -> Name | None:
    """The delegation node ``name`` lies under (``legal.`` for ``contracts.legal.``) when this tree does
    not define ``name`` itself; None for names the tree defines or that no delegation covers."""
    if name in tree:
        return None
    for ancestor in name.ancestors:
        if ancestor in tree:
            node = tree.nodes[ancestor]
            return ancestor if node.delegation is not None and not tree.children(ancestor) else None
    return None


async def _committed(
    first: bytes, events: AsyncIterator[bytes], replica: Replica, observer: DispatchObserver
) -> AsyncIterator[bytes]:
    """The stream after its commit point; settles the replica's accounting when it ends."""
    started = time.perf_counter()
    outcome: bool | None = None
    try:
        yield first
        async for event in events:
            yield event
        outcome = True
    except EngineError:
        outcome = False
        raise
    finally:
        await _aclose(events)
        replica.end(outcome)
        label = "ok" if outcome else ("stream_error" if outcome is False else "cancelled")
        observer.attempt(replica.name, replica.label, label, time.perf_counter() - started)


async def _aclose(events: AsyncIterator[bytes]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()


def _refusing(
    pool: Pool, endpoint: Endpoint, body: dict[str, Any], name: Name, failures: list[_Failure]
) -> list[Replica]:
    """The replicas of ``pool`` whose engine says it cannot honour ``body`` (``Engine.unsupported``,
    optional: engines that pass every parameter through do not define it); each refusal is recorded."""
    refusing: list[Replica] = []
    for replica in pool.replicas:
        check = getattr(replica.engine, "unsupported", None)
        refusal = check(endpoint, body) if check is not None else None
        if refusal is not None:
            refusing.append(replica)
            failures.append(_Failure(name, replica.label, refusal))
    return refusing


def _reason(error: EngineError | None) -> str:
    if error is None:
        return "unavailable"
    if error.kind == "status" and error.upstream_status is not None:
        return f"http_{error.upstream_status}"
    return error.kind


def _describe(failures: list[_Failure]) -> str:
    return "; ".join(f"{f.name} {f.error}" for f in failures)


def _deadline_error(name: Name, deadline_s: float, failures: list[_Failure]) -> DeadlineExceeded:
    tail = f" (failed attempts: {_describe(failures)})" if failures else ""
    return DeadlineExceeded(f"no engine answered {name} within the {deadline_s:.3g} s deadline{tail}")


def _exhausted(
    name: Name, hops: list[Hop], failures: list[_Failure]
) -> NoEngineAvailable | UnsupportedParameter:
    refusals = [f.error for f in failures if isinstance(f.error, UnsupportedParameter)]
    if refusals and len(refusals) == len(failures):
        # Nothing on the path could honour the request: the client's 400 names the parameter.
        return refusals[0]
    path = " -> ".join(f"{h.name} ({h.reason})" for h in hops)
    detail = f"; attempts: {_describe(failures)}" if failures else ""
    error = NoEngineAvailable(f"no engine could answer {name}: tried {path}{detail}")
    # Name the failure by its kind: all timeouts → 504, a backend that answered badly → 502,
    # nothing could even be tried (circuits open, replicas down, queues full) → 503.
    kinds = {f.error.kind for f in failures}
    if kinds and kinds <= {"timeout"}:
        error.http_status = 504
        error.code = "upstream_timeout"
    elif kinds - {"overloaded", "timeout"}:
        error.http_status = 502
        error.code = "upstream_error"
    return error
