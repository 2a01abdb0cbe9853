"""The resolver: top-down descent of the namespace, cheapest stage first, with a decision cache.

At each node the children are scored by the stages the node's policy lists (keyword, embedding,
classifier, in that order); the first stage whose judgement is not "unsure" decides. "Stay" and "no
stage confident" both stop at the node: abstaining to the more general name is a correct outcome. A
"multi" judgement fans out, and each branch descends on its own. The query is embedded at most once,
lazily (a query the keyword stage routes to a leaf never pays for an embedding), and that embedding is
reused at every level. The ``lexical`` stage (the classifier's first pass on a static embedding) sits
before the transformer-fed ``classifier`` in the shipped zones and settles most prompts without it.

:meth:`Resolver.aresolve` never blocks the event loop on the model: a cache hit, a keyword or a lexical
resolution runs inline (microseconds to a millisecond); a prompt that needs the transformer awaits its
embedding from the :class:`~semdns.resolve.batcher.EmbeddingBatcher`, which embeds concurrent
requests together on one thread, and then finishes inline. The query is tokenised once: the lexical
stage's static vector and the transformer read the same token ids.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from semdns.model_workers import default_workers
from semdns.names import Name
from semdns.resolve.batcher import EmbeddingBatcher
from semdns.resolve.cache import DecisionCache
from semdns.resolve.classifier import classifier_for
from semdns.resolve.decision import (
    STAGE_COST,
    Answer,
    CacheStatus,
    LevelTrace,
    Outcome,
    RoutingDecision,
    Score,
)
from semdns.resolve.embedding import CentroidSet, ExampleBank, build_centroids
from semdns.resolve.encoder import Encoder, MiniLMEncoder, Vectors
from semdns.resolve.judge import Judgement, judge
from semdns.resolve.keyword import KeywordIndex, KeywordMatches
from semdns.resolve.shallow import IdsEncoder, ShallowEncoder, ShallowStart, shallow_encoder
from semdns.resolve.static import StaticEmbedding, TokenEncoder
from semdns.resolve.text import cache_key, normalize_for_matching
from semdns.resolve.trained import BaseFeatures, QueryFeatures, TrainedClassifier
from semdns.zone.schema import Policy
from semdns.zone.tree import ZoneNode, ZoneTree

_TOP_SCORES = 3
_STALE_S = 86_400.0
"""How long an expired decision may still be served when resolution fails (RFC 8767: 1 to 3 days)."""
_STALE_ANSWER_TTL = 30
"""The TTL a stale answer carries (RFC 8767's recommendation)."""
_log = logging.getLogger(__name__)
_WARM_UP = "warm-up: def double(values: list[int]) -> list[int]: return [2 * v for v in values]"


def _stricter_for_child(policy: Policy, judgement: Judgement) -> Judgement:
    """A fast pass's verdict, unsure instead when it chose alone a child that the policy's
    ``fast_pass_child_thresholds`` asks more of than the pass's best probability (the next stage then
    decides, as for any unsure verdict)."""
    if judgement.verdict != "descend" or not policy.fast_pass_child_thresholds:
        return judgement
    label = judgement.chosen[0].labels[0]
    for child, threshold in policy.fast_pass_child_thresholds:
        if child == label and judgement.ranked[0][1] <= threshold:  # strictly above, as every threshold
            return Judgement("unsure", (), judgement.ranked)
    return judgement


def _plain_key(key: str) -> bool:
    """A cache key of a plain query (not a delegated descent, which has its own start node)."""
    return "\x1e" not in key


def _log_refresh_failure(future: Future[RoutingDecision] | asyncio.Future[RoutingDecision]) -> None:
    if not future.cancelled() and future.exception() is not None:
        _log.warning("a background re-resolution failed: %r", future.exception())


class _NeedsEmbedding(Exception):
    """Raised inside an inline (event-loop) resolution when a stage needs the model: ``joined`` says
    which text (the query, or ``context [SEP] query``), ``ids`` are its tokens and ``shallow`` asks
    for the shallow pass's vector (the first layers) instead of the full model's."""

    def __init__(self, joined: bool, ids: list[int] | None, *, shallow: bool = False) -> None:
        super().__init__("this resolution needs the embedding model")
        self.joined = joined
        self.ids = ids
        self.shallow = shallow


@dataclass
class _Query:
    """Per-request state shared by every level and every attempt: the keyword scan, the token ids, the
    classifier's views and the lazily computed vectors."""

    text: str
    context: str | None
    matches: KeywordMatches
    allow_model: bool
    vector: Vectors | None = None
    context_vector: Vectors | None = None
    features: QueryFeatures | None = None
    base: BaseFeatures | None = None
    lexical: QueryFeatures | None = None
    shallow_start: ShallowStart | None = None
    shallow_vector: Vectors | None = None
    shallow: QueryFeatures | None = None
    ids: list[int] | None = None
    joined_ids: list[int] | None = None
    stages_run: set[str] = field(default_factory=set)
    judged: dict[tuple[str, Name], Judgement | None] = field(default_factory=dict)
    """Each stage's verdict at each level, once reached: an attempt that waited for a vector starts
    the descent again, and reads back what the attempts before it settled instead of scoring again."""

    @property
    def joined(self) -> str:
        """What the classifier reads: the query, after the earlier turns when there are any."""
        return f"{self.context} [SEP] {self.text}" if self.context else self.text


class Resolver:
    """Resolves queries against one :class:`ZoneTree`.

    Construction embeds the zone's examples (cached on disk) and loads the trained classifier made for
    this namespace (or trains one on the zone examples: :func:`semdns.resolve.classifier.classifier_for`),
    so build it once and share it. ``cache_size=0`` disables the decision cache.
    """

    def __init__(
        self,
        tree: ZoneTree,
        encoder: Encoder | None = None,
        *,
        cache_size: int = 100_000,
        cache: DecisionCache | None = None,
        use_disk_cache: bool = True,
        executor: ThreadPoolExecutor | None = None,
        warm: bool = True,
        classifier_path: Path | None = None,
        classifier: TrainedClassifier | None = None,
        batcher: EmbeddingBatcher | None = None,
    ) -> None:
        self.tree = tree
        self.encoder: Encoder = encoder or MiniLMEncoder()
        self._tokens: TokenEncoder | None = self.encoder if isinstance(self.encoder, TokenEncoder) else None
        self.keywords = KeywordIndex(tree)
        bank = ExampleBank(tree, self.encoder, use_disk_cache=use_disk_cache)
        self.centroids: dict[Name, CentroidSet] = build_centroids(tree, bank)
        self.classifier: TrainedClassifier = classifier or classifier_for(
            tree,
            self.encoder,
            path=classifier_path,
            use_disk_cache=use_disk_cache,
            example_vectors=bank.vectors,
        )
        self.cache: DecisionCache | None = (
            cache
            if cache is not None
            else (
                DecisionCache(cache_size, stale_s=_STALE_S, prefetch_fraction=0.1) if cache_size > 0 else None
            )
        )
        self.static = self._static_embedding(use_disk_cache)
        self.shallow = self._shallow_encoder()
        self.stale_after_s = 1.8  # RFC 8767's client response timer
        self._dn_text: dict[Name, str] = {}
        self._executor = executor or ThreadPoolExecutor(max_workers=2, thread_name_prefix="semdns-resolve")
        self.batcher: EmbeddingBatcher | None = batcher
        if self.batcher is None and self._tokens is not None:
            # One model worker per core: a text is one model call, and calls of concurrent requests
            # run side by side (bench/resolve.py --throughput: 1.3x at c=32 on 2 cores over one worker).
            self.batcher = EmbeddingBatcher(self._tokens.encode_ids, workers=default_workers())
        if warm:
            # Load the model now (example embeddings may all have come from the disk cache), so that
            # the first request does not pay for it.
            self.encoder.encode(["warm-up"])
            if self.shallow is not None:
                self.shallow.encode(["warm-up"])
            if self.static is not None:  # and the lexical pass's first-call costs (regexes, tokenizer)
                self._lexical_features(self._state(_WARM_UP, None, allow_model=False, embedding=None))

    # -- public API -------------------------------------------------------------------------------

    def resolve(
        self,
        query: str,
        context: str | None = None,
        *,
        use_cache: bool = True,
        embedding: Vectors | None = None,
        start: Name | None = None,
        start_confidence: float | None = None,
        shallow_embedding: Vectors | None = None,
    ) -> RoutingDecision:
        """Resolve synchronously (CLI, benchmarks, threads). May run the embedding model.

        The keyword-only arguments serve delegation (:mod:`semdns.delegation`): ``embedding`` is the
        query's vector computed by another resolver with the same encoder (never computed again here);
        ``start`` begins the descent at a node below the apex (a delegation point) and
        ``start_confidence`` is the path confidence the asker had on reaching it, so that the descent
        continues exactly as one resolver holding every zone would; ``shallow_embedding`` is the shallow
        pass's vector the asker computed, like ``embedding``.
        """
        started = time.perf_counter()
        matching = normalize_for_matching(query)
        key = self._key(query, context, start, start_confidence, matching=matching)
        cached = self._lookup(key, started, query, context) if use_cache else None
        if cached is not None:
            return cached
        decision = self._resolve_uncached(
            query,
            context,
            allow_model=True,
            embedding=embedding,
            start=start,
            start_confidence=start_confidence,
            shallow_embedding=shallow_embedding,
            matching=matching,
        )
        return self._finish(key, decision, started, "miss" if use_cache else "bypass", store=use_cache)

    async def aresolve(
        self,
        query: str,
        context: str | None = None,
        *,
        use_cache: bool = True,
        embedding: Vectors | None = None,
        start: Name | None = None,
        start_confidence: float | None = None,
        shallow_embedding: Vectors | None = None,
    ) -> RoutingDecision:
        """Resolve from async code without blocking the loop on the model (arguments: :meth:`resolve`)."""
        started = time.perf_counter()
        matching = normalize_for_matching(query)
        key = self._key(query, context, start, start_confidence, matching=matching)
        cached = self._lookup(key, started, query, context) if use_cache else None
        if cached is not None:
            return cached
        stale = self.cache.stale(key) if use_cache and self.cache is not None else None
        if stale is not None and _plain_key(key):
            return await self._fresh_or_stale(key, query, context, stale, started)
        state = self._state(
            query,
            context,
            allow_model=False,
            embedding=embedding,
            shallow_embedding=shallow_embedding,
            matching=matching,
        )
        # The shallow vector, the query's, the joined text's: at most three waits.
        for _attempt in range(4):
            try:
                decision = self._resolve_state(state, start, start_confidence)
                break
            except _NeedsEmbedding as need:
                await self._embed_for(state, need)
        else:  # pragma: no cover - every wait fills a vector the next attempt reads
            raise RuntimeError("resolution kept asking for embeddings")
        return self._finish(key, decision, started, "miss" if use_cache else "bypass", store=use_cache)

    async def _embed_for(self, state: _Query, need: _NeedsEmbedding) -> None:
        """Compute the vector a stage asked for, batched with concurrent requests when possible."""
        if need.shallow:  # the first layers, on the same model workers as the full model
            assert self.batcher is not None and need.ids is not None
            state.shallow_start, state.shallow_vector = await self.batcher.run(
                partial(self._shallow_start, need.ids)
            )
            return
        finish = self._finisher(state, joined=need.joined)
        if self.batcher is not None and finish is not None:
            vector = await self.batcher.run(finish)
        elif self.batcher is not None and need.ids is not None:
            vector = await self.batcher.embed(need.ids)
        else:
            text = state.joined if need.joined else state.text
            loop = asyncio.get_running_loop()
            vector = (await loop.run_in_executor(self._executor, self.encoder.encode, [text]))[0]
        if need.joined:
            state.context_vector = vector
        else:
            state.vector = vector

    def resolve_many(self, queries: Iterable[str]) -> list[RoutingDecision]:
        return [self.resolve(q) for q in queries]

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self.batcher is not None:
            self.batcher.close()

    def _static_embedding(self, use_disk_cache: bool) -> StaticEmbedding | None:
        """The lexical stage's static embedding, when a zone lists the stage and the classifier has a
        lexical pass for this encoder; None otherwise (the stage then passes)."""
        wanted = any("lexical" in node.policy.stages for node in self.tree)
        idf = self.classifier.token_idf
        if not wanted or self._tokens is None or idf is None or not self.classifier.lexical_parents:
            return None
        table = self._tokens.token_table(use_disk=use_disk_cache)
        if table.shape[0] != idf.shape[0]:
            _log.warning("the classifier's lexical pass was trained with another tokenizer: stage off")
            return None
        return StaticEmbedding(table, idf)

    def _shallow_encoder(self) -> IdsEncoder | None:
        """The shallow pass's encoder, when a zone lists the stage and the classifier has a shallow
        pass trained on this encoder's first layers; None otherwise (the stage then passes)."""
        wanted = any("shallow" in node.policy.stages for node in self.tree)
        layers = self.classifier.shallow_layers
        if not wanted or not layers or not self.classifier.shallow_parents or self._tokens is None:
            return None
        shallow = shallow_encoder(self.encoder, layers)
        if shallow is None:  # an encoder whose layers cannot be cut (a test double): no shallow pass
            return None
        trained_on = self.classifier.meta.get("shallow_encoder")
        if shallow.model_id != trained_on:
            _log.warning(
                "the classifier's shallow pass was trained on another encoder (%s): stage off", trained_on
            )
            return None
        return shallow

    # -- cache ------------------------------------------------------------------------------------

    @staticmethod
    def _key(
        query: str,
        context: str | None,
        start: Name | None = None,
        start_confidence: float | None = None,
        *,
        matching: str | None = None,
    ) -> str:
        """The decision cache's key; ``matching`` is the query's :func:`normalize_for_matching` when
        the caller has it (the keyword stage scans the same form: normalised once a request)."""
        words = cache_key(query) if matching is None else matching.strip()
        key = words if not context else words + "\x1f" + cache_key(context)
        if start is not None or start_confidence is not None:
            key += f"\x1e{start}\x1e{start_confidence!r}"
        return key

    def _lookup(
        self, key: str, started: float, query: str | None = None, context: str | None = None
    ) -> RoutingDecision | None:
        if self.cache is None:
            return None
        found = self.cache.get(key)
        if found.decision is None:
            return None
        if found.prefetch and query is not None and _plain_key(key):
            # Unbound-style prefetch: answer from the cache now, refresh it before it expires.
            future = self._executor.submit(self._refresh, key, query, context)
            future.add_done_callback(_log_refresh_failure)
        status: CacheStatus = "hit" if found.status == "hit" else "negative-hit"
        return found.decision.with_cache(status, (time.perf_counter() - started) * 1e6)

    def _refresh(self, key: str, query: str, context: str | None) -> RoutingDecision:
        """Resolve without the cache and store the result (prefetch and serve-stale, in a thread)."""
        decision = self._resolve_uncached(query, context, allow_model=True).with_cache("miss", 0.0)
        self._store(key, decision)
        return decision

    def _store(self, key: str, result: RoutingDecision) -> None:
        """Cache ``result``: for its TTL, or as a negative entry (nothing below the apex) for the
        apex's ``negative_ttl``."""
        if self.cache is not None:
            negative = result.names == (self.tree.apex,)
            ttl = self.tree.node(self.tree.apex).policy.negative_ttl if negative else result.ttl
            self.cache.put(key, result, ttl, negative=negative)

    async def _fresh_or_stale(
        self, key: str, query: str, context: str | None, stale: RoutingDecision, started: float
    ) -> RoutingDecision:
        """RFC 8767: resolve within ``stale_after_s``; past it, or on failure, answer with the expired
        decision, marked ``stale`` with a 30 s TTL. The resolution goes on and refreshes the cache."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._refresh, key, query, context)
        future.add_done_callback(_log_refresh_failure)
        try:
            decision = await asyncio.wait_for(asyncio.shield(future), self.stale_after_s)
        except Exception as exc:
            _log.warning("resolution failed or was slow (%r): serving a stale decision", exc)
            if self.cache is not None:
                self.cache.stale_served += 1
            elapsed = (time.perf_counter() - started) * 1e6
            return replace(stale, ttl=_STALE_ANSWER_TTL).with_cache("stale", elapsed)
        return decision.with_cache("miss", (time.perf_counter() - started) * 1e6)

    def _finish(
        self, key: str, decision: RoutingDecision, started: float, status: str, *, store: bool
    ) -> RoutingDecision:
        elapsed = (time.perf_counter() - started) * 1e6
        result = decision.with_cache("miss" if status == "miss" else "bypass", elapsed)
        if store:
            self._store(key, result)
        return result

    # -- descent ----------------------------------------------------------------------------------

    def _resolve_uncached(
        self,
        query: str,
        context: str | None,
        *,
        allow_model: bool,
        embedding: Vectors | None = None,
        start: Name | None = None,
        start_confidence: float | None = None,
        shallow_embedding: Vectors | None = None,
        matching: str | None = None,
    ) -> RoutingDecision:
        state = self._state(
            query,
            context,
            allow_model=allow_model,
            embedding=embedding,
            shallow_embedding=shallow_embedding,
            matching=matching,
        )
        return self._resolve_state(state, start, start_confidence)

    def _state(
        self,
        query: str,
        context: str | None,
        *,
        allow_model: bool,
        embedding: Vectors | None,
        shallow_embedding: Vectors | None = None,
        matching: str | None = None,
    ) -> _Query:
        matches = self.keywords.match(query, matching=matching)
        return _Query(
            query, context, matches, allow_model, vector=embedding, shallow_vector=shallow_embedding
        )

    def _resolve_state(
        self, state: _Query, start: Name | None, start_confidence: float | None
    ) -> RoutingDecision:
        """One descent over ``state`` (which keeps what earlier attempts computed)."""
        state.stages_run = set()
        query = state.text
        traces: list[LevelTrace] = []
        origin = self.tree.apex if start is None else start
        answers = self._descend(origin, state, traces, path_confidence=start_confidence)
        # Most confident first; equal confidences keep descent order.
        answers.sort(key=lambda a: -a.confidence)
        stage = max(state.stages_run, key=lambda s: STAGE_COST.get(s, 0), default="leaf")
        ttl = min(self.tree.node(a.name).ttl for a in answers)
        return RoutingDecision(
            query=query,
            answers=tuple(answers),
            trace=tuple(traces),
            confidence=max(a.confidence for a in answers),
            stage=stage,
            ttl=ttl,
            embedding=state.vector,
            shallow_embedding=state.shallow_vector,
        )

    def _descend(
        self, name: Name, state: _Query, traces: list[LevelTrace], path_confidence: float | None
    ) -> list[Answer]:
        node = self.tree.node(name)
        children = self.tree.children(name)
        if not children:
            # A delegation point with no local children: another resolver serves the subtree; the
            # descent stops here and semdns.delegation follows (or returns) the referral.
            end: Outcome = "delegated" if node.delegation is not None else "leaf"
            traces.append(LevelTrace(name, end, (), (), (), 0.0))
            return [self._answer(node, path_confidence, None)]
        started = time.perf_counter()
        tried: list[str] = []
        last: Judgement | None = None
        for stage in node.policy.multi_stages:  # a stage listed in both is scored once (_stage)
            judgement = self._stage(stage, node, children, state)
            if judgement is not None and judgement.verdict == "multi":
                tried.append(stage)
                state.stages_run.add(stage)
                last = judgement
                break
        for stage in node.policy.stages if last is None else ():
            judgement = self._stage(stage, node, children, state)
            if judgement is None:
                continue
            tried.append(stage)
            state.stages_run.add(stage)
            last = judgement
            if judgement.verdict != "unsure":
                break
        elapsed = (time.perf_counter() - started) * 1e6
        scores = tuple(Score(n, s) for n, s in (last.ranked[:_TOP_SCORES] if last else ()))
        if last is None or last.verdict in ("unsure", "stay"):
            outcome = "abstain" if last is None or last.verdict == "unsure" else tried[-1]
            traces.append(LevelTrace(name, outcome, (name,), scores, tuple(tried), elapsed))  # type: ignore[arg-type]
            if last is not None and last.verdict == "stay":
                state.stages_run.add(tried[-1])
            return [self._answer(node, path_confidence, last)]
        stage_name = tried[-1]
        traces.append(LevelTrace(name, stage_name, last.chosen, scores, tuple(tried), elapsed))  # type: ignore[arg-type]
        by_name = dict(last.ranked)
        answers: list[Answer] = []
        for child in last.chosen:
            score = by_name[child]
            confidence = score if path_confidence is None else min(path_confidence, score)
            answers.extend(self._descend(child, state, traces, confidence))
        return answers

    def _stage(
        self, stage: str, node: ZoneNode, children: tuple[Name, ...], state: _Query
    ) -> Judgement | None:
        """The verdict of ``stage`` at ``node``: computed once per query (a stage that needs a vector
        not there yet raises :class:`_NeedsEmbedding` and leaves nothing behind)."""
        key = (stage, node.name)
        if key in state.judged:
            return state.judged[key]
        judgement = state.judged[key] = self._run_stage(stage, node, children, state)
        return judgement

    def _run_stage(
        self, stage: str, node: ZoneNode, children: tuple[Name, ...], state: _Query
    ) -> Judgement | None:
        policy = node.policy
        if stage == "keyword":
            scores = self.keywords.score(node.name, children, state.matches)
            return judge(
                node.name,
                children,
                scores,
                threshold=policy.keyword_threshold,
                margin=policy.keyword_margin,
                multi_margin=policy.multi_margin,
                max_fanout=policy.max_fanout,
            )
        if stage == "embedding":
            centroids = self.centroids.get(node.name)
            if centroids is None:
                return None
            return judge(
                node.name,
                centroids.candidates,
                centroids.score(self._query_vector(state)),
                threshold=policy.embedding_threshold,
                margin=policy.embedding_margin,
                multi_margin=policy.multi_margin,
                max_fanout=policy.max_fanout,
            )
        if stage == "lexical":
            candidates = self.classifier.candidates(node.name, "lexical")
            if self.static is None or len(candidates) < 2:
                return None
            ids = self._ids(state, joined=bool(state.context)) or []
            threshold = policy.lexical_threshold
            if len(ids) - 2 < policy.lexical_min_tokens:  # [CLS] and [SEP] are not the prompt's
                if policy.lexical_short_threshold is None:
                    return None
                threshold = policy.lexical_short_threshold  # a short prompt must be surer
            elif policy.lexical_long_threshold is not None and len(ids) > policy.lexical_long_tokens:
                threshold = policy.lexical_long_threshold  # the transformer's costliest prompts
            scores = self.classifier.score(node.name, self._lexical_features(state), "lexical")
            return _stricter_for_child(policy, self._judge_pass(node, candidates, scores, threshold))
        if stage == "shallow":
            candidates = self.classifier.candidates(node.name, "shallow")
            if self.shallow is None or len(candidates) < 2:
                return None
            scores = self.classifier.score(node.name, self._shallow_features(state), "shallow")
            judgement = self._judge_pass(node, candidates, scores, policy.shallow_threshold)
            return _stricter_for_child(policy, judgement)
        candidates = self.classifier.candidates(node.name)
        if len(candidates) < 2:
            return None
        scores = self.classifier.score(node.name, self._features(state))
        return self._judge_pass(node, candidates, scores, policy.classifier_threshold)

    @staticmethod
    def _judge_pass(
        node: ZoneNode, candidates: tuple[Name, ...], scores: list[float], threshold: float
    ) -> Judgement:
        """The verdict of one of the classifier's passes (lexical, shallow, full): they differ in what
        they read and in their threshold, and share the classifier's margin."""
        policy = node.policy
        return judge(
            node.name,
            candidates,
            scores,
            threshold=threshold,
            margin=policy.classifier_margin,
            multi_margin=policy.multi_margin,
            max_fanout=policy.max_fanout,
        )

    def _base(self, state: _Query) -> BaseFeatures:
        """The classifier's embedding-free views (words, structure), shared by both passes."""
        if state.base is None:
            state.base = self.classifier.base(state.joined)
        return state.base

    def _features(self, state: _Query) -> QueryFeatures:
        """The classifier's input, computed once per query for every level. With earlier turns the
        classifier reads ``context [SEP] query`` (words and embedding)."""
        if state.features is None:
            vector = self._context_vector(state) if state.context else self._query_vector(state)
            state.features = self.classifier.with_embedding(self._base(state), vector)
        return state.features

    def _lexical_features(self, state: _Query) -> QueryFeatures:
        """The lexical pass's input: the same views with the static embedding of the same tokens."""
        if state.lexical is None:
            assert self.static is not None
            vector = self.static.vector(self._ids(state, joined=bool(state.context)) or [])
            state.lexical = self.classifier.with_embedding(self._base(state), vector)
        return state.lexical

    def _shallow_features(self, state: _Query) -> QueryFeatures:
        """The shallow pass's input: the same views with the vector of the encoder's first layers, of
        the same tokens (computed off the event loop like the full vector)."""
        if state.shallow is None:
            assert self.shallow is not None
            if state.shallow_vector is None:
                ids = self._ids(state, joined=bool(state.context)) or []
                if not state.allow_model:
                    raise _NeedsEmbedding(bool(state.context), ids, shallow=True)
                state.shallow_start, state.shallow_vector = self._shallow_start(ids)
            state.shallow = self.classifier.with_embedding(self._base(state), state.shallow_vector)
        return state.shallow

    def _shallow_start(self, ids: list[int]) -> tuple[ShallowStart | None, Vectors]:
        """The shallow vector of ``ids`` and, when the shallow encoder can continue (the packaged
        model), what the full model needs to finish from there."""
        assert self.shallow is not None
        if isinstance(self.shallow, ShallowEncoder):
            started = self.shallow.start(ids)
            return started, started.vector
        return None, self.shallow.encode_ids([ids])[0]

    def _finisher(self, state: _Query, *, joined: bool) -> Callable[[], Vectors] | None:
        """The full vector finished from the shallow pass's layers, when that pass ran on the same text
        (it reads ``context [SEP] query`` when there is context, like the classifier); else None."""
        started = state.shallow_start
        if started is None or joined != bool(state.context) or not isinstance(self.shallow, ShallowEncoder):
            return None
        return partial(self.shallow.finish, started)

    def _ids(self, state: _Query, *, joined: bool) -> list[int] | None:
        """The token ids of the query (or of ``context [SEP] query``), tokenised once."""
        if self._tokens is None:
            return None
        # One text at a time (token_ids), on this thread: a batch of many texts goes to the
        # tokenizer's thread pool, a hand-off between threads that a busy machine makes slow.
        if not joined or not state.context:
            if state.ids is None:
                state.ids = self._tokens.token_ids(state.text)
            return state.ids
        if state.joined_ids is None:
            state.joined_ids = self._tokens.token_ids(state.joined)
        return state.joined_ids

    def _embed(self, state: _Query, *, joined: bool) -> Vectors:
        ids = self._ids(state, joined=joined)
        if not state.allow_model:
            raise _NeedsEmbedding(joined, ids)
        finish = self._finisher(state, joined=joined)
        if finish is not None:
            return finish()  # the layers after the shallow pass's only
        if ids is not None and self._tokens is not None:
            vectors = self._tokens.encode_ids([ids])
        else:
            vectors = self.encoder.encode([state.joined if joined else state.text])
        vector: Vectors = vectors[0]
        return vector

    def _query_vector(self, state: _Query) -> Vectors:
        if state.vector is None:
            state.vector = self._embed(state, joined=False)
        return state.vector

    def _context_vector(self, state: _Query) -> Vectors:
        """The classifier's input when earlier turns are given: ``context [SEP] query``, embedded once."""
        if state.context_vector is None:
            state.context_vector = self._embed(state, joined=True)
        return state.context_vector

    def _answer(self, node: ZoneNode, path_confidence: float | None, last: Judgement | None) -> Answer:
        if path_confidence is None:
            # Nothing was decided above this node: the confidence that no child fits is how far the
            # best child stayed from certainty (a stay verdict is its own score).
            if last is not None and last.verdict == "stay":
                path_confidence = last.ranked[0][1]
            else:
                best_child = max((s for n, s in last.ranked if n != node.name), default=0.0) if last else 0.0
                path_confidence = 1.0 - best_child
        elif last is not None and last.verdict == "stay":
            path_confidence = min(path_confidence, last.ranked[0][1])
        dn = self._dn_text.get(node.name)
        if dn is None:  # printed once per name: escaping a DN costs more than the rest of an answer
            dn = self._dn_text[node.name] = str(node.dn)
        return Answer(node.name, dn, path_confidence)
