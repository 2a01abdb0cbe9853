"""bench/resolve.py's throughput runs: the choice of event loop (uvloop, as semdns serve runs, or
asyncio's own), and the bare encoder threads that are the ceiling of their cores."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bench_scripts import load_bench

bench = load_bench("resolve")


async def _loop_kind() -> dict[str, object]:
    return {"loop": type(asyncio.get_running_loop()).__module__}


def test_each_named_loop_runs_the_coroutine_on_that_loop() -> None:
    assert bench.loop_runner("asyncio")(_loop_kind())["loop"].startswith("asyncio")
    pytest.importorskip("uvloop")
    assert bench.loop_runner("uvloop")(_loop_kind())["loop"].startswith("uvloop")


def test_the_default_is_uvloop_where_it_is_installed() -> None:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        assert bench.default_loop() == "asyncio"
    else:
        assert bench.default_loop() == "uvloop"


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="trio"):
        bench.loop_runner("trio")


def test_the_bare_encoder_threads_embed_every_text_once_and_report_their_cores() -> None:
    seen: list[list[int]] = []
    lock = threading.Lock()

    def encode_ids(rows: list[list[int]]) -> None:
        assert len(rows) == 1  # one text a call, as the model workers make them
        with lock:
            seen.append(rows[0])

    ids = [[101, n, 102] for n in range(50)]
    result = bench.encoder_alone(encode_ids, ids, 2)
    assert sorted(seen) == sorted(ids)
    assert result["threads"] == 2 and result["texts_per_s"] > 0 and result["cpu_cores"] >= 0


def test_a_failing_encoder_call_fails_the_run_instead_of_hanging_it() -> None:
    def encode_ids(rows: list[list[int]]) -> None:
        raise RuntimeError("the model is gone")

    raised: list[BaseException] = []

    def run() -> None:
        try:
            bench.encoder_alone(encode_ids, [[1], [2], [3]], 2)
        except RuntimeError as exc:
            raised.append(exc)

    runner = threading.Thread(target=run)
    runner.start()
    runner.join(10)
    assert not runner.is_alive(), "the bare threads hung on a failed call"
    assert [str(exc) for exc in raised] == ["the model is gone"]
