"""The response cache: exact tier, semantic tier with a near-miss judge, a verifier and learned
thresholds, shadow mode.

One object per gateway process. Lookups run on the event loop (a dict and an ANN search in memory,
one GET from the shared state for a hit); everything that can wait — storing an answer, labelling a
candidate, counting — runs as a background task after the answer is complete. Processes sharing a
Redis keep their indexes in step through the state's event stream, and rebuild them from Redis at
start and after an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import orjson
from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from semdns.cache.entry import (
    CacheEntry,
    Kind,
    Vector,
    answer_text,
    assemble,
    decode_vector,
    encode_vector,
    stream_complete,
    synthesize,
    usage_tokens,
)
from semdns.cache.index import IndexedEntry, IndexSet
from semdns.cache.judge import Judge, shipped_judge
from semdns.cache.request import CacheKeys, ClientControl, cache_keys, is_deterministic
from semdns.cache.verifier import verify
from semdns.promlabels import CachedLabels
from semdns.state.base import State
from semdns.zone.schema import CacheSpec

log = logging.getLogger(__name__)

Status = Literal["hit", "semantic-hit", "miss", "stale", "bypass"]
Embed = Callable[[str], Awaitable[Vector]]

ENTRY_PREFIX = "cache:e:"
OBSERVATIONS_PREFIX = "cache:o:"
"""Per-entry observations of the learned threshold, kept as long as their entry: a restarted process
and every process sharing the Redis read them back (``rebuild``)."""
STATS_KEY = "cache:stats"
_FLUSH_S = 0.5  # how often a process sends its batched stats counters to the shared state
EXPLORE_BAND = 0.15
"""Candidates this far below the threshold are still labelled (explored) when the engine answers."""
EXPLORE_RATE = 0.1
"""Largest probability that a servable semantic candidate with little evidence is explored instead."""
JUDGED_PER_LOOKUP = 3
"""At most this many candidates of one lookup are judged (0.35 ms each): the bound on its cost."""
ANSWER_AGREEMENT = 0.9
"""Two answers whose embeddings are at least this similar count as the same answer."""
_SCAN_LIMIT = 2_000_000


@dataclass(slots=True)
class CacheRequest:
    """What the cache needs to know about one request."""

    scope: str
    name: str
    endpoint: str
    body: Mapping[str, Any]
    query: str
    spec: CacheSpec = field(default_factory=CacheSpec)
    control: ClientControl = field(default_factory=ClientControl)
    embedding: Vector | None = None
    """The resolver's embedding of ``query`` when it computed one (never embedded twice)."""


@dataclass(slots=True)
class CacheLookup:
    """The outcome of a lookup, and what the write-back after the answer needs."""

    status: Status
    request: CacheRequest
    keys: CacheKeys | None = None
    entry: CacheEntry | None = None
    similarity: float | None = None
    vector: Vector | None = None
    storable: bool = False
    reason: str = ""
    candidate: IndexedEntry | None = None
    candidate_similarity: float = 0.0
    shadow: CacheEntry | None = None
    shadow_status: Status | None = None
    stale: CacheEntry | None = None
    judge_rejected: list[tuple[IndexedEntry, float, float]] = field(default_factory=list)
    """Candidates the judge turned away that would otherwise have been served: (entry, similarity,
    the judge's probability). In shadow mode their answers are compared with the engine's."""

    @property
    def served(self) -> bool:
        return self.entry is not None and self.status in ("hit", "semantic-hit", "stale")

    def body(self) -> bytes:
        """The cached answer as a JSON body."""
        assert self.entry is not None
        entry = self.entry
        if entry.kind == "json":
            assert isinstance(entry.payload, bytes)
            return entry.payload
        assert isinstance(entry.payload, list)
        return assemble(entry.payload, entry.endpoint)

    def events(self) -> list[bytes]:
        """The cached answer as SSE events, ``[DONE]`` included."""
        assert self.entry is not None
        entry = self.entry
        if entry.kind == "sse":
            assert isinstance(entry.payload, list)
            return list(entry.payload)
        assert isinstance(entry.payload, bytes)
        return synthesize(entry.payload, entry.endpoint)

    def headers(self) -> dict[str, str]:
        """``x-semdns-response-cache`` and, for a semantic hit, the similarity and the entry id."""
        out: dict[str, str] = {"x-semdns-response-cache": self.status}
        if self.status == "semantic-hit" and self.entry is not None and self.similarity is not None:
            out["x-semdns-cache-similarity"] = f"{self.similarity:.4f}"
            out["x-semdns-cache-entry"] = self.entry.id[:16]
        elif self.status == "hit" and self.entry is not None:
            out["x-semdns-cache-entry"] = self.entry.id[:16]
        if self.status == "bypass" and self.reason:
            out["x-semdns-cache-reason"] = self.reason
        return out


