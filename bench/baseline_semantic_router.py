"""Baseline: aurelio's semantic-router against semdns, same machine, same run, same encoder.

semantic-router (PyPI ``semantic-router``) gets semdns's own encoder, all-MiniLM-L6-v2 int8 ONNX
(:class:`semdns.resolve.encoder.MiniLMEncoder`), through a small ``DenseEncoder`` subclass, so nothing
is fetched from a model hub and the two routers differ only in how they decide. Its routes come from
the default namespace, in two variants:

* ``flat``: one ``Route`` per name (27), utterances = that node's ``examples``;
* ``primary``: root + the 7 primary domains (8 routes), a primary's utterances = every example of its
  subtree (mirrors the "5 flat routes" comparison).

Both use semantic-router's defaults: ``IndexedRouter`` with its ``LocalIndex``, ``top_k=5``,
``aggregation="mean"``, no confidence threshold. Each variant is also scored with the threshold tuned to
its best on this very query set (an optimistic upper bound for semantic-router: ``flat`` for exact
accuracy, ``primary`` for level-1 accuracy); a query below the threshold gets no route, which is scored
as the root ``.`` (the general model serves it).

Queries: ``bench/data/queries/*.yaml`` except ``multi.yaml``. Per system: exact accuracy, level-1
accuracy (primary domain right, :func:`semdns.eval.routing.level_prefix`), share with no route, and
per-decision latency p50/p99 in microseconds (perf_counter around one call, no decision cache; for
semantic-router also the encoder call alone). The systems are timed interleaved, per query, in a
shuffled order, so machine noise hits them alike.

    .venv/bin/python bench/baseline_semantic_router.py [--rounds 3] [--out results.json]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import emit, percentile
from semdns.eval.routing import LabelledQuery, level_prefix, load_labelled, score_single
from semdns.names import ROOT, Name
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import ZoneTree, load_default_tree

try:
    from importlib.metadata import version as _dist_version

    from pydantic import PrivateAttr
    from semantic_router import Route
    from semantic_router.encoders import DenseEncoder
    from semantic_router.routers import IndexedRouter
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    sys.exit(
        f"semantic-router is not installed ({exc}).\n"
        "Install the optional baseline extra: pip install -e '.[baselines]' (or: pip install semantic-router)"
    )

HERE = Path(__file__).parent
QUERIES = HERE / "data" / "queries"


class SemdnsMiniLMEncoder(DenseEncoder):  # type: ignore[misc]
    """semantic-router dense encoder backed by semdns's MiniLM (int8 ONNX, CPU, packaged weights)."""

    name: str = MiniLMEncoder.MODEL_ID
    type: str = "semdns-minilm"
    _model: MiniLMEncoder = PrivateAttr(default_factory=MiniLMEncoder)

    @property
    def model(self) -> MiniLMEncoder:
        return self._model

    def __call__(self, docs: list[Any]) -> list[list[float]]:
        vectors: list[list[float]] = self._model.encode([str(d) for d in docs]).tolist()
        return vectors


def flat_routes(tree: ZoneTree) -> list[Route]:
    return [Route(name=str(node.name), utterances=list(node.examples)) for node in tree if node.examples]


def primary_routes(tree: ZoneTree) -> list[Route]:
    routes = [Route(name=str(ROOT), utterances=list(tree.node(ROOT).examples))]
    for primary in tree.children(ROOT):
        utterances = [ex for node in tree.subtree(primary) for ex in node.examples]
        routes.append(Route(name=str(primary), utterances=utterances))
    return routes


def latency(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_us": round(percentile(values, 50), 1),
        "p99_us": round(percentile(values, 99), 1),
    }


def accuracy(items: Sequence[LabelledQuery], answers: dict[str, Name | None]) -> dict[str, Any]:
    """Exact / level-1 (plus safe and wrong) accuracy; no route (None) is scored as the root."""
    report = score_single(items, lambda q: (answers[q] or ROOT,)).to_json()
    n = max(len(items), 1)
    report["no_route"] = round(sum(answers[i.text] is None for i in items) / n, 4)
    report["answered_root"] = round(sum((answers[i.text] or ROOT) == ROOT for i in items) / n, 4)
    return report


