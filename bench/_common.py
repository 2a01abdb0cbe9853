"""What every benchmark here shares: one percentile definition, one way to print its JSON, the public
prompts of the line-rate benchmarks and a reading of the machine's speed.

The benchmarks are scripts (``python bench/NAME.py``), so this module is imported by its plain name.
"""

from __future__ import annotations

import json
import os
import threading
import time
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


class SchedulerCounts:
    """What Linux's scheduler says about this process's threads and the machine, between two moments:
    for each thread, the time it ran and the time it waited runnable for a core
    (``/proc/self/task/*/schedstat``), and how long the machine's cores sat idle (``/proc/stat``).

    A process that uses less than every core while its threads also wait runnable is crowding the
    cores at some moments and leaving one idle at others (hand-overs of the interpreter lock); one that
    waits little and idles much has too little work in flight. Threads still alive when read are
    counted (an ended thread's counts go with it). ``read()`` is None where the files are missing (not
    Linux)."""

    def __init__(self) -> None:
        self._start = self._snapshot()
        self._wall = time.perf_counter()

    @staticmethod
    def _snapshot() -> tuple[dict[int, tuple[int, int]], list[int]] | None:
        try:
            threads = {}
            for tid in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{tid}/schedstat", encoding="ascii") as handle:
                        ran, waited = handle.read().split()[:2]
                except FileNotFoundError:  # the thread ended between the listing and the read
                    continue
                threads[int(tid)] = (int(ran), int(waited))
            with open("/proc/stat", encoding="ascii") as handle:
                machine = [int(v) for v in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        return threads, machine

    def read(self) -> dict[str, Any] | None:
        """Cores' worth of each busy thread's running and runnable waiting since construction (named
        as :mod:`threading` names them), and of the machine's idle time."""
        end, wall = self._snapshot(), time.perf_counter() - self._wall
        if self._start is None or end is None or wall <= 0:
            return None
        names = {thread.native_id: thread.name for thread in threading.enumerate()}
        threads = []
        for tid, (ran, waited) in sorted(end[0].items()):
            ran0, waited0 = self._start[0].get(tid, (0, 0))
            if ran - ran0 > 0.01 * wall * 1e9:  # threads that ran at least 1% of the time
                threads.append(
                    {
                        "thread": names.get(tid, str(tid)),
                        "running_cores": round((ran - ran0) / 1e9 / wall, 2),
                        "runnable_waiting_cores": round((waited - waited0) / 1e9 / wall, 2),
                    }
                )
        deltas = [b - a for a, b in zip(self._start[1], end[1], strict=False)]
        total = sum(deltas)
        idle = (deltas[3] + deltas[4]) / total * (os.cpu_count() or 1) if total and len(deltas) > 4 else None
        return {"threads": threads, "machine_idle_cores": None if idle is None else round(idle, 2)}


ROUTING_CORPORA = Path(__file__).resolve().parent.parent / "corpora" / "routing"


def evaluation_splits(only: str = "") -> list[Path]:
    """The routing evaluation splits: every ``corpora/routing/*/eval.jsonl`` in name order, or those of the
    corpora named in ``only`` (comma-separated folder names, in that order; an unknown name stops the run
    naming the known ones)."""
    found = {path.parent.name: path for path in sorted(ROUTING_CORPORA.glob("*/eval.jsonl"))}
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in found]
    if unknown:
        raise SystemExit(f"--only {','.join(unknown)}: no such evaluation corpus (known: {', '.join(found)})")
    return [found[name] for name in wanted] if wanted else list(found.values())


def public_prompts(limit: int, seed: int = 0) -> list[str]:
    """Unique public prompts from every routing evaluation split (code, exams, word problems,
    trivia...), shuffled with a fixed seed: the traffic of the line-rate benchmarks."""
    import random

    texts: list[str] = []
    for path in evaluation_splits():
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        texts += [json.loads(line)["query"] for line in lines]
    unique = list(dict.fromkeys(texts))
    random.Random(seed).shuffle(unique)
    return unique[:limit]


def corpus_prompts(path: Path, limit: int) -> list[str]:
    """The first ``limit`` unique ``query`` texts of a JSON-lines corpus, in its order: the line-rate
    benchmarks' ``--corpus`` (your own traffic, or one corpus such as ShareGPT's real prompts, instead
    of the evaluation splits' mix). Read as ``semdns train --unlabelled`` reads one
    (:func:`semdns.resolve.distill.load_unlabelled`): a line that is not a JSON object with a text
    ``query`` stops the run with the file and line."""
    from semdns.resolve.distill import UnlabelledError, load_unlabelled

    try:
        texts = load_unlabelled(path)
    except UnlabelledError as exc:
        raise SystemExit(f"--corpus {exc}") from None
    return list(dict.fromkeys(texts))[:limit]


def traffic(limit: int, corpus: Path | None = None) -> list[str]:
    """The line-rate benchmarks' prompts: ``corpus``'s (their ``--corpus``) when given, else the
    evaluation splits' mix (:func:`public_prompts`)."""
    return corpus_prompts(corpus, limit) if corpus is not None else public_prompts(limit)


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
