"""Between the resolver's values (:class:`RoutingDecision`) and the wire messages, both ways."""

from __future__ import annotations

from typing import Any

import numpy as np

from semdns.protocol.messages import Answer, Embedding, LevelEntry, NameAnswer, ScoreEntry
from semdns.resolve.decision import STAGE_COST, RoutingDecision
from semdns.resolve.encoder import Encoder, Vectors
from semdns.zone.tree import ZoneTree


def embedding_message(vector: Vectors, encoder: Encoder) -> Embedding:
    """The wire form of a query embedding (little-endian float32)."""
    data = np.asarray(vector, dtype="<f4").tobytes()
    return Embedding(model=encoder.model_id, dim=encoder.dim, data=data)


def usable_vector(embedding: Embedding | None, encoder: Encoder) -> Vectors | None:
    """The carried embedding as a vector, when it comes from the same model and dimension as ours."""
    if embedding is None or embedding.model != encoder.model_id or embedding.dim != encoder.dim:
        return None
    if len(embedding.data) != 4 * embedding.dim:
        return None
    vector = np.frombuffer(embedding.data, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)):
        return None
    return vector


def level_entries(decision: RoutingDecision, *, zone: str, server: str) -> list[LevelEntry]:
    return [
        LevelEntry(
            node=str(t.node),
            outcome=t.outcome,
            chosen=[str(n) for n in t.chosen],
            scores=[ScoreEntry(name=str(s.name), score=round(s.score, 6)) for s in t.scores],
            stages=list(t.stages_tried),
            elapsed_us=round(t.elapsed_us, 1),
            zone=zone,
            server=server,
        )
        for t in decision.trace
    ]


def name_answers(decision: RoutingDecision, tree: ZoneTree) -> list[NameAnswer]:
    return [
        NameAnswer(
            name=str(a.name),
            dn=a.dn,
            confidence=a.confidence,
            zone=str(tree.node(a.name).zone_origin),
        )
        for a in decision.answers
    ]


def costliest(*stages: str) -> str:
    return max(stages, key=lambda s: STAGE_COST.get(s, 0), default="leaf")


def dig_json(answer: Answer, query: str, *, elapsed_us: float, cache: str = "miss") -> dict[str, Any]:
    """The ``semdns dig --json`` object for a remote resolution: the local keys plus hops and degraded."""
    return {
        "query": query,
        "names": [n.name for n in answer.names],
        "answers": [
            {"name": n.name, "dn": n.dn, "confidence": round(n.confidence, 4), "zone": n.zone}
            for n in answer.names
        ],
        "confidence": round(max((n.confidence for n in answer.names), default=0.0), 4),
        "stage": answer.stage,
        "ttl": answer.ttl,
        "trace": [
            {
                "node": t.node,
                "outcome": t.outcome,
                "chosen": t.chosen,
                "scores": [{"name": s.name, "score": round(s.score, 4)} for s in t.scores],
                "stages_tried": t.stages,
                "elapsed_us": t.elapsed_us,
                "zone": t.zone,
                "server": t.server,
            }
            for t in answer.trace
        ],
        "cache": cache,
        "elapsed_us": round(elapsed_us, 1),
        "hops": [
            {
                "server": h.server,
                "zone": h.zone,
                "kind": h.kind,
                "elapsed_us": round(h.elapsed_us, 1),
                "verified": h.verified,
                **({"error": {"code": h.error.code, "message": h.error.message}} if h.error else {}),
            }
            for h in answer.hops
        ],
        "degraded": answer.degraded,
        "stale": answer.stale,
        "errors": [{"code": e.code, "message": e.message, "zone": e.zone} for e in answer.errors],
    }
