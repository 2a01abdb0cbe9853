"""The rule every stage uses to turn scores into a verdict: decide, fan out, stay, or pass on.

Kept apart from the stages so that keyword, embedding and classifier scores are judged identically:
- the best candidate must clear the stage's ``threshold`` (strictly, as in the specification);
- if it is the parent itself ("stay here"), and it leads by ``margin``, the verdict is *stay*;
- several children above the threshold within ``multi_margin`` of the best make a *multi* verdict
  (a cross-domain query, at most ``max_fanout`` names);
- a single child must lead the runner-up by ``margin``; otherwise the stage is unsure and the next,
  costlier stage gets its turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from semdns.names import Name

Verdict = Literal["descend", "multi", "stay", "unsure"]


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    chosen: tuple[Name, ...]
    ranked: tuple[tuple[Name, float], ...]


def judge(
    parent: Name,
    candidates: tuple[Name, ...],
    scores: list[float],
    *,
    threshold: float,
    margin: float,
    multi_margin: float,
    max_fanout: int,
) -> Judgement:
    """Apply the decision rule to one stage's scores at ``parent``."""
    # Best first, ties by name (a name's order is its labels': compared as plain tuples of strings).
    ranked = tuple(sorted(zip(candidates, scores, strict=True), key=lambda item: (-item[1], item[0].labels)))
    if not ranked or ranked[0][1] <= threshold:
        return Judgement("unsure", (), ranked)
    best_name, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if best_name == parent:
        if best - runner_up >= margin:
            return Judgement("stay", (parent,), ranked)
        return Judgement("unsure", (), ranked)
    close = [
        name
        for name, score in ranked
        if score > threshold and best - score <= multi_margin and name != parent
    ][:max_fanout]
    if len(close) > 1:
        return Judgement("multi", tuple(close), ranked)
    if best - runner_up >= margin:
        return Judgement("descend", (best_name,), ranked)
    return Judgement("unsure", (), ranked)