class _Metrics(Collector):
    """Prometheus: outcomes by name, entries by name, shared-state reachability."""

    def __init__(self, cache: ResponseCache, registry: CollectorRegistry) -> None:
        self.cache = cache
        self.outcomes = CachedLabels(
            PromCounter(
                "semdns_response_cache",
                "Response-cache outcomes by name: hit, semantic-hit, miss, stale, bypass, store, "
                "verifier-reject, judge-reject, shadow-hit, shadow-false-hit, shadow-judge-caught, "
                "shadow-judge-missed",
                ["name", "outcome"],
                registry=registry,
            )
        )
        registry.register(self)

    def collect(self) -> Any:
        entries = GaugeMetricFamily(
            "semdns_response_cache_entries", "Entries in this process's index", labels=["name"]
        )
        for name, count in self.cache.indexes.sizes().items():
            entries.add_metric([name], float(count))
        yield entries
        health = self.cache.state.health()
        up = GaugeMetricFamily(
            "semdns_shared_state_up",
            "1 when the shared state (Redis) is reachable; 1 for in-process",
            labels=["backend"],
        )
        up.add_metric([str(health.get("backend"))], 1.0 if health.get("reachable") else 0.0)
        yield up
        yield CounterMetricFamily(
            "semdns_response_cache_foreign_vectors",
            "Cached entries left out of this process's semantic index since it started: their vectors "
            "were made by another encoder (served on exact keys only)",
            value=float(self.cache.foreign_vectors),
        )


