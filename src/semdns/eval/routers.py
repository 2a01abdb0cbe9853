"""Routers under evaluation: semdns's resolver and the baselines it is compared with.

Anything with ``route(query) -> RoutedQuery`` can be scored, so a new router (another library, a
fine-tuned classifier, a remote resolver) plugs in without touching the metrics. The baselines use the
same encoder and the same zone examples as the resolver, so a difference in the figures is a
difference in *how* they decide, not in what they know:

* ``flat`` — nearest centroid over every name (leaves and internal), one centroid from each name's own
  examples: the hierarchy flattened away (paper §8.4, hierarchical vs flat).
* ``semantic-router`` — aurelio's semantic-router decision rule, in-process: the 5 nearest examples,
  mean similarity per route, best route wins (its defaults: ``top_k=5``, ``aggregation="mean"``, no
  threshold). :mod:`semdns.eval.sr_library` runs the library itself when it is installed.
* ``random`` / ``round-robin`` — a leaf drawn at random / the leaves in turn (paper §8.4, semantic vs
  random and round-robin routing): the floor any router must clear.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from semdns.names import Name
from semdns.resolve.embedding import ExampleBank
from semdns.resolve.encoder import Encoder
from semdns.resolve.resolver import Resolver
from semdns.zone.tree import ZoneTree


@dataclass(frozen=True, slots=True)
class RoutedQuery:
    """What a router answered for one query: names (best first), how sure it was, which stage decided
    (the latency breakdown groups by it), and how long it took."""

    names: tuple[Name, ...]
    confidence: float
    stage: str
    elapsed_us: float

    @property
    def name(self) -> Name:
        """The answer that is scored: the first (most confident) name."""
        return self.names[0]


class Router(Protocol):
    """A query router: one method, so that any router can be scored the same way."""

    def route(self, query: str) -> RoutedQuery: ...


class ResolverRouter:
    """semdns's resolver, decision cache bypassed (a repeated query must cost what the first did)."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    def route(self, query: str) -> RoutedQuery:
        decision = self.resolver.resolve(query, use_cache=False)
        return RoutedQuery(decision.names, decision.confidence, decision.stage, decision.elapsed_us)


def leaves(tree: ZoneTree) -> tuple[Name, ...]:
    """The names with no children, in tree order: what random and round-robin routing pick from."""
    return tuple(node.name for node in tree if not tree.children(node.name))


class RandomRouter:
    """A leaf uniformly at random (seeded): routing that ignores the query."""

    def __init__(self, tree: ZoneTree, *, seed: int = 0) -> None:
        self._leaves = leaves(tree)
        self._rng = random.Random(seed)

    def route(self, query: str) -> RoutedQuery:
        started = time.perf_counter()
        choice = self._rng.choice(self._leaves)
        return RoutedQuery((choice,), 1.0 / len(self._leaves), "random", _since(started))


class RoundRobinRouter:
    """The leaves in turn, as a DNS round robin spreads load without looking at the request."""

    def __init__(self, tree: ZoneTree) -> None:
        self._leaves = leaves(tree)
        self._next = 0

    def route(self, query: str) -> RoutedQuery:
        started = time.perf_counter()
        choice = self._leaves[self._next % len(self._leaves)]
        self._next += 1
        return RoutedQuery((choice,), 1.0 / len(self._leaves), "round-robin", _since(started))


class FlatCentroidRouter:
    """Nearest centroid over all names at once; a centroid is the mean of a name's *own* examples."""

    def __init__(self, tree: ZoneTree, encoder: Encoder, *, bank: ExampleBank | None = None) -> None:
        self._encoder = encoder
        bank = bank or ExampleBank(tree, encoder)
        names: list[Name] = []
        rows: list[np.ndarray] = []
        for node in tree:
            own = bank.own(node.name)
            if len(own):
                mean = own.mean(axis=0)
                rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
                names.append(node.name)
        if not names:
            raise ValueError("the flat baseline needs zone examples, and this namespace has none")
        self._names = tuple(names)
        self._matrix = np.vstack(rows).astype(np.float32)

    def route(self, query: str) -> RoutedQuery:
        started = time.perf_counter()
        sims = self._matrix @ self._encoder.encode([query])[0]
        best = int(np.argmax(sims))
        return RoutedQuery((self._names[best],), _clip(float(sims[best])), "embedding", _since(started))


class NearestExamplesRouter:
    """semantic-router's rule over the zone examples: top-``k`` nearest, mean similarity per route."""

    def __init__(
        self, tree: ZoneTree, encoder: Encoder, *, top_k: int = 5, bank: ExampleBank | None = None
    ) -> None:
        self._encoder = encoder
        self._top_k = top_k
        bank = bank or ExampleBank(tree, encoder)
        labels: list[Name] = []
        parts: list[np.ndarray] = []
        for node in tree:
            own = bank.own(node.name)
            labels.extend([node.name] * len(own))
            parts.append(own)
        if not labels:
            raise ValueError("the semantic-router baseline needs zone examples, and this namespace has none")
        self._labels = tuple(labels)
        self._vectors = np.vstack(parts).astype(np.float32)

    def route(self, query: str) -> RoutedQuery:
        started = time.perf_counter()
        sims = self._vectors @ self._encoder.encode([query])[0]
        k = min(self._top_k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        by_route: dict[Name, list[float]] = defaultdict(list)
        for i in top:
            by_route[self._labels[int(i)]].append(float(sims[i]))
        name, score = max(((n, sum(s) / len(s)) for n, s in by_route.items()), key=lambda p: p[1])
        return RoutedQuery((name,), _clip(score), "embedding", _since(started))


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1e6


def _clip(similarity: float) -> float:
    """A cosine similarity read as a confidence in [0, 1] (for calibration; it is no probability)."""
    return min(1.0, max(0.0, similarity))
