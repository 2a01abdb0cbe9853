"""The gateway's edge policies for one request: who is calling, may they, and is the answer cached.

The request path calls these in order (CoreDNS-style: each step may answer or pass on):

1. :meth:`Edge.admit` — authenticate the key (tenants file) and spend the tenant's rate limits: 401,
   429 with ``Retry-After`` and ``x-ratelimit-*``;
2. :meth:`Edge.permit` — the resolved name against the tenant's subtrees: that name, its nearest
   allowed ancestor, or 403;
3. :meth:`Edge.lookup` — the response cache (exact, then semantic with the verifier); a hit is
   replayed by :meth:`Edge.replay` (JSON or SSE);
4. after the engine answered: :meth:`Edge.after_answer` stores it and settles the tokens it used, in
   the background.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry
from starlette.responses import Response, StreamingResponse

from semdns.cache import CacheLookup, CacheRequest, ResponseCache, client_control
from semdns.cache.entry import Kind, Vector, usage_tokens
from semdns.errors import TenantsFileError
from semdns.names import Name
from semdns.resolve.decision import RoutingDecision
from semdns.state import State
from semdns.tenancy import Admission, Gatekeeper, Tenants
from semdns.zone.schema import CacheSpec
from semdns.zone.tree import ZoneTree

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)

_SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


class Edge:
    """Authentication, limits and the response cache of one gateway process."""

    def __init__(
        self,
        tree: ZoneTree,
        state: State,
        tenants: Tenants | None,
        *,
        encoder: Any = None,
        cache: bool = True,
        shadow: bool = False,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if tenants is not None:
            _check_subtrees(tenants, tree)
        self.tree = tree
        self.state = state
        self.gate = Gatekeeper(tenants, state)
        self.tracer: Tracer | None = None
        """Set when tracing is on: the cache lookup becomes a ``semdns.cache.lookup`` span."""
        self._encoder = encoder
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="semdns-cache-embed")
        embed = self._embed if encoder is not None else None
        self.cache = (
            ResponseCache(
                state,
                embed,
                dim=int(getattr(encoder, "dim", 384)),
                spec_for=self._spec_for,
                shadow_all=shadow,
                registry=registry,
                encoder_id=getattr(encoder, "model_id", None),
            )
            if cache
            else None
        )

    def successor(self, tree: ZoneTree, tenants: Tenants | None) -> Edge:
        """The edge of a reloaded tree and tenants file: new names, keys and limits, over the same
        shared state, response cache and embedding thread (entries and counters survive a reload).
        Raises :class:`TenantsFileError` when a tenant's subtree is not in ``tree``."""
        if tenants is not None:
            _check_subtrees(tenants, tree)
        new = copy.copy(self)
        new.tree = tree
        new.gate = Gatekeeper(tenants, self.state)
        if self.cache is not None:
            self.cache.use_specs(new._spec_for)
        return new

    def _spec_for(self, name: str) -> CacheSpec:
        try:
            return self.tree.node(Name.parse(name)).cache
        except Exception:
            return CacheSpec()

    async def _embed(self, text: str) -> Vector:
        loop = asyncio.get_running_loop()
        vectors = await loop.run_in_executor(self._executor, self._encoder.encode, [text])
        vector: Vector = np.asarray(vectors[0], dtype=np.float32)
        return vector

    async def start(self) -> None:
        await self.state.start()
        if self.cache is not None:
            await self.cache.start()

    async def aclose(self) -> None:
        if self.cache is not None:
            await self.cache.aclose()
        await self.state.aclose()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the request path --------------------------------------------------------------------------

    async def admit(self, headers: Mapping[str, str]) -> Admission:
        principal = self.gate.authenticate(headers.get("authorization"), headers.get("api-key"))
        return await self.gate.admit(principal)

    def permit(self, admission: Admission, name: Name) -> Name:
        return self.gate.permit(admission.principal, name)

    async def lookup(
        self,
        admission: Admission,
        endpoint: str,
        body: Mapping[str, Any],
        query: str,
        name: Name,
        decision: RoutingDecision,
        headers: Mapping[str, str],
    ) -> CacheLookup | None:
        if self.cache is None:
            return None
        node = self.tree.nodes.get(name)
        spec = node.cache if node is not None else CacheSpec()
        embedding = decision.embedding if decision.query == query else None
        request = CacheRequest(
            scope=admission.principal.scope,
            name=str(name),
            endpoint=endpoint,
            body=body,
            query=query,
            spec=spec,
            control=client_control(headers.get("cache-control"), headers.get("x-semdns-cache")),
            embedding=embedding,
        )
        if self.tracer is None:
            return await self.cache.lookup(request)
        with self.tracer.start_as_current_span("semdns.cache.lookup") as span:
            found = await self.cache.lookup(request)
            span.set_attributes({"semdns.name": str(name), "semdns.cache.status": found.status})
            if found.similarity is not None:
                span.set_attribute("semdns.cache.similarity", round(found.similarity, 4))
            return found

    def replay(
        self, lookup: CacheLookup, stream: bool, headers: Mapping[str, str], semdns: dict[str, Any]
    ) -> Response:
        """The cached answer as the client asked for it; ``semdns`` says it came from the cache."""
        out = {**headers, **lookup.headers()}
        if not stream:
            body = orjson.loads(lookup.body())
            body["semdns"] = semdns
            return Response(orjson.dumps(body), headers=out, media_type="application/json")
        events = lookup.events()

        async def replayed() -> AsyncIterator[bytes]:
            for i, event in enumerate(events):
                if i == 0 and event.startswith(b"data: {"):
                    yield b'data: {"semdns":' + orjson.dumps(semdns) + b"," + event[7:]
                else:
                    yield event

        return StreamingResponse(replayed(), headers={**out, **_SSE_HEADERS}, media_type="text/event-stream")

    def wants_answer(self, admission: Admission | None, lookup: CacheLookup | None) -> bool:
        """Whether :meth:`after_answer` has work for the answer (an entry to store, a tenant's tokens
        to charge): when not, the request path neither serialises the answer again nor keeps a
        stream's events. A lookup that bypassed the cache (a nondeterministic request: the default
        temperature, say) or was served from it stores nothing (:meth:`ResponseCache.complete`)."""
        if admission is None:
            return False
        if admission.principal.tenant is not None:
            return True
        return lookup is not None and self.cache is not None and lookup.storable and not lookup.served

    def after_answer(
        self,
        admission: Admission,
        lookup: CacheLookup | None,
        kind: Kind,
        payload: bytes | list[bytes],
        endpoint: str,
        *,
        degraded: bool,
        engine_s: float,
    ) -> None:
        """The engine answered completely: store it (unless degraded) and charge its tokens."""
        if lookup is not None and self.cache is not None:
            self.cache.complete(lookup, kind, payload, degraded=degraded, engine_s=engine_s)
        if admission.principal.tenant is not None:
            tokens = usage_tokens(payload, endpoint) or _estimate_tokens(payload)
            loop = asyncio.get_running_loop()
            task = loop.create_task(self.gate.settle(admission.principal, tokens))
            task.add_done_callback(_log_failure)

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state.health(), "tenants": "open" if self.gate.open else "file"}
        if self.cache is not None:
            out["response_cache"] = {"entries": len(self.cache.indexes), "rebuilds": self.cache.rebuilds}
            if self.cache.judge_stale is not None:  # semantic hits are off: say why in /readyz
                out["response_cache"]["judge_stale"] = self.cache.judge_stale
        return out


def _estimate_tokens(payload: bytes | list[bytes]) -> int:
    """About four bytes a token, when the backend reported no usage."""
    size = len(payload) if isinstance(payload, bytes) else sum(len(e) for e in payload)
    return max(1, size // 4)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("settling a tenant's token usage failed: %r", task.exception())


def _check_subtrees(tenants: Tenants, tree: ZoneTree) -> None:
    problems = []
    for tenant in tenants.by_name.values():
        for root in tenant.subtrees:
            if root not in tree:
                problems.append(
                    f"{tenants.path}: tenants.{tenant.name}.subtrees: "
                    f"{root} is not a name in the loaded zones"
                )
    if problems:
        raise TenantsFileError("\n".join(problems))
