"""The benchmarks' shared reading of the machine's speed (bench/_common.py)."""

from __future__ import annotations

from bench_scripts import load_bench

common = load_bench("_common")


def test_the_speed_reading_is_seconds_of_cpu_that_grow_with_the_work() -> None:
    small = common.machine_speed(iterations=50_000)
    large = common.machine_speed(iterations=400_000)
    assert 0 < small < large


def test_no_work_reads_zero_to_the_reading_s_precision() -> None:
    assert common.machine_speed(iterations=0) == 0.0
