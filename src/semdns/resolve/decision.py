"""What the resolver answers: a :class:`RoutingDecision` and its per-level trace.

A decision is a plain value: the answer name(s) with DN and confidence, one :class:`LevelTrace` per
node visited (which stage decided, the top scores, the time it took), the cache status and the total
time. ``semdns dig`` prints it, the gateway puts it in headers, metrics count it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from semdns.names import Name

# How a level ended: a stage picked one or more children, the node is a leaf, no stage was confident
# (abstain: stop here), or the caller named the node explicitly.
Outcome = Literal[
    "keyword", "lexical", "shallow", "embedding", "classifier", "leaf", "abstain", "explicit", "delegated"
]
CacheStatus = Literal["miss", "hit", "negative-hit", "expired", "bypass", "stale"]

# Cost order of the stages, for "the costliest stage this resolution needed".
STAGE_COST = {
    "explicit": 0,
    "leaf": 0,
    "keyword": 1,
    "abstain": 1,
    "lexical": 2,
    "shallow": 3,
    "embedding": 4,
    "classifier": 5,
}


@dataclass(frozen=True, slots=True)
class Score:
    """One child's score at one stage."""

    name: Name
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"name": str(self.name), "score": round(self.score, 4)}


@dataclass(frozen=True, slots=True)
class LevelTrace:
    """What happened at one node of the descent."""

    node: Name
    outcome: Outcome
    chosen: tuple[Name, ...]
    scores: tuple[Score, ...]
    stages_tried: tuple[str, ...]
    elapsed_us: float

    @property
    def top_score(self) -> float:
        return self.scores[0].score if self.scores else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "node": str(self.node),
            "outcome": self.outcome,
            "chosen": [str(n) for n in self.chosen],
            "scores": [s.to_json() for s in self.scores],
            "stages_tried": list(self.stages_tried),
            "elapsed_us": round(self.elapsed_us, 1),
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer name of a decision."""

    name: Name
    dn: str
    confidence: float

    def to_json(self) -> dict[str, Any]:
        return {"name": str(self.name), "dn": self.dn, "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class RoutingDecision:
    """The resolver's answer for one query.

    ``answers`` are most confident first; more than one means a cross-domain (fan-out) decision.
    ``stage`` is the costliest stage the resolution needed (``keyword`` when no embedding was
    computed), which is what its latency depends on. ``embedding`` is the query embedding when one was
    computed, kept so that later steps (caches, delegation) never embed the same text twice.
    """

    query: str
    answers: tuple[Answer, ...]
    trace: tuple[LevelTrace, ...]
    confidence: float
    stage: str
    ttl: int
    cache: CacheStatus = "miss"
    elapsed_us: float = 0.0
    embedding: npt.NDArray[np.float32] | None = field(default=None, repr=False, compare=False)
    shallow_embedding: npt.NDArray[np.float32] | None = field(default=None, repr=False, compare=False)
    """The shallow pass's vector when it ran (:mod:`semdns.resolve.shallow`), for delegated resolvers."""

    @property
    def names(self) -> tuple[Name, ...]:
        return tuple(a.name for a in self.answers)

    @property
    def name(self) -> Name:
        """The first (most confident) answer name."""
        return self.answers[0].name

    @property
    def is_multi(self) -> bool:
        return len(self.answers) > 1

    @property
    def abstained(self) -> bool:
        """True when resolution stopped above a leaf because no child was confident."""
        return any(level.outcome == "abstain" for level in self.trace)

    def with_cache(self, status: CacheStatus, elapsed_us: float) -> RoutingDecision:
        return replace(self, cache=status, elapsed_us=elapsed_us)

    def to_json(self) -> dict[str, Any]:
        """The ``semdns dig --json`` object."""
        return {
            "query": self.query,
            "names": [str(n) for n in self.names],
            "answers": [a.to_json() for a in self.answers],
            "confidence": round(self.confidence, 4),
            "stage": self.stage,
            "ttl": self.ttl,
            "trace": [t.to_json() for t in self.trace],
            "cache": self.cache,
            "elapsed_us": round(self.elapsed_us, 1),
        }
