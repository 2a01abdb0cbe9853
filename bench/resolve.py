"""Resolver benchmark: latency per deciding stage, stage shares, cached path, accuracy.

Runs the default namespace against the labelled queries in bench/data/queries (written for the
benchmark, separate from the zones' examples) and prints one JSON object. ``stages.<s>`` groups queries
by the costliest stage their resolution needed (``keyword``: no embedding computed at all). Latencies
are in microseconds, measured in-process with perf_counter around ``Resolver.resolve``.

    .venv/bin/python bench/resolve.py [--rounds 3] [--out results.json]

``semdns simulate`` reads this JSON (``resolver.calibration``) to calibrate its resolver model.

``--throughput`` measures instead routing decisions per second on unique public prompts (the
corpora's evaluation splits, shuffled; decision cache off, so nothing repeats to help), through
``Resolver.aresolve`` at concurrency 1, 8 and 32 in one event loop: the shipped resolver (lexical
pass first, then the shallow pass, the transformer on model workers) beside the same resolver
without the shallow stage and without either (the full path, every prompt through MiniLM), and the
per-decision cost of semantic-router's rule (top-5 nearest examples; one MiniLM call a decision, as
the library makes it) on the same prompts. The event loop is uvloop, as ``semdns serve`` runs (uvicorn's
``loop="auto"``), or asyncio's own with ``--loop asyncio``; ``shipped_c32_by_event_loop`` puts the two
side by side, alternated, in the same run. ``encoder_alone`` is the ceiling of every run's
``cpu_cores``: one bare thread per model worker doing nothing but the encoder's calls (each run's
``scheduler`` says how its threads shared the cores: ``bench/_common.SchedulerCounts``), and
``switch_interval_us`` the interpreter's switch interval the model workers ran under
(``SEMDNS_SWITCH_INTERVAL_US=0`` keeps CPython's 5 ms, for a comparison).

    .venv/bin/python bench/resolve.py --throughput [--prompts 1500] [--loop uvloop|asyncio] [--out out.json]
        [--corpus FILE]   # a JSON-lines corpus's prompts instead of the evaluation splits' mix
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import SchedulerCounts, emit, machine_speed, percentile, traffic
from semdns.eval.routing import load_labelled, score_multi, score_single
from semdns.resolve import Resolver
from semdns.zone import load_default_tree
from semdns.zone.tree import ZoneTree

HERE = Path(__file__).parent
QUERIES = HERE / "data" / "queries"

Runner = Callable[[Coroutine[Any, Any, dict[str, object]]], dict[str, object]]


def loop_runner(name: str) -> Runner:
    """``asyncio.run`` on the named event loop: "uvloop" (what ``semdns serve`` runs when it is
    installed) or "asyncio" (the standard library's)."""
    if name == "asyncio":
        return asyncio.run
    if name != "uvloop":
        raise ValueError(f"unknown event loop {name!r}: expected uvloop or asyncio")
    import uvloop

    runner: Runner = uvloop.run
    return runner


def default_loop() -> str:
    """uvloop when it is installed (as uvicorn's ``loop="auto"`` chooses), else asyncio's own."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


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
    parser.add_argument("--throughput", action="store_true", help="decisions/s on unique prompts instead")
    parser.add_argument("--prompts", type=int, default=1500, help="prompts per throughput run")
    parser.add_argument("--max-wait-ms", default="0,1", help="batcher wait bounds to compare at c=32")
    parser.add_argument(
        "--corpus", type=Path, help="throughput on a JSON-lines corpus's prompts ('query') instead of the mix"
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default=default_loop(),
        help="event loop of the throughput runs (default: uvloop when installed, as semdns serve)",
    )
    args = parser.parse_args()
    if args.throughput:
        waits = [float(x) for x in args.max_wait_ms.split(",")]
        emit(throughput(args.prompts, waits, args.loop, args.corpus), args.out)
        return

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


async def drive(resolver: Resolver, prompts: list[str], concurrency: int) -> dict[str, object]:
    """Resolve every prompt once with ``concurrency`` requests in flight; wall time, CPU, latency."""
    queue = iter(prompts)
    latencies: list[float] = []
    stages: dict[str, int] = {}
    by_stage: dict[str, list[float]] = {}

    async def worker() -> None:
        for text in queue:
            t0 = time.perf_counter()
            decision = await resolver.aresolve(text, use_cache=False)
            latencies.append((time.perf_counter() - t0) * 1e6)
            stages[decision.stage] = stages.get(decision.stage, 0) + 1
            by_stage.setdefault(decision.stage, []).append(latencies[-1])

    batches_before = resolver.batcher.batches if resolver.batcher else 0
    embedded_before = resolver.batcher.embedded if resolver.batcher else 0
    scheduler = SchedulerCounts()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    scheduled = scheduler.read()
    batches = (resolver.batcher.batches - batches_before) if resolver.batcher else 0
    embedded = (resolver.batcher.embedded - embedded_before) if resolver.batcher else 0
    return {
        "concurrency": concurrency,
        "decisions": len(latencies),
        "decisions_per_s": round(len(latencies) / wall, 1),
        **summary(latencies),
        "cpu_cores": round(cpu / wall, 2),
        "stage_share": {k: round(v / len(latencies), 4) for k, v in sorted(stages.items())},
        "latency_by_stage": {k: summary(v) for k, v in sorted(by_stage.items())},
        "mean_batch": round(embedded / batches, 2) if batches else None,
        "scheduler": scheduled,
    }


def encoder_alone(
    encode_ids: Callable[[list[list[int]]], object], ids: list[list[int]], threads: int
) -> dict[str, object]:
    """``threads`` bare threads doing nothing but the encoder's calls, one text a call as the model
    workers make them, each taking the next text when it is free: what the machine gives Python
    threads feeding ONNX Runtime, with no event loop and no resolution (the ceiling of the resolver's
    ``cpu_cores``)."""
    queue = iter(ids)
    taking = threading.Lock()
    finished = threading.Barrier(threads + 1)
    counted = threading.Event()

    failed: list[BaseException] = []

    def work() -> None:
        try:
            while True:
                with taking:
                    row = next(queue, None)
                if row is None:
                    break
                encode_ids([row])
        except Exception as exc:  # raised by the caller once every thread is done
            failed.append(exc)
        finally:
            finished.wait()
            counted.wait()  # alive until counted: an ended thread's scheduler counts go with it

    pool = [threading.Thread(target=work, name=f"encoder-alone-{index}") for index in range(threads)]
    scheduler = SchedulerCounts()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for thread in pool:
        thread.start()
    finished.wait()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    scheduled = scheduler.read()
    counted.set()
    for thread in pool:
        thread.join()
    if failed:  # a rate over part of the texts would be no figure at all
        raise failed[0]
    return {
        "threads": threads,
        "texts_per_s": round(len(ids) / wall, 1),
        "cpu_cores": round(cpu / wall, 2),
        "scheduler": scheduled,
    }


def throughput(
    count: int, waits_ms: list[float], loop: str | None = None, corpus: Path | None = None
) -> dict[str, object]:
    from semdns.eval.routers import NearestExamplesRouter
    from semdns.resolve.batcher import EmbeddingBatcher
    from semdns.resolve.encoder import MiniLMEncoder

    loop = loop or default_loop()
    run = loop_runner(loop)
    speed_before = machine_speed()
    tree = load_default_tree()
    prompts = traffic(count, corpus)

    def without(*dropped: str) -> ZoneTree:
        return tree.with_policies(stages=lambda policy: tuple(s for s in policy.stages if s not in dropped))

    variants = {
        "shipped (lexical pass, then shallow pass)": tree,
        "lexical pass only (no shallow stage)": without("shallow"),
        "full path (no lexical or shallow stage)": without("lexical", "shallow"),
    }
    runs: dict[str, list[dict[str, object]]] = {}
    encoder = MiniLMEncoder()
    for label, variant in variants.items():
        resolver = Resolver(variant, encoder, cache_size=0)
        run(drive(resolver, prompts[:50], 8))  # warm-up: first-call costs out of the figures
        runs[label] = [run(drive(resolver, prompts, c)) for c in (1, 8, 32)]
        resolver.close()
    cores = os.cpu_count() or 1
    by_wait = {}
    for wait_ms in waits_ms:
        batcher = EmbeddingBatcher(encoder.encode_ids, max_wait_s=wait_ms / 1000, workers=cores)
        resolver = Resolver(
            variants["full path (no lexical or shallow stage)"], encoder, cache_size=0, batcher=batcher
        )
        by_wait[f"{wait_ms} ms"] = run(drive(resolver, prompts, 32))
        resolver.close()
    # The shipped resolver runs one model worker per core; one worker is the alternative it beat.
    by_workers = {}
    for workers in sorted({1, cores}):
        batcher = EmbeddingBatcher(encoder.encode_ids, workers=workers)
        resolver = Resolver(tree, encoder, cache_size=0, batcher=batcher)
        run(drive(resolver, prompts[:50], 8))
        by_workers[f"{workers} worker(s)"] = run(drive(resolver, prompts, 32))
        resolver.close()
    # The ceiling of cpu_cores: as many bare threads as model workers, doing only the encoder's calls.
    alone = encoder_alone(encoder.encode_ids, encoder.token_ids_batch(prompts[:400]), cores)
    # The same resolver on each event loop, alternated (the machine's speed drifts within minutes).
    loops = ("uvloop", "asyncio") if default_loop() == "uvloop" else ("asyncio",)
    by_loop: dict[str, list[object]] = {name: [] for name in loops}
    resolver = Resolver(tree, encoder, cache_size=0)
    run(drive(resolver, prompts[:50], 8))
    for _ in range(2):
        for name in loops:
            by_loop[name].append(loop_runner(name)(drive(resolver, prompts, 32))["decisions_per_s"])
    resolver.close()
    # semantic-router's decision rule, one encoder call a decision (one at a time, as it routes).
    router = NearestExamplesRouter(tree, encoder)
    sample = prompts[: min(len(prompts), 400)]
    per_decision: list[float] = []
    for text in sample:
        t0 = time.perf_counter()
        router.route(text)
        per_decision.append((time.perf_counter() - t0) * 1e6)
    return {
        "benchmark": "resolve-throughput",
        "command": f"python bench/resolve.py --throughput --prompts {count} --loop {loop}"
        + (f" --corpus {corpus}" if corpus else ""),
        "event_loop": loop,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "machine_speed_s": {"before": speed_before, "after": machine_speed()},
        # What the model workers set (SEMDNS_SWITCH_INTERVAL_US; semdns.model_workers): the figures
        # depend on it, so each run says which one it ran under.
        "switch_interval_us": round(sys.getswitchinterval() * 1e6, 1),
        "prompts": len(prompts),
        "runs": runs,
        "full_path_c32_by_batcher_wait": by_wait,
        "shipped_c32_by_model_workers": by_workers,
        "encoder_alone": alone,
        "shipped_c32_by_event_loop": {name: {"decisions_per_s": rates} for name, rates in by_loop.items()},
        "semantic_router_rule_per_decision": {
            **summary(per_decision),
            "decisions_per_s_one_core": round(1e6 / statistics.fmean(per_decision), 1),
        },
    }


if __name__ == "__main__":
    main()
