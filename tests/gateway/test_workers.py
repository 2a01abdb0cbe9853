"""``semdns serve --workers 2`` as a user runs it: two processes on one port, one scrape covering both,
SIGHUP to the supervisor reloading both; bad ``--workers`` values; the scrape merge on its own."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest
import typer
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from semdns.cli_serve import register
from semdns.gateway.workers import merge, parse_workers, worker_argv

from .helpers import backends
from .test_reload import zone_text

pytestmark = pytest.mark.anyio


def serve_cli() -> typer.Typer:
    cli = typer.Typer()
    cli.callback()(lambda: None)  # a group, so that the command is called by its name
    register(cli)
    return cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_two_workers_one_port_one_scrape(tmp_path: Path) -> None:
    async with backends("a", "b") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(1, be["a"], be["a"]), encoding="utf-8")
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src"), "HF_HUB_OFFLINE": "1"}
        command = [
            sys.executable, "-m", "semdns.cli", "serve", "--zone", str(zone), "--port", str(port),
            "--workers", "2", "--no-probes", "--lazy-local", "--log-level", "warning",
        ]  # fmt: skip
        proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
        # No keep-alive: every request is a new connection, which the kernel gives to either worker.
        limits = httpx.Limits(max_keepalive_connections=0)
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False, limits=limits
            ) as client:
                up: dict[tuple[tuple[str, str], ...], float] = {}
                for _ in range(240):  # both workers load the resolver: up to two minutes on a busy host
                    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                    try:
                        scrape = await client.get("/metrics")
                        up = samples(scrape.text, "semdns_workers_up")
                    except httpx.TransportError:
                        pass
                    if len(up) == 2 and all(v == 1.0 for v in up.values()):
                        break
                    await asyncio.sleep(0.5)
                assert sorted(up) == [(("worker", "0"),), (("worker", "1"),)]
                body = orjson.dumps({"model": "legal", "messages": [{"role": "user", "content": "hi"}]})
                served: set[str] = set()
                for _ in range(200):  # bounded: stop once the scrape shows both workers served
                    reply = await client.post("/v1/chat/completions", content=body)
                    assert reply.status_code == 200, reply.text
                    counts = samples((await client.get("/metrics")).text, "semdns_requests_total")
                    served = {
                        dict(k)["worker"] for k, v in counts.items() if dict(k)["name"] == "legal." and v
                    }
                    if served == {"0", "1"}:
                        break
                assert served == {"0", "1"}
                # SIGHUP to the supervisor reloads every worker (each rebuilds its real resolver) while
                # a bounded load runs: no request fails
                statuses: list[int] = []
                done = asyncio.Event()

                async def load() -> None:
                    for _ in range(2000):
                        if done.is_set():
                            return
                        statuses.append((await client.post("/v1/chat/completions", content=body)).status_code)

                loops = [asyncio.create_task(load()) for _ in range(3)]
                zone.write_text(zone_text(2, be["a"], be["b"]), encoding="utf-8")
                proc.send_signal(signal.SIGHUP)
                serials: dict[tuple[tuple[str, str], ...], float] = {}
                for _ in range(120):
                    serials = samples((await client.get("/metrics")).text, "semdns_zone_serial")
                    if len(serials) == 2 and set(serials.values()) == {2.0}:
                        break
                    await asyncio.sleep(0.5)
                done.set()
                await asyncio.gather(*loops)
                assert statuses and set(statuses) == {200}, f"{len(statuses)} requests: {set(statuses)}"
                assert serials == {
                    (("worker", "0"), ("zone", ".")): 2.0,
                    (("worker", "1"), ("zone", ".")): 2.0,
                }
                for _ in range(4):
                    reply = await client.post("/v1/chat/completions", content=body)
                    assert "b" in reply.json()["choices"][0]["message"]["content"]
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 30)
        assert code == 0


async def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    async with backends("a") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(1, be["a"], be["a"]), encoding="utf-8")
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src"), "HF_HUB_OFFLINE": "1"}
        command = [
            sys.executable, "-m", "semdns.cli", "serve", "--zone", str(zone), "--port", str(port),
            "--workers", "2", "--no-probes", "--lazy-local", "--log-level", "warning",
        ]  # fmt: skip
        proc = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        children: list[int] = []
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
                for _ in range(240):
                    try:
                        up = samples((await client.get("/metrics")).text, "semdns_workers_up")
                    except httpx.TransportError:
                        up = {}
                    if len(up) == 2 and all(v == 1.0 for v in up.values()):
                        break
                    await asyncio.sleep(0.5)
            children = [
                int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            ]
            assert len(children) == 2
        finally:
            proc.kill()  # SIGKILL: the supervisor cannot stop its workers itself
            await asyncio.to_thread(proc.wait, 10)
        for _ in range(100):
            if not any(Path(f"/proc/{pid}").exists() for pid in children):
                break
            await asyncio.sleep(0.2)
        alive = [pid for pid in children if Path(f"/proc/{pid}").exists()]
        for pid in alive:  # do not leave a server behind if the test fails
            os.kill(pid, signal.SIGKILL)
        assert not alive, "workers outlived their supervisor"


def test_bad_workers_values() -> None:
    runner = CliRunner()
    for value in ("0", "-1", "many"):
        result = runner.invoke(serve_cli(), ["serve", "--workers", value])
        assert result.exit_code == 2, result.output
        assert "--workers" in result.output and "auto" in result.output
    assert parse_workers("auto") >= 1 and parse_workers(" 3 ") == 3


def test_a_port_taken_by_another_process_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(serve_cli(), ["serve", "--workers", "2", "--port", str(port)])
    assert result.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in result.output


def test_worker_argv_drops_only_workers() -> None:
    argv = ["semdns", "serve", "--zone", "z.yaml", "--workers", "2", "--port", "9", "--workers=3", "--watch"]
    assert worker_argv(argv)[1:] == [
        "-m",
        "semdns.cli",
        "serve",
        "--zone",
        "z.yaml",
        "--port",
        "9",
        "--watch",
    ]


def test_merge_labels_every_worker_and_reports_the_silent_one() -> None:
    one = b'# HELP x_total things\n# TYPE x_total counter\nx_total{name="a"} 3.0\n'
    two = b'# HELP x_total things\n# TYPE x_total counter\nx_total{name="a"} 4.0\n'
    text = merge({"0": one, "1": two, "2": None}).decode()
    assert samples(text, "x_total") == {
        (("name", "a"), ("worker", "0")): 3.0,
        (("name", "a"), ("worker", "1")): 4.0,
    }
    assert samples(text, "semdns_workers_up") == {
        (("worker", "0"),): 1.0,
        (("worker", "1"),): 1.0,
        (("worker", "2"),): 0.0,
    }
    assert text.count("# TYPE x_total counter") == 1


def test_each_worker_gets_its_share_of_the_cores_for_model_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semdns.gateway.workers import worker_environment
    from semdns.model_workers import WORKERS_ENV, available_cores

    monkeypatch.delenv(WORKERS_ENV, raising=False)
    cores = available_cores()
    env = worker_environment(tmp_path, 1, cores * 2)
    assert env[WORKERS_ENV] == "1" and env["SEMDNS_WORKER_INDEX"] == "1"
    assert worker_environment(tmp_path, 0, 1)[WORKERS_ENV] == str(cores)
    monkeypatch.setenv(WORKERS_ENV, "5")  # the operator's setting wins
    assert worker_environment(tmp_path, 0, 2)[WORKERS_ENV] == "5"


def test_each_model_worker_of_a_group_runs_one_intra_op_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semdns.gateway.workers import worker_environment
    from semdns.model_workers import ENCODER_THREADS_ENV

    monkeypatch.delenv(ENCODER_THREADS_ENV, raising=False)
    assert worker_environment(tmp_path, 0, 2)[ENCODER_THREADS_ENV] == "1"
    monkeypatch.setenv(ENCODER_THREADS_ENV, "3")  # the operator's setting wins
    assert worker_environment(tmp_path, 0, 2)[ENCODER_THREADS_ENV] == "3"
