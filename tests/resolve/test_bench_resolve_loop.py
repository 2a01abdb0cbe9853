"""bench/resolve.py's choice of event loop for its throughput runs (uvloop, as semdns serve runs, or
asyncio's own)."""

from __future__ import annotations

import asyncio

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
