"""Run a router over a labelled set: one ``route`` call a query, in order, each answer scored.

Progress is reported through a callback so that this module stays free of terminal concerns (the CLI
shows a rich progress bar; tests and benchmarks pass nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from semdns.eval.dataset import EvalItem
from semdns.eval.metrics import Scored, score
from semdns.eval.routers import Router


def run(
    router: Router, items: Sequence[EvalItem], *, advance: Callable[[], None] | None = None
) -> list[Scored]:
    """Route every item and score the answer; ``advance`` is called after each query."""
    out: list[Scored] = []
    for item in items:
        out.append(score(item, router.route(item.query)))
        if advance is not None:
            advance()
    return out