class ResponseCache:
    """Exact and semantic response cache over a :class:`~semdns.state.State`."""

    def __init__(
        self,
        state: State,
        embed: Embed | None,
        *,
        dim: int = 384,
        spec_for: Callable[[str], CacheSpec] | None = None,
        shadow_all: bool = False,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        judge: Judge | Literal["shipped"] | None = "shipped",
        encoder_id: str | None = None,
    ) -> None:
        """``judge``: the near-miss judge every servable semantic candidate must pass (the shipped one
        by default; ``None`` for none — then raise ``similarity`` to 0.92, the floor before the judge).
        ``encoder_id``: the ``model_id`` of the encoder that embeds prompts; a judge for another
        encoder's vectors (or not saying which) is *stale* — its cosine feature and its false-hit
        budgets were measured on other vectors — and then the semantic tier serves nothing where a zone
        asks for the judge (exact hits still do), rather than serve on unmeasured thresholds. Entries
        record it too, and with it known, an entry whose vector another encoder made (or an older
        version that recorded none) is left out of the semantic index: a cosine between two encoders'
        vectors measures nothing. Such an entry is still served on its exact key."""
        self.state = state
        self.encoder_id = encoder_id
        self.foreign_vectors = 0
        """Entries left out of the semantic index since start: their vectors are another encoder's."""
        self.judge: Judge | None = shipped_judge() if judge == "shipped" else judge
        self.judge_stale: str | None = None
        """Why the judge cannot be trusted with this encoder's vectors (None: it can, or no judge)."""
        if self.judge is not None and encoder_id is not None and not self.judge.trained_for(encoder_id):
            trained_on = self.judge.encoder_model_id or "an unrecorded encoder"
            self.judge_stale = (
                f"the near-miss judge is for {trained_on}'s vectors (trained or validated on them),"
                f" prompts are embedded by {encoder_id}: check it with this encoder or retrain it"
                " (corpora/pairs/train_judge.py --check-artefact; corpora/pairs/README.md)"
            )
            log.error("semantic cache hits disabled where a zone uses the judge: %s", self.judge_stale)
        self._rng = rng or random.Random()
        self._embed = embed
        self.indexes = IndexSet(dim)
        self._spec_for = spec_for or (lambda name: CacheSpec())
        self.shadow_all = shadow_all
        self._clock = clock
        self.origin = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.counts: Counter[tuple[str, str]] = Counter()
        self._unflushed: Counter[tuple[str, str]] = Counter()
        self._flush_scheduled = False
        self.last_event = "0-0"
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._metrics = _Metrics(self, registry) if registry is not None else None
        self.rebuilds = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    def use_specs(self, spec_for: Callable[[str], CacheSpec]) -> None:
        """Read names' cache settings from a reloaded tree from now on (the entries stay)."""
        self._spec_for = spec_for

    async def start(self) -> None:
        """Rebuild the index from the shared state and follow its event stream."""
        if self.judge is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.judge.warm)
        on_reconnect = getattr(self.state, "on_reconnect", None)
        if callable(on_reconnect):
            on_reconnect(self.rebuild)
        await self.rebuild()
        self._reader = asyncio.get_running_loop().create_task(self._follow())

    async def aclose(self) -> None:
        self._closed = True
        self._flush()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        await self.drain()

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for pending background writes (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(list(self._tasks), timeout=max(0.0, deadline - time.monotonic()))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a response-cache background task failed: %r", task.exception())

    async def rebuild(self) -> None:
        """Reload every live entry from the shared state into fresh indexes."""
        last = await self.state.last_event_id()
        found = await self.state.scan(ENTRY_PREFIX, _SCAN_LIMIT)
        observed = await self.state.scan(OBSERVATIONS_PREFIX, _SCAN_LIMIT)
        self.indexes.clear()
        now = self._clock()
        foreign = 0
        for _, raw in found:
            try:
                entry = CacheEntry.from_bytes(raw)
            except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
                continue
            if entry.vector is not None and now < entry.stale_until:
                if self._comparable(entry.encoder):
                    self._index(entry)
                else:
                    foreign += 1
        if foreign:
            self.foreign_vectors += foreign
            log.warning(
                "%d cached entries were embedded by another encoder than %s: served on exact keys only",
                foreign,
                self.encoder_id,
            )
        for key, raw in observed:
            located = self.indexes.find(key[len(OBSERVATIONS_PREFIX) :])
            indexed = located[1].get(key[len(OBSERVATIONS_PREFIX) :]) if located is not None else None
            if indexed is None:
                continue
            try:
                indexed.threshold.observations = [(float(sim), bool(ok)) for sim, ok in orjson.loads(raw)]
            except (orjson.JSONDecodeError, TypeError, ValueError):
                log.warning("unreadable threshold observations under %s: ignored", key)
        self.last_event = last
        self.rebuilds += 1

    async def _follow(self) -> None:
        while not self._closed:
            try:
                events = await self.state.events(self.last_event, 1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the cache event stream failed")
                await asyncio.sleep(1)
                continue
            for event in events:
                self.last_event = event.id
                try:
                    self._apply(orjson.loads(event.data))
                except Exception:
                    log.exception("a cache event could not be applied")

    def _apply(self, event: dict[str, Any]) -> None:
        if event.get("origin") == self.origin:
            return
        op = event.get("op")
        if op == "insert":
            if not self._comparable(event.get("encoder")):  # another version's process, another encoder
                self.foreign_vectors += 1
                return
            spec = self._spec_for(event["name"])
            self.indexes.ensure(event["scope"], event["name"], spec.max_entries).add(
                IndexedEntry(
                    event["id"],
                    event["prefix"],
                    event["endpoint"],
                    event["prompt"],
                    decode_vector(event["vector"]),
                    float(event["expires_at"]),
                    float(event["stale_until"]),
                )
            )
        elif op == "evict":
            for entry_id in event.get("ids", []):
                found = self.indexes.find(entry_id)
                if found is not None:
                    found[1].remove(entry_id)
        elif op == "observe":
            found = self.indexes.find(event["id"])
            if found is not None:
                entry = found[1].get(event["id"])
                if entry is not None:
                    entry.threshold.observe(float(event["sim"]), bool(event["ok"]))
        elif op == "purge":
            self.indexes.drop(event.get("scope"), event.get("name"))

    def _comparable(self, encoder: object) -> bool:
        """Whether a vector stamped ``encoder`` may be compared with this process's vectors."""
        return self.encoder_id is None or encoder == self.encoder_id

    def _index(self, entry: CacheEntry) -> list[str]:
        assert entry.vector is not None
        spec = self._spec_for(entry.name)
        return self.indexes.ensure(entry.scope, entry.name, spec.max_entries).add(
            IndexedEntry(
                entry.id,
                entry.prefix,
                entry.endpoint,
                entry.prompt,
                entry.vector,
                entry.expires_at,
                entry.stale_until,
            )
        )

    # -- lookup ------------------------------------------------------------------------------------

    async def lookup(self, req: CacheRequest) -> CacheLookup:
        """Find an answer for ``req``: exact tier, then semantic tier (verifier, learned threshold)."""
        spec = req.spec
        if not spec.enabled:
            return self._count(CacheLookup("bypass", req, reason="disabled"))
        if not spec.nondeterministic and not is_deterministic(req.body):
            return self._count(CacheLookup("bypass", req, reason="nondeterministic"))
        keys = cache_keys(req.scope, req.name, req.endpoint, req.body)
        result = CacheLookup("miss", req, keys=keys, vector=req.embedding, storable=not req.control.no_store)
        if req.control.no_read:
            result.status, result.reason = "bypass", "client"
            return self._count(result)
        now = self._clock()
        raw = await self.state.get(ENTRY_PREFIX + keys.exact)
        if raw is not None:
            entry = CacheEntry.from_bytes(raw)
            if entry.fresh(now):
                result.status, result.entry = "hit", entry
                return self._finish_lookup(result)
            result.stale = entry
        index = self.indexes.get(req.scope, req.name)
        if index is not None and len(index):
            if result.vector is None and self._embed is not None:
                result.vector = await self._embed(req.query)
            if result.vector is not None:
                await self._semantic(result, index, now)
        return self._finish_lookup(result)

    async def _semantic(self, result: CacheLookup, index: Any, now: float) -> None:
        req, spec = result.request, result.request.spec
        assert result.keys is not None and result.vector is not None
        judged = 0
        for candidate, sim in index.search(result.vector, 8):
            if sim < spec.similarity - EXPLORE_BAND:
                break
            if candidate.prefix != result.keys.prefix or candidate.endpoint != req.endpoint:
                continue
            if now >= candidate.stale_until:
                index.remove(candidate.id)
                continue
            if spec.verifier:
                verdict = verify(candidate.prompt, req.query)
                if not verdict.ok:
                    result.reason = verdict.reason
                    self._bump("verifier-reject", req.name)
                    continue
            if not candidate.threshold.allows(sim, spec.similarity, spec.error_bound, learn=spec.learn):
                if result.candidate is None:
                    result.candidate, result.candidate_similarity = candidate, sim
                continue
            if self.judge_stale is not None and spec.judge is not None:
                result.reason = "judge stale"
                self._bump("judge-reject", req.name)
                continue
            if self.judge is not None and spec.judge is not None:
                # Only a candidate that would be served pays for the judge (0.35 ms), a few at most.
                if judged == JUDGED_PER_LOOKUP:
                    break
                judged += 1
                same = self.judge.probability(candidate.prompt, req.query, candidate.vector, result.vector)
                if same < self.judge.threshold(spec.judge):
                    result.reason = f"judge {same:.2f}"
                    # Not labelled for the learned threshold (as for the verifier): a near miss at
                    # high similarity would raise the entry's floor above its real paraphrases.
                    result.judge_rejected.append((candidate, sim, same))
                    self._bump("judge-reject", req.name)
                    continue
            if spec.learn and self._rng.random() < candidate.threshold.explore_probability(
                sim, spec.error_bound, EXPLORE_RATE
            ):
                # vCache's exploration: answer from the engine, compare, learn this entry's threshold.
                result.candidate, result.candidate_similarity = candidate, sim
                result.reason = "explore"
                self._bump("explore", req.name)
                return
            raw = await self.state.get(ENTRY_PREFIX + candidate.id)
            if raw is None:
                index.remove(candidate.id)
                continue
            entry = CacheEntry.from_bytes(raw)
            if not entry.fresh(now):
                result.stale = result.stale or entry
                continue
            result.status, result.entry, result.similarity = "semantic-hit", entry, sim
            result.candidate, result.candidate_similarity = candidate, sim
            return

    def _finish_lookup(self, result: CacheLookup) -> CacheLookup:
        if result.status in ("hit", "semantic-hit") and (result.request.spec.shadow or self.shadow_all):
            result.shadow, result.shadow_status = result.entry, result.status
            result.entry, result.status = None, "miss"
            self._bump("shadow-" + str(result.shadow_status), result.request.name)
        return self._count(result)

    def _count(self, result: CacheLookup) -> CacheLookup:
        self._bump(result.status, result.request.name)
        return result

    def _bump(self, outcome: str, name: str) -> None:
        self.counts[(outcome, name)] += 1
        if self._metrics is not None:
            self._metrics.outcomes.labels(name, outcome).inc()
        if not self.state.shared:
            return  # in-process: self.counts is the whole story
        # Shared: batch the increments (one background write per outcome every _FLUSH_S), rather
        # than a task and a Redis round trip on every request's hot path.
        self._unflushed[(outcome, name)] += 1
        if not self._flush_scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no running loop: counted locally; flushed by the next bump or stats()
            self._flush_scheduled = True
            loop.call_later(_FLUSH_S, self._flush)

    def _flush(self) -> None:
        """Send the batched stats increments to the shared state."""
        self._flush_scheduled = False
        pending, self._unflushed = self._unflushed, Counter()
        for (outcome, name), count in pending.items():
            self._spawn(self.state.incr(STATS_KEY, f"{outcome}|{name}", count))

    def serve_stale(self, result: CacheLookup) -> bool:
        """When the engines failed: serve the expired entry found by the lookup, if within its
        stale window (RFC 8767's idea applied to answers). Returns whether there was one."""
        entry = result.stale
        if entry is None or self._clock() >= entry.stale_until:
            return False
        result.status, result.entry = "stale", entry
        self._count(result)
        return True

    # -- write-back --------------------------------------------------------------------------------

    def complete(
        self,
        result: CacheLookup,
        kind: Kind,
        payload: bytes | list[bytes],
        *,
        degraded: bool = False,
        engine_s: float = 0.0,
    ) -> None:
        """The engine answered ``result``'s request: label candidates, count shadow agreement and
        store the answer — all in the background, off the request path."""
        if result.served or not result.storable:
            return
        self._spawn(self._complete(result, kind, payload, degraded, engine_s))

    async def _complete(
        self, result: CacheLookup, kind: Kind, payload: bytes | list[bytes], degraded: bool, engine_s: float
    ) -> None:
        req = result.request
        if kind == "sse":
            assert isinstance(payload, list)
            if not stream_complete(payload):
                self._bump("store-skipped", req.name)
                return
        elif not _answer_ok(payload):
            self._bump("store-skipped", req.name)
            return
        new_text = answer_text(kind, payload, req.endpoint)
        if self.shadow_all or req.spec.shadow:
            await self._shadow_judge(result, new_text)
        if result.shadow is not None:
            same = await self._same_answer(
                answer_text(result.shadow.kind, result.shadow.payload, req.endpoint), new_text
            )
            self._bump("shadow-agree" if same else "shadow-false-hit", req.name)
            if not same:
                log.warning(
                    "shadow: the cache would have served a different answer (%s, similarity %s) on %s",
                    result.shadow_status, f"{result.candidate_similarity:.3f}", req.name,
                )  # fmt: skip
            if result.candidate is not None and result.shadow_status == "semantic-hit":
                await self._observe(result.candidate, result.candidate_similarity, same)
        elif result.candidate is not None:
            raw = await self.state.get(ENTRY_PREFIX + result.candidate.id)
            if raw is not None:
                cached = CacheEntry.from_bytes(raw)
                same = await self._same_answer(
                    answer_text(cached.kind, cached.payload, req.endpoint), new_text
                )
                await self._observe(result.candidate, result.candidate_similarity, same)
        if degraded:
            return
        await self._store(result, kind, payload, engine_s)

    async def _shadow_judge(self, result: CacheLookup, new_text: str) -> None:
        """Shadow mode: for every candidate the judge rejected that would otherwise have been served,
        was it a false hit it caught (the cached answer differs) or a hit it missed (same answer)?"""
        req = result.request
        for candidate, sim, same in result.judge_rejected:
            raw = await self.state.get(ENTRY_PREFIX + candidate.id)
            if raw is None:
                continue
            cached = CacheEntry.from_bytes(raw)
            agree = await self._same_answer(answer_text(cached.kind, cached.payload, req.endpoint), new_text)
            self._bump("shadow-judge-missed" if agree else "shadow-judge-caught", req.name)
            log.info(
                "shadow: the judge rejected entry %s (similarity %.3f, P(same) %.2f) on %s; the answers %s",
                candidate.id[:16], sim, same, req.name, "agree" if agree else "differ",
            )  # fmt: skip

    async def _same_answer(self, cached: str, fresh: str) -> bool:
        if " ".join(cached.split()).lower() == " ".join(fresh.split()).lower():
            return True
        if self._embed is None or not cached or not fresh:
            return False
        a, b = await self._embed(cached), await self._embed(fresh)
        return float(np.dot(a, b)) >= ANSWER_AGREEMENT

    async def _observe(self, candidate: IndexedEntry, sim: float, correct: bool) -> None:
        candidate.threshold.observe(sim, correct)
        self._bump("learn-right" if correct else "learn-wrong", "*")
        event = {"op": "observe", "origin": self.origin, "id": candidate.id, "sim": sim, "ok": correct}
        await self.state.publish(orjson.dumps(event))
        # Persisted with the entry's lifetime: this process's list holds every observation it has seen
        # (its own and the stream's), so the last writer's copy is complete up to the stream's lag.
        ttl = candidate.stale_until - self._clock()
        if ttl > 0:
            await self.state.put(
                OBSERVATIONS_PREFIX + candidate.id, orjson.dumps(candidate.threshold.observations), ttl
            )

    async def _store(
        self, result: CacheLookup, kind: Kind, payload: bytes | list[bytes], engine_s: float
    ) -> None:
        req, keys = result.request, result.keys
        assert keys is not None
        vector = result.vector
        if vector is None and self._embed is not None:
            vector = await self._embed(req.query)
        entry = CacheEntry(
            id=keys.exact, scope=req.scope, name=req.name, endpoint=req.endpoint, prefix=keys.prefix,
            prompt=req.query, kind=kind, payload=payload, created=self._clock(), ttl=req.spec.ttl,
            stale_ttl=req.spec.stale_ttl, usage_tokens=usage_tokens(payload, req.endpoint),
            engine_s=engine_s, vector=vector, encoder=self.encoder_id if vector is not None else None,
        )  # fmt: skip
        await self.state.put(ENTRY_PREFIX + entry.id, entry.to_bytes(), entry.ttl + entry.stale_ttl)
        self._bump("store", req.name)
        if vector is None:
            return
        evicted = self._index(entry)
        event = {
            "op": "insert", "origin": self.origin, "id": entry.id, "scope": entry.scope, "name": entry.name,
            "endpoint": entry.endpoint, "prefix": entry.prefix, "prompt": entry.prompt,
            "vector": encode_vector(vector), "expires_at": entry.expires_at, "stale_until": entry.stale_until,
            "encoder": self.encoder_id,
        }  # fmt: skip
        await self.state.publish(orjson.dumps(event))
        if evicted:
            await self.state.delete([p + e for e in evicted for p in (ENTRY_PREFIX, OBSERVATIONS_PREFIX)])
            await self.state.publish(orjson.dumps({"op": "evict", "origin": self.origin, "ids": evicted}))

    # -- operations --------------------------------------------------------------------------------

    async def purge(self, scope: str | None = None, name: str | None = None) -> int:
        """Delete every entry of ``scope`` and/or ``name`` (all when both are ``None``)."""
        ids = set(self.indexes.drop(scope, name))
        for key, raw in await self.state.scan(ENTRY_PREFIX, _SCAN_LIMIT):
            try:
                entry = CacheEntry.from_bytes(raw)
            except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
                continue
            if (scope is None or entry.scope == scope) and (name is None or entry.name == name):
                ids.add(key[len(ENTRY_PREFIX) :])
        await self.state.delete([p + i for i in ids for p in (ENTRY_PREFIX, OBSERVATIONS_PREFIX)])
        await self.state.publish(
            orjson.dumps({"op": "purge", "origin": self.origin, "scope": scope, "name": name})
        )
        return len(ids)

    async def stats(self) -> dict[str, Any]:
        """Entries, hit rate by tier and name, shadow false hits; shared counters when in Redis."""
        counts: dict[tuple[str, str], int] = dict(self.counts)
        if self.state.shared:  # every process's counts, from Redis
            self._flush()
            await self.drain(2.0)
            counts = {}
            for field_name, value in (await self.state.counters(STATS_KEY)).items():
                outcome, _, name = field_name.partition("|")
                counts[(outcome, name)] = value
        by_name: dict[str, dict[str, int]] = {}
        totals: Counter[str] = Counter()
        for (outcome, name), value in counts.items():
            by_name.setdefault(name, {})[outcome] = value
            totals[outcome] += value
        lookups = sum(totals[s] for s in ("hit", "semantic-hit", "miss", "stale"))
        return {
            "entries": len(self.indexes),
            "entries_by_name": self.indexes.sizes(),
            "lookups": lookups,
            "hit_rate": round((totals["hit"] + totals["semantic-hit"]) / lookups, 4) if lookups else 0.0,
            "hit_rate_exact": round(totals["hit"] / lookups, 4) if lookups else 0.0,
            "hit_rate_semantic": round(totals["semantic-hit"] / lookups, 4) if lookups else 0.0,
            "shadow": {
                "would_hit": totals["shadow-hit"] + totals["shadow-semantic-hit"],
                "agree": totals["shadow-agree"],
                "false_hits": totals["shadow-false-hit"],
            },
            # Shadow mode: candidates that would have been served but for the judge, and whether the
            # engine's answer then differed (a false hit caught) or agreed (a hit the judge missed).
            "shadow_judge": {
                "rejected": totals["shadow-judge-caught"] + totals["shadow-judge-missed"],
                "caught": totals["shadow-judge-caught"],
                "missed": totals["shadow-judge-missed"],
            },
            "judge_rejects": totals["judge-reject"],
            "totals": dict(totals),
            "by_name": by_name,
            "state": self.state.health(),
        }

    def health(self) -> dict[str, Any]:
        return {
            "entries": len(self.indexes),
            "rebuilds": self.rebuilds,
            "judge": self.judge.version if self.judge is not None else None,
            "judge_stale": self.judge_stale,
            "state": self.state.health(),
        }


def _answer_ok(payload: bytes | list[bytes]) -> bool:
    """A JSON answer worth storing: an object with choices and no error."""
    if not isinstance(payload, bytes):
        return False
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and "error" not in value and bool(value.get("choices"))
