"""Resolver benchmark: latency per deciding stage, stage shares, cached path, accuracy.

Runs the default namespace against the labelled queries in bench/data/queries (written for the
benchmark, separate from the zones' examples) and prints one JSON object. ``stages.<s>`` groups queries
by the costliest stage their resolution needed (``keyword``: no embedding computed at all). Latencies
are in microseconds, measured in-process with perf_counter around ``Resolver.resolve``.

    .venv/bin/python bench/resolve.py [--rounds 3] [--out results.json]

``semdns simulate`` reads this JSON (``resolver.calibration``) to calibrate its resolver model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import emit, percentile
from semdns.eval.routing import load_labelled, score_multi, score_single
from semdns.resolve import Resolver
from semdns.zone import load_default_tree

HERE = Path(__file__).parent
QUERIES = HERE / "data" / "queries"


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_us": round(percentile(values, 50), 1),
        "p99_us": round(percentile(values, 99), 1),
        "mean_us": round(statistics.fmean(values), 1) if values else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="uncached passes over the query set")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    started = time.perf_counter()
    tree = load_default_tree()
    resolver = Resolver(tree)
    load_s = time.perf_counter() - started

    files = sorted(p for p in QUERIES.glob("*.yaml") if p.name != "multi.yaml")
    single = load_labelled(files)
    multi = load_labelled([QUERIES / "multi.yaml"]) if (QUERIES / "multi.yaml").exists() else []
    texts = [item.text for item in single] + [item.text for item in multi]

    by_stage: dict[str, list[float]] = {}
    decided: dict[str, int] = {}
    all_cold: list[float] = []
    for round_index in range(args.rounds):
        for text in texts:
            decision = resolver.resolve(text, use_cache=False)
            by_stage.setdefault(decision.stage, []).append(decision.elapsed_us)
            all_cold.append(decision.elapsed_us)
            if round_index == 0:
                decided[decision.stage] = decided.get(decision.stage, 0) + 1

    # Warm: fill the cache once, then time hits.
    for text in texts:
        resolver.resolve(text)
    cached: list[float] = []
    for _ in range(args.rounds):
        for text in texts:
            t0 = time.perf_counter()
            decision = resolver.resolve(text)
            cached.append((time.perf_counter() - t0) * 1e6)
            assert decision.cache in ("hit", "negative-hit")

    # Long prompts: public prompts (case vignettes, function stubs, exam questions) by length in tokens,
    # each embedded over up to 4 windows of 128 tokens instead of cut at 128.
    long_texts: list[str] = []
    for corpus in ("medqa", "pystubs", "mmlu", "writingbench"):
        path = HERE.parent / "corpora" / "routing" / corpus / "eval.jsonl"
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()][:80]
        long_texts += [json.loads(line)["query"] for line in lines]
    by_length: dict[str, list[float]] = {}
    for text in long_texts:
        words = len(text.split())
        bucket = "<100 words" if words < 100 else "100-200 words" if words < 200 else ">=200 words"
        by_length.setdefault(bucket, []).append(resolver.resolve(text, use_cache=False).elapsed_us)

    def route(text: str) -> tuple:
        return resolver.resolve(text, use_cache=False).names

    report = score_single(single, route)
    per_name = {
        name: round((report.per_expected_exact or {}).get(name, 0) / count, 3)
        for name, count in sorted((report.per_expected or {}).items())
    }
    result = {
        "benchmark": "resolve",
        "command": f"python bench/resolve.py --rounds {args.rounds}",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "names": len(tree),
        "queries": len(texts),
        "load_s": round(load_s, 3),
        "stages": {
            stage: {"share": round(decided.get(stage, 0) / len(texts), 4), **summary(values)}
            for stage, values in sorted(by_stage.items())
        },
        "uncached": summary(all_cold),
        "uncached_public_prompts_by_length": {k: summary(v) for k, v in sorted(by_length.items())},
        "cached": summary(cached),
        "accuracy": {**report.to_json(), "per_name_exact": per_name},
        "multi_domain": score_multi(multi, route) if multi else None,
        "decision_cache": resolver.cache.stats() if resolver.cache else None,
    }
    emit(result, args.out)
    resolver.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
