"""Which stage order and classifier threshold the default zones use, chosen on data that may tune them.

Scores the shipped classifier with every node's policy set to each setting below (the order of the
stages, ``classifier_threshold``, ``classifier_margin``), on the held-out 15% of the corpora's
*training* splits (the part ``semdns train`` keeps out of the fit; never the evaluation splits) and on
the team's labelled set. Prints one line a setting: exact and wrong-specialist rates. Then the same for
the number of 128-token windows a long prompt is embedded over (1, 2, 4), on the held-out items longer
than one window.

    .venv/bin/python bench/routing_policy.py
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from routing_eval import held_out_training, team_set
from semdns.eval.ablate import MemoEncoder
from semdns.eval.dataset import EvalItem
from semdns.eval.metrics import rate_vectors
from semdns.eval.routers import ResolverRouter
from semdns.eval.runner import run
from semdns.resolve import Resolver
from semdns.resolve.classifier import classifier_for
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import load_default_tree
from semdns.zone.tree import ZoneTree

KEYWORD_FIRST = ("keyword", "embedding", "classifier")
CLASSIFIER_FIRST = ("classifier", "keyword", "embedding")
SETTINGS = [
    (KEYWORD_FIRST, 0.7, 0.3),
    (CLASSIFIER_FIRST, 0.7, 0.3),
    (("classifier",), 0.7, 0.3),
    (CLASSIFIER_FIRST, 0.6, 0.3),
    (CLASSIFIER_FIRST, 0.8, 0.3),
]


def rates(resolver: Resolver, items: list[EvalItem]) -> dict[str, float]:
    """Exact and wrong-specialist rates of ``resolver`` on ``items``, as ``semdns eval`` scores them."""
    vectors = rate_vectors(run(ResolverRouter(resolver), items))
    return {rate: float(vectors[rate].mean()) for rate in ("exact", "wrong")}


def with_policy(tree: ZoneTree, stages: tuple[str, ...], threshold: float, margin: float) -> ZoneTree:
    return tree.with_policies(stages=stages, classifier_threshold=threshold, classifier_margin=margin)


def main() -> None:
    tree = load_default_tree()
    encoder = MiniLMEncoder()
    memo = MemoEncoder(encoder)
    held_out = held_out_training(tree, memo, encoder)
    team = team_set()
    for stages, threshold, margin in SETTINGS:
        resolver = Resolver(with_policy(tree, stages, threshold, margin), memo, cache_size=0)
        dev, own = rates(resolver, held_out), rates(resolver, team)
        resolver.close()
        print(
            f"stages {'+'.join(stages)} threshold {threshold} margin {margin}: "
            f"held-out training items (n={len(held_out)}) exact {dev['exact']:.3f} wrong {dev['wrong']:.3f}; "
            f"team set (n={len(team)}) exact {own['exact']:.3f} wrong {own['wrong']:.3f}"
        )
    windows(tree, held_out)


def windows(tree: ZoneTree, held_out: list[EvalItem]) -> None:
    """Exact and wrong rates on the long held-out items when their embedding reads 1, 2 or 4 windows."""
    encoder = MiniLMEncoder()
    classifier = classifier_for(tree, encoder)
    encoder.encode(["warm-up"])
    long = [item for item in held_out if len(encoder.windows(encoder.token_ids(item.query))) > 1]
    for count in (1, 2, 4):
        resolver = Resolver(tree, MiniLMEncoder(max_windows=count), cache_size=0, classifier=classifier)
        started = time.perf_counter()
        found = rates(resolver, long)
        per_query = (time.perf_counter() - started) / len(long) * 1000
        resolver.close()
        print(
            f"{count} window(s): long held-out items (n={len(long)}) exact {found['exact']:.3f} "
            f"wrong {found['wrong']:.3f}, {per_query:.1f} ms a query"
        )


if __name__ == "__main__":
    main()