def tune_threshold(
    items: Sequence[LabelledQuery], top: dict[str, tuple[Name, float]], *, level1_first: bool
) -> tuple[float, dict[str, Name | None]]:
    """The threshold on the top route's score that maximises exact accuracy, then level 1 (or level 1
    first, for the primary variant, whose routes cannot name a second-level label exactly)."""
    best: tuple[int, int, float] = (-1, -1, 0.0)
    for t in sorted({0.0} | {score for _, score in top.values()}):
        exact = level1 = 0
        for item in items:
            name, score = top[item.text]
            got = name if score >= t else ROOT
            exact += got == item.expected[0]
            level1 += level_prefix(got, 1) == level_prefix(item.expected[0], 1)
        key = (level1, exact) if level1_first else (exact, level1)
        if key > best[:2]:
            best = (*key, t)
    threshold = best[2]
    return threshold, {q: (name if score >= threshold else None) for q, (name, score) in top.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the query set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the per-query system order")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    tree = load_default_tree()
    started = time.perf_counter()
    resolver = Resolver(tree)
    semdns_load_s = time.perf_counter() - started

    encoder = SemdnsMiniLMEncoder()
    routers: dict[str, IndexedRouter] = {}
    load_s: dict[str, float] = {}
    route_counts: dict[str, int] = {}
    for variant, routes in (("flat", flat_routes(tree)), ("primary", primary_routes(tree))):
        started = time.perf_counter()
        routers[variant] = IndexedRouter(encoder=encoder, routes=routes, index=None)
        load_s[variant] = time.perf_counter() - started
        route_counts[variant] = len(routes)
        routers[variant]("warm-up")  # starts the library's background event loop once

    files = sorted(p for p in QUERIES.glob("*.yaml") if p.name != "multi.yaml")
    items = load_labelled(files)
    texts = [item.text for item in items]

    answers: dict[str, dict[str, Name | None]] = {"semdns": {}, "flat": {}, "primary": {}}
    top: dict[str, dict[str, tuple[Name, float]]] = {"flat": {}, "primary": {}}
    times: dict[str, list[float]] = {"semdns": [], "flat": [], "primary": [], "encoder": []}

    def run_semdns(text: str) -> None:
        decision = resolver.resolve(text, use_cache=False)
        answers["semdns"].setdefault(text, decision.names[0] if decision.names else None)

    def run_router(variant: str) -> Callable[[str], None]:
        def call(text: str) -> None:
            choice = routers[variant](text)
            name = Name.parse(choice.name) if choice.name is not None else None
            answers[variant].setdefault(text, name)
            if name is not None:
                top[variant].setdefault(text, (name, float(choice.confidence or 0.0)))

        return call

    def run_encoder(text: str) -> None:
        encoder.model.encode([text])

    systems: dict[str, Callable[[str], None]] = {
        "semdns": run_semdns,
        "flat": run_router("flat"),
        "primary": run_router("primary"),
        "encoder": run_encoder,
    }
    rng = random.Random(args.seed)
    for _ in range(max(args.rounds, 1)):
        for text in texts:
            order = list(systems)
            rng.shuffle(order)
            for key in order:
                t0 = time.perf_counter()
                systems[key](text)
                times[key].append((time.perf_counter() - t0) * 1e6)

    sr_results: dict[str, Any] = {}
    for variant, router in routers.items():
        level1_first = variant == "primary"
        threshold, tuned_answers = tune_threshold(items, top[variant], level1_first=level1_first)
        # check the tuned figures through the library itself, with the threshold set on the router
        router.confidence_threshold = threshold
        checked: dict[str, Name | None] = {}
        for text in texts:
            choice = router(text)
            checked[text] = Name.parse(choice.name) if choice.name is not None else None
        router.confidence_threshold = None
        sr_results[variant] = {
            "routes": route_counts[variant],
            "utterances": len(router.index),
            "load_s": round(load_s[variant], 3),
            "default": {
                "settings": {"top_k": 5, "aggregation": "mean", "confidence_threshold": None},
                "accuracy": accuracy(items, answers[variant]),
            },
            "tuned": {
                "settings": {"top_k": 5, "aggregation": "mean", "confidence_threshold": round(threshold, 4)},
                "tuned_for": "level1, then exact" if level1_first else "exact, then level1",
                "accuracy": accuracy(items, checked),
                "matches_offline_sweep": checked == tuned_answers,
            },
            "latency": latency(times[variant]),
        }

    result = {
        "benchmark": "baseline_semantic_router",
        "command": f"python bench/baseline_semantic_router.py --rounds {args.rounds}",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "encoder_threads": int(os.environ.get("SEMDNS_ENCODER_THREADS", "1")),
            "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        },
        "encoder": MiniLMEncoder.MODEL_ID,
        "queries": len(items),
        "query_files": [p.name for p in files],
        "rounds": args.rounds,
        "no_route_scored_as": str(ROOT),
        "semantic_router": {
            "version": _dist_version("semantic-router"),
            "router": "IndexedRouter + LocalIndex (defaults)",
            "encoder_alone": latency(times["encoder"]),
            **sr_results,
        },
        "semdns": {
            "names": len(tree),
            "load_s": round(semdns_load_s, 3),
            "accuracy": accuracy(items, answers["semdns"]),
            "latency": latency(times["semdns"]),
        },
    }
    emit(result, args.out)
    resolver.close()


if __name__ == "__main__":
    main()
