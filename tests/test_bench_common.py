"""The benchmarks' shared readings of the machine (bench/_common.py): its speed, and what the scheduler
says about a run's threads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from bench_scripts import load_bench

common = load_bench("_common")


def test_the_speed_reading_is_seconds_of_cpu_that_grow_with_the_work() -> None:
    small = common.machine_speed(iterations=50_000)
    large = common.machine_speed(iterations=400_000)
    assert 0 < small < large


def test_no_work_reads_zero_to_the_reading_s_precision() -> None:
    assert common.machine_speed(iterations=0) == 0.0


def _spin(seconds: float, spun: threading.Event, release: threading.Event) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    spun.set()
    release.wait(10)  # alive when counted: an ended thread's counts are gone with it


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="the scheduler's counts are Linux's")
def test_scheduler_counts_name_the_threads_that_ran_and_how_much() -> None:
    counts = common.SchedulerCounts()
    spun, release = threading.Event(), threading.Event()
    busy = threading.Thread(target=_spin, args=(0.3, spun, release), name="bench-busy")
    busy.start()
    assert spun.wait(10)
    read = counts.read()
    release.set()
    busy.join()
    assert read is not None
    by_name = {row["thread"]: row for row in read["threads"]}
    assert "bench-busy" in by_name  # named as threading names it, not by its thread id
    assert 0.2 <= by_name["bench-busy"]["running_cores"] <= 1.0  # it spun most of the time measured
    assert by_name["bench-busy"]["runnable_waiting_cores"] >= 0
    assert 0 <= read["machine_idle_cores"] <= (os.cpu_count() or 1)


def test_scheduler_counts_are_none_without_the_kernel_s_files(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(_path: str) -> list[str]:
        raise FileNotFoundError("/proc/self/task")

    monkeypatch.setattr(common.os, "listdir", missing)
    assert common.SchedulerCounts().read() is None


def test_a_corpus_gives_its_unique_queries_in_order_up_to_the_limit(tmp_path: Path) -> None:
    corpus = tmp_path / "mine.jsonl"
    rows = ['{"query": "b", "expected": "."}', "", '{"query": "a"}', '{"query": "b"}', '{"query": "c"}']
    corpus.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert common.corpus_prompts(corpus, 10) == ["b", "a", "c"]
    assert common.corpus_prompts(corpus, 2) == ["b", "a"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"query": "fine"}\n{oops\n', "mine.jsonl:2: not JSON"),
        ('{"query": "fine"}\n["a list"]\n', 'mine.jsonl:2: each line needs a non-empty "query"'),
        ('{"query": 3}\n', 'mine.jsonl:1: each line needs a non-empty "query"'),
        ('{"query": "  "}\n', 'mine.jsonl:1: each line needs a non-empty "query"'),
        ("\n\n", "mine.jsonl: the unlabelled corpus is empty"),
    ],
)
def test_a_malformed_corpus_stops_the_run_with_its_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    corpus = tmp_path / "mine.jsonl"
    corpus.write_text(text, encoding="utf-8")
    with pytest.raises(SystemExit, match=message):
        common.corpus_prompts(corpus, 10)


def test_an_unreadable_corpus_is_named(tmp_path: Path) -> None:
    not_utf8 = tmp_path / "latin.jsonl"
    not_utf8.write_bytes(b'{"query": "caf\xe9"}\n')
    for path in (not_utf8, tmp_path / "absent.jsonl"):
        with pytest.raises(SystemExit, match=f"--corpus {path}: cannot read the unlabelled corpus"):
            common.corpus_prompts(path, 10)
