"""What every benchmark here shares: one percentile definition, one way to print its JSON, the public
prompts of the line-rate benchmarks and a reading of the machine's speed.

The benchmarks are scripts (``python bench/NAME.py``), so this module is imported by its plain name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0–100) of ``values``; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def emit(result: dict[str, Any], out: Path | None) -> None:
    """Print the result as indented JSON, and write the same text to ``out`` when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n", encoding="utf-8")


def zone_folder(folder: Path) -> Any:
    """The namespace a folder of zone files declares (every ``*.yaml`` in it, as their policies say);
    a folder without one is refused by name (``--zones DIR`` of bench/routing_passes.py and
    bench/decision_cost.py)."""
    from semdns.zone import load_zone_files

    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise SystemExit(f"--zones {folder}: no .yaml zone files there")
    return load_zone_files(files)


def public_prompts(limit: int, seed: int = 0) -> list[str]:
    """Unique public prompts from every routing evaluation split (code, exams, word problems,
    trivia...), shuffled with a fixed seed: the traffic of the line-rate benchmarks."""
    import random

    texts: list[str] = []
    for path in sorted((Path(__file__).resolve().parent.parent / "corpora" / "routing").glob("*/eval.jsonl")):
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        texts += [json.loads(line)["query"] for line in lines]
    unique = list(dict.fromkeys(texts))
    random.Random(seed).shuffle(unique)
    return unique[:limit]


def machine_speed(iterations: int = 3_000_000, repeats: int = 3) -> float:
    """Seconds of this thread's CPU for a fixed pure-Python loop (the fastest of ``repeats``).

    This project's machines share their cores: the same code ran a third slower or faster minutes
    apart on 2026-11-30 (0.17 to 0.26 s for this loop). A run that prints this reading before and after
    its figures says which kind of minute it had, so two runs can be compared by more than their
    dates."""
    import time

    best = float("inf")
    for _ in range(repeats):
        started = time.thread_time()
        total = 0
        for i in range(iterations):
            total += i * i
        best = min(best, time.thread_time() - started)
    return round(best, 4)
