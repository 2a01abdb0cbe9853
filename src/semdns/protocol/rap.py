"""RAP, the result aggregation protocol: combine partial results of several names into one.

A cross-domain query ("the legal risks of this medical device's firmware") fans out to several names;
each returns a :class:`PartialResult` (content, confidence, source, latency, or an error). The
aggregate keeps every successful part, most confident first, under a heading that names its source
(so a reader sees which specialist said what), weights the overall confidence by the parts'
confidences, and records conflict notes: parts that failed, and confident parts that say very
different things (low word overlap), which a reader should weigh themselves. Aggregation is a pure
function: it runs on the CPU in microseconds (AGG-2), after the slowest part arrives (AGG-3).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from semdns.protocol.messages import AggregatedResult, ConflictNote, PartialResult

_WORD = re.compile(r"[a-z0-9]{3,}")
DIVERGENCE_OVERLAP = 0.1  # word-set Jaccard below which two confident parts are flagged
CONFIDENT = 0.5


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def aggregate(
    partials: Sequence[PartialResult], *, id: str, strategy: str = "confidence_weighted"
) -> AggregatedResult:
    """The aggregate of ``partials`` (see the module docstring for the rules)."""
    ok = sorted((p for p in partials if p.error is None), key=lambda p: -p.confidence)
    failed = [p for p in partials if p.error is not None]
    conflicts: list[ConflictNote] = []
    if failed:
        conflicts.append(
            ConflictNote(
                names=[p.name for p in failed],
                kind="missing",
                note="; ".join(f"{p.name}: {p.error.code}" for p in failed if p.error is not None),
            )
        )
    confident = [p for p in ok if p.confidence >= CONFIDENT and p.content.strip()]
    for i, first in enumerate(confident):
        for second in confident[i + 1 :]:
            a, b = _words(first.content), _words(second.content)
            overlap = len(a & b) / len(a | b) if a | b else 1.0
            if overlap < DIVERGENCE_OVERLAP:
                conflicts.append(
                    ConflictNote(
                        names=[first.name, second.name],
                        kind="divergent",
                        note=f"word overlap {overlap:.2f}; both kept, {first.name} (more confident) first",
                    )
                )
    sections = (f"[{p.name}]\n{p.content}" for p in ok)
    content = ok[0].content if len(ok) == 1 else "\n\n".join(sections)
    total = sum(p.confidence for p in ok)
    confidence = sum(p.confidence * p.confidence for p in ok) / total if total > 0 else 0.0
    return AggregatedResult(
        id=id,
        strategy=strategy,
        content=content,
        confidence=min(1.0, confidence),
        results=list(partials),
        conflicts=conflicts,
        latency_ms=max((p.latency_ms for p in partials), default=0.0),
        degraded=bool(failed),
    )
