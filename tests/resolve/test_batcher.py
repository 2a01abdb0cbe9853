"""The embedding batcher: concurrent requests share model calls, failures reach every waiter."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from semdns.model_workers import (
    ENCODER_THREADS_ENV,
    SWITCH_INTERVAL_ENV,
    WORKERS_ENV,
    available_cores,
    default_workers,
    encoder_threads,
)
from semdns.resolve.batcher import BatcherClosed, EmbeddingBatcher
from semdns.resolve.encoder import Vectors


class SlowModel:
    """Records the batches it is given; each call takes ``delay_s`` (like a model run)."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.delay_s = delay_s
        self.batches: list[int] = []
        self.threads: set[str] = set()

    def __call__(self, token_ids: Sequence[list[int]]) -> Vectors:
        self.batches.append(len(token_ids))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay_s)
        return np.array([[float(sum(ids)), float(len(ids))] for ids in token_ids], dtype=np.float32)


def test_concurrent_requests_share_batches_and_each_gets_its_own_vector() -> None:
    model = SlowModel()
    batcher = EmbeddingBatcher(model, max_batch=8)

    async def main() -> list[Vectors]:
        return await asyncio.gather(*(batcher.embed([i, i]) for i in range(20)))

    vectors = asyncio.run(main())
    batcher.close()
    assert [v.tolist() for v in vectors] == [[2.0 * i, 2.0] for i in range(20)]
    assert sum(model.batches) == 20
    assert max(model.batches) <= 8
    assert len(model.batches) < 20  # requests that queued while a batch ran went together
    assert model.threads == {"semdns-embed-0"}  # one thread runs the model: no oversubscription
    assert batcher.batches == len(model.batches) and batcher.embedded == 20


def test_several_workers_share_the_queue_and_each_request_is_answered_once() -> None:
    model = SlowModel(delay_s=0.05)
    batcher = EmbeddingBatcher(model, max_batch=2, workers=2)

    async def main() -> list[Vectors]:
        return await asyncio.gather(*(batcher.embed([i, 1]) for i in range(12)))

    vectors = asyncio.run(main())
    batcher.close()
    assert [v.tolist() for v in vectors] == [[i + 1.0, 2.0] for i in range(12)]
    assert model.threads == {"semdns-embed-0", "semdns-embed-1"}  # both ran batches
    assert sum(model.batches) == 12 and batcher.embedded == 12


@pytest.mark.parametrize("bad", [{"workers": 0}, {"max_batch": 0}, {"max_wait_s": -1.0}])
def test_impossible_settings_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        EmbeddingBatcher(SlowModel(), **bad)  # type: ignore[arg-type]


def test_a_lone_request_is_not_delayed_without_a_wait_bound() -> None:
    model = SlowModel(delay_s=0.0)
    batcher = EmbeddingBatcher(model)

    async def main() -> float:
        started = time.perf_counter()
        await batcher.embed([1])
        return time.perf_counter() - started

    asyncio.run(main())
    assert model.batches == [1]
    batcher.close()


def test_a_wait_bound_gathers_requests_that_arrive_within_it() -> None:
    model = SlowModel(delay_s=0.0)
    batcher = EmbeddingBatcher(model, max_batch=4, max_wait_s=0.2)

    async def main() -> None:
        first = asyncio.ensure_future(batcher.embed([1]))
        await asyncio.sleep(0.01)
        await asyncio.gather(first, batcher.embed([2]), batcher.embed([3]), batcher.embed([4]))

    asyncio.run(main())
    batcher.close()
    assert model.batches == [4]  # the full batch ran before the bound expired


def test_a_failing_model_fails_every_waiter_and_the_worker_carries_on() -> None:
    calls = {"n": 0}

    def flaky(token_ids: Sequence[list[int]]) -> Vectors:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("model exploded")
        return np.ones((len(token_ids), 2), dtype=np.float32)

    batcher = EmbeddingBatcher(flaky)

    async def main() -> Vectors:
        with pytest.raises(RuntimeError, match="exploded"):
            await batcher.embed([1])
        return await batcher.embed([2])

    assert asyncio.run(main()).tolist() == [1.0, 1.0]
    batcher.close()


def test_other_model_work_runs_on_the_workers_and_a_failure_reaches_only_its_waiter() -> None:
    model = SlowModel(delay_s=0.0)
    batcher = EmbeddingBatcher(model)

    def explode() -> str:
        raise RuntimeError("layers exploded")

    async def main() -> tuple[str, Vectors, str]:
        with pytest.raises(RuntimeError, match="layers exploded"):
            await batcher.run(explode)
        where, vector = await asyncio.gather(
            batcher.run(lambda: threading.current_thread().name), batcher.embed([3, 4])
        )
        return where, vector, await batcher.run(lambda: "after")

    where, vector, after = asyncio.run(main())
    batcher.close()
    assert where == "semdns-embed-0" and after == "after"  # a model worker ran it; the worker went on
    assert vector.tolist() == [7.0, 2.0]
    assert batcher.ran == 2  # the failed work is not counted


def test_a_closed_batcher_refuses_new_work_and_releases_waiters() -> None:
    model = SlowModel(delay_s=0.2)
    batcher = EmbeddingBatcher(model, max_batch=1)

    async def main() -> None:
        running = asyncio.ensure_future(batcher.embed([1]))
        queued = asyncio.ensure_future(batcher.embed([2]))
        await asyncio.sleep(0.05)
        batcher.close()
        with pytest.raises(BatcherClosed):
            await queued
        await running  # the batch already running completes
        with pytest.raises(BatcherClosed):
            await batcher.embed([3])
        with pytest.raises(BatcherClosed):
            await batcher.run(lambda: None)

    asyncio.run(main())


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"max_batch": 0}, "max_batch"), ({"max_wait_s": -1}, "max_wait")]
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmbeddingBatcher(SlowModel(), **kwargs)  # type: ignore[arg-type]


def test_model_workers_default_to_the_cores_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert default_workers() == available_cores()
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert default_workers() == 3


def test_each_model_worker_gets_its_share_of_the_cores_as_intra_op_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENCODER_THREADS_ENV, raising=False)
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert encoder_threads() == 1  # one model worker per core, one thread each
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert encoder_threads() == available_cores()  # a lone worker may spread over every core
    monkeypatch.setenv(ENCODER_THREADS_ENV, "3")
    assert encoder_threads() == 3


@pytest.mark.parametrize("text", ["two", "0", "-1", "1.5"])
def test_a_malformed_encoder_thread_count_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(ENCODER_THREADS_ENV, text)
    with pytest.raises(ValueError, match=ENCODER_THREADS_ENV):
        encoder_threads()


@pytest.mark.parametrize("text", ["two", "0", "-1", "1.5"])
def test_a_malformed_model_worker_count_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(WORKERS_ENV, text)
    with pytest.raises(ValueError, match=WORKERS_ENV):
        default_workers()


@pytest.mark.parametrize(
    ("variable", "text"), [(WORKERS_ENV, "two"), (ENCODER_THREADS_ENV, "many"), (SWITCH_INTERVAL_ENV, "fast")]
)
def test_the_command_line_refuses_a_malformed_setting_before_loading_anything(
    variable: str, text: str
) -> None:
    env = {**os.environ, variable: text}
    command = [sys.executable, "-c", "from semdns.cli import main; main()", "dig", "sort a list"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"error: {variable}={text!r}" in done.stderr and "Traceback" not in done.stderr
