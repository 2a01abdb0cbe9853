"""Routing accuracy on the public corpora's evaluation splits, semdns beside its baselines.

For each ``corpora/routing/*/eval.jsonl`` (held out from ``semdns train``: nothing in them trained or
tuned the shipped classifier) and for the team's own labelled set, scores:

- ``semdns``: the resolver with the shipped classifier (zone examples + the corpora's train splits);
- ``examples-only``: the same resolver with a classifier trained on the zone examples alone (what the
  resolver knew before the corpora: the "before" figure);
- ``flat``: nearest centroid over every name (same encoder, same zone examples);
- ``semantic-router``: aurelio's rule in-process (top-5 nearest examples, mean per route).

Every query is embedded once (and cached on disk) and shared by all routers, so the run costs one pass
of the encoder. Prints one JSON object: per corpus and router, the rates with 95% bootstrap intervals.

    .venv/bin/python bench/routing_eval.py [--limit 300] [--routers semdns,examples-only] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import emit, evaluation_splits
from semdns.eval.ablate import MemoEncoder
from semdns.eval.dataset import EvalItem, load_jsonl
from semdns.eval.metrics import evaluate
from semdns.eval.routers import FlatCentroidRouter, NearestExamplesRouter, ResolverRouter, Router
from semdns.eval.runner import run
from semdns.resolve import Resolver
from semdns.resolve.encoder import Encoder, MiniLMEncoder, encode_cached
from semdns.resolve.training import _is_dev, load_corpus, train
from semdns.zone import load_default_tree
from semdns.zone.tree import ZoneTree

HERE = Path(__file__).parent
REPO = HERE.parent
RATES = ("exact", "primary", "safe", "wrong", "abstain")


def team_set() -> list[EvalItem]:
    """bench/data/queries (the team's own labelled set), as evaluation items."""
    from semdns.eval.routing import load_labelled

    files = sorted(p for p in (HERE / "data" / "queries").glob("*.yaml") if p.name != "multi.yaml")
    return [EvalItem(q.text, q.expected[0], (), q.source, 0) for q in load_labelled(files)]


def held_out_training(tree: ZoneTree, memo: MemoEncoder, encoder: Encoder) -> list[EvalItem]:
    """The held-out 15% of every training split (what ``semdns train`` keeps out of its fit): the data
    that may tune a policy. Their embeddings come from the disk cache and are primed into ``memo``."""
    items: list[EvalItem] = []
    for path in sorted(REPO.glob("corpora/routing/*/train.jsonl")):
        corpus = load_corpus(path, tree)
        for item, vector in zip(corpus, encode_cached(encoder, [i.text for i in corpus]), strict=True):
            if _is_dev(item.text):
                memo.prime(item.text, vector)
                items.append(EvalItem(item.text, item.name, (), item.source, 0, item.subtree))
    return items


def sample(items: Sequence[EvalItem], limit: int | None) -> list[EvalItem]:
    """At most ``limit`` items, spread evenly over the file (deterministic)."""
    if limit is None or len(items) <= limit:
        return list(items)
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", nargs="*", type=Path, help="eval files (default: corpora/routing/*/eval.jsonl)"
    )
    parser.add_argument("--limit", type=int, help="at most N queries per corpus (spread evenly)")
    parser.add_argument("--routers", default="semdns,examples-only,flat,semantic-router")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    tree = load_default_tree()
    files = args.data or evaluation_splits()
    sets: dict[str, list[EvalItem]] = {
        p.parent.name: sample(load_jsonl([p], tree), args.limit) for p in files
    }
    sets["team (bench/data/queries)"] = sample(team_set(), args.limit)
    texts = sorted({item.query for items in sets.values() for item in items})
    encoder = MiniLMEncoder()
    started = time.perf_counter()
    vectors = encode_cached(encoder, texts)
    print(f"embedded {len(texts)} queries in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    memo = MemoEncoder(encoder)
    for text, vector in zip(texts, vectors, strict=True):
        memo.prime(text, vector)

    routers: dict[str, Router] = {}
    wanted = args.routers.split(",")
    resolvers: list[Resolver] = []
    if "semdns" in wanted:
        resolvers.append(Resolver(tree, memo, cache_size=0))
        routers["semdns"] = ResolverRouter(resolvers[-1])
    if "examples-only" in wanted:
        resolvers.append(Resolver(tree, memo, cache_size=0, classifier=train(tree, memo)))
        routers["examples-only"] = ResolverRouter(resolvers[-1])
    if "flat" in wanted:
        routers["flat"] = FlatCentroidRouter(tree, memo)
    if "semantic-router" in wanted:
        routers["semantic-router"] = NearestExamplesRouter(tree, memo)

    result: dict[str, object] = {"limit": args.limit, "corpora": {}}
    for corpus, items in sets.items():
        row: dict[str, object] = {"n": len(items)}
        for name, router in routers.items():
            evaluation = evaluate(run(router, items)).to_json()
            row[name] = {
                **{rate: evaluation[rate] for rate in RATES},
                "ece": evaluation["ece"],
                "ci95": {rate: evaluation["ci95"][rate] for rate in RATES},
            }
            summary = "  ".join(f"{rate} {evaluation[rate]:.3f}" for rate in RATES)
            print(f"{corpus:28s} {name:16s} n={len(items):5d}  {summary}", file=sys.stderr)
        result["corpora"][corpus] = row  # type: ignore[index]
    for resolver in resolvers:
        resolver.close()
    result["classifier"] = (
        {k: v for k, v in resolvers[0].classifier.meta.items() if k != "per_name"} if resolvers else {}
    )
    emit(result, args.out)


if __name__ == "__main__":
    main()
