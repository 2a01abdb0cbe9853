"""Gateway overhead: the fake OpenAI backend at zero latency, called directly and through semdns.

Three processes: the fake backend (uvicorn; its bodies shaped like a real OpenAI server's, see
``bench/_openai_shaped.py``, or ``--backend minimal`` for ``semdns.testing.FakeOpenAI``'s), ``semdns
serve`` in front of it (exactly as a user runs it, from a zone file), and this load generator. The load
generator is a minimal keep-alive HTTP/1.1 client on raw asyncio streams, so that its own cost is small
and identical for both targets; each concurrency level alternates direct and gateway rounds, so drift on
a shared machine hits both alike.

Prints JSON: per concurrency (1, 8, 32), p50/p99 latency and throughput of both, the latency the gateway
adds (p50/p99, ms) and throughput as a ratio to direct in the same run. The gateway requests name their
target explicitly (``model: bench``) to measure the gateway itself; an extra c=1 row with ``model:
auto`` adds resolution (a repeated query: a decision-cache hit). Streamed rows (c=1, 8 and 32 by
default) give the time to the first token (the first chunk carrying an SSE event) direct and through the
gateway, streams per second and the gateway's CPU time per stream (``--tokens`` content events each, 16
by default).

    python bench/gateway.py [--requests 3000] [--rounds 2] [--concurrency 1 8 32]
        [--stream-concurrency 1 8 32] [--backend openai-shaped|minimal] [--tokens 16]

``--auto-unique N`` measures instead semantic routing at line rate: ``semdns serve`` on the shipped
namespace (every name's engine pointed at the fake backend), ``model: "auto"``, default temperature (no
response cache), and every request a different public prompt (the corpora's evaluation splits), so the
decision cache cannot help: N requests per concurrency level (1, 8, 32), with the shipped zones (lexical
pass, then shallow pass) and with both removed (the full path: every prompt through MiniLM), gateway CPU
per request included.

    python bench/gateway.py --auto-unique 2000 [--serve-workers N] [--load-generator wrk [--wrk-seconds 3]]
        [--corpus FILE]   # a JSON-lines corpus's prompts (your own traffic) instead of the evaluation mix

Every row states the load generator's own CPU (``load_generator_cpu_cores``): on 2 cores the Python
client takes about half a core from the gateway at these rates. ``--load-generator wrk`` drives the
levels with wrk instead (one C thread, ``bench/wrk/unique_bodies.lua``: each request the next unique
prompt), for a fixed time a level over up to N prompts.

``--serve-workers N`` runs ``semdns serve --workers N`` (N processes on one port, each with its share
of the cores for its model workers); the gateway CPU then counts every worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from _common import machine_speed, traffic

GOAL_ADDED_P50_MS = 0.5
STREAM_GOALS_MS = {1: 1.0, 32: 5.0}
"""Issue 13's targets for the first token's added delay (p50), by concurrency."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(port: int, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _one_connection(
    port: int, payloads: Iterator[bytes], latencies: list[float], start: asyncio.Event
) -> None:
    """One keep-alive connection sending ``payloads`` one after another (an iterator the connections
    of one run may share), recording each request's latency."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await start.wait()
    try:
        for payload in payloads:
            t0 = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _one_stream_connection(
    port: int, payload: bytes, count: int, first: list[float], start: asyncio.Event
) -> None:
    """Like :func:`_one_connection` for SSE answers (chunked): records the time to the first chunk
    that carries an event (the first token), then reads the stream to its end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    await start.wait()
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            if int(head[9:12]) != 200 or b"chunked" not in head.lower():
                raise RuntimeError(f"not a chunked 200 stream: {head[:200]!r}")
            seen = False
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                if not seen and b"data:" in chunk:
                    first.append(time.perf_counter() - t0)
                    seen = True
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _load_streams(port: int, payload: bytes, concurrency: int, total: int) -> dict[str, float]:
    """Time to first token under load: p50/p99 in ms, streams per second."""
    first: list[float] = []
    start = asyncio.Event()
    per = max(1, total // concurrency)
    tasks = [
        asyncio.create_task(_one_stream_connection(port, payload, per, first, start))
        for _ in range(concurrency)
    ]
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    first.sort()
    return {
        "requests": len(first),
        "p50_ms": first[len(first) // 2] * 1e3,
        "p99_ms": first[min(len(first) - 1, int(len(first) * 0.99))] * 1e3,
        "rps": len(first) / elapsed,
    }


async def _load(port: int, payload: bytes, concurrency: int, total: int) -> dict[str, float]:
    """``total`` copies of ``payload`` over ``concurrency`` keep-alive connections."""
    per = max(1, total // concurrency)
    return await _load_unique(port, [payload] * (per * concurrency), concurrency)


async def _load_unique(port: int, payloads: list[bytes], concurrency: int) -> dict[str, float]:
    """Like :func:`_load`, each request a different payload (taken in turn by the connections)."""
    latencies: list[float] = []
    start = asyncio.Event()
    shared = iter(payloads)
    tasks = [asyncio.create_task(_one_connection(port, shared, latencies, start)) for _ in range(concurrency)]
    await asyncio.sleep(0.05)
    t0 = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000, 3),
        "rps": round(len(latencies) / elapsed, 1),
    }


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk" / "unique_bodies.lua"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk_unique(port: int, prompts: list[str], concurrency: int, seconds: float) -> dict[str, object]:
    """``concurrency`` connections of wrk (one thread, C) for ``seconds``, each request the next of
    ``prompts`` as a ``model: auto`` chat request: a load generator that costs the machine far less
    CPU than the gateway it loads. Also its own CPU, in cores."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8") as bodies:
        for text in prompts:
            bodies.write(
                json.dumps({"model": "auto", "messages": [{"role": "user", "content": text}]}) + "\n"
            )
        bodies.flush()
        cpu0 = _children_cpu()
        run = subprocess.run(
            ["wrk", "-t1", f"-c{concurrency}", f"-d{round(seconds)}s", "--latency", "-s", str(WRK_SCRIPT),
             f"http://127.0.0.1:{port}", bodies.name],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        )  # fmt: skip
        cpu = _children_cpu() - cpu0
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    elapsed = summary["duration_us"] / 1e6
    if "out of unique bodies" in run.stderr or summary["requests"] + concurrency >= len(prompts):
        raise SystemExit(
            f"wrk ran out of unique prompts at c={concurrency} ({len(prompts)} for {seconds:g} s): "
            "shorten --wrk-seconds or raise --auto-unique"
        )
    return {
        "requests": summary["requests"],
        "p50_ms": round(summary["p50_us"] / 1000, 3),
        "p99_ms": round(summary["p99_us"] / 1000, 3),
        "rps": round(summary["requests"] / elapsed, 1),
        "errors": summary["non_2xx"] + summary["socket_errors"],
        "load_generator_cpu_cores": round(cpu / elapsed, 2),
    }


def run_prompts(corpus: Path | None, needed: int) -> list[str]:
    """The ``needed`` unique prompts of an ``--auto-unique`` run, read once: the evaluation mix, or
    ``--corpus``'s. Every level and the warm-up take fresh ones, so a corpus too small for the levels
    asked stops the run and says how many it needs."""
    prompts = traffic(needed, corpus)
    if corpus is not None and len(prompts) < needed:
        raise SystemExit(
            f"--corpus {corpus}: {len(prompts)} unique prompts, the run needs {needed} "
            "(every level and the warm-up take fresh ones): lower --auto-unique"
        )
    return prompts


async def _auto_unique(
    gateway_port: int, gateway_pid: int, count: int, prompts: list[str]
) -> list[dict[str, object]]:
    """Each concurrency level over fresh prompts (``count`` each from ``prompts``, in order); the
    gateway's CPU counts its worker processes too."""
    rows = []
    for index, c in enumerate((1, 8, 32)):
        # Fresh prompts for each level (and for the warm-up), so nothing repeats in one process.
        chunk = prompts[index * count : (index + 1) * count]
        payloads = [
            _request(
                gateway_port,
                "/v1/chat/completions",
                json.dumps({"model": "auto", "messages": [{"role": "user", "content": p}]}).encode(),
            )
            for p in chunk
        ]
        before, client_before = _group_cpu(gateway_pid), time.process_time()
        result: dict[str, object] = {"concurrency": c, **await _load_unique(gateway_port, payloads, c)}
        elapsed = len(payloads) / float(result["rps"])  # type: ignore[arg-type]
        result["gateway_cpu_cores"] = round((_group_cpu(gateway_pid) - before) / elapsed, 2)
        result["load_generator_cpu_cores"] = round((time.process_time() - client_before) / elapsed, 2)
        rows.append(result)
    return rows


def _auto_unique_wrk(
    gateway_port: int, gateway_pid: int, count: int, seconds: float, prompts: list[str]
) -> list[dict[str, object]]:
    """:func:`_auto_unique` with wrk as the load generator: each level runs for ``seconds`` over its
    own slice of ``prompts`` (``count`` of them at most), so nothing repeats in one process."""
    rows: list[dict[str, object]] = []
    for index, c in enumerate((1, 8, 32)):
        chunk = prompts[index * count : (index + 1) * count]
        before = _group_cpu(gateway_pid)
        result: dict[str, object] = {"concurrency": c, **_wrk_unique(gateway_port, chunk, c, seconds)}
        elapsed = int(result["requests"]) / float(result["rps"])  # type: ignore[call-overload]
        result["gateway_cpu_cores"] = round((_group_cpu(gateway_pid) - before) / elapsed, 2)
        rows.append(result)
    return rows


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), or NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _group_cpu(pid: int) -> float:
    """CPU seconds of a gateway: the process and its workers (Linux /proc)."""
    return _cpu_seconds(pid) + sum(_cpu_seconds(c) for c in _children(pid))


def _merge(runs: list[dict[str, float]]) -> dict[str, float]:
    """Rounds combined: medians of the per-round figures (robust to one disturbed round)."""
    return {
        "requests": sum(r["requests"] for r in runs),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 4),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 4),
        "rps": round(statistics.median(r["rps"] for r in runs), 1),
    }


def _bench_zone(workdir: Path, backend_port: int) -> list[Path]:
    """Two names, ``.`` and ``bench.``, both served by the fake backend."""
    zone = workdir / "bench-zone.yaml"
    engine = f'[{{kind: openai, url: "http://127.0.0.1:{backend_port}/v1", model: fake}}]'
    zone.write_text(
        "origin: .\nnodes:\n"
        f'  "@":\n    description: general\n    engines: {engine}\n'
        "  bench:\n    description: benchmarking questions\n    keywords: [benchmark]\n"
        f'    examples: ["run the benchmark", "benchmark this"]\n    engines: {engine}\n',
        encoding="utf-8",
    )
    return [zone]


def _shipped_zones(workdir: Path, backend_port: int, *, lexical: bool = True) -> list[Path]:
    """The shipped namespace with every engine replaced by the fake backend (``lexical=False``: the
    lexical and shallow stages removed from every policy, so every prompt takes the full path)."""
    import yaml

    from semdns.zone.loader import default_zone_paths

    out = []
    for path in default_zone_paths():
        zone = yaml.safe_load(path.read_text(encoding="utf-8"))
        for node in zone.get("nodes", {}).values():
            if isinstance(node, dict) and "engines" in node:
                node["engines"] = [
                    {"kind": "openai", "url": f"http://127.0.0.1:{backend_port}/v1", "model": "fake"}
                ]
        policy = zone.get("policy") or {}
        if not lexical and "stages" in policy:
            policy["stages"] = [s for s in policy["stages"] if s not in ("lexical", "shallow")]
        target = workdir / f"{'lexical' if lexical else 'full'}-{path.name}"
        target.write_text(yaml.safe_dump(zone, sort_keys=False), encoding="utf-8")
        out.append(target)
    return out


@contextlib.contextmanager
def _processes(
    workdir: Path,
    *,
    serve_args: tuple[str, ...] = (),
    env_extra: dict[str, str] | None = None,
    pids: dict[str, int] | None = None,
    zones: Callable[[Path, int], list[Path]] = _bench_zone,
    backend: str = "openai-shaped",
    tokens: int = 16,
) -> Iterator[tuple[int, int, int]]:
    """The fake backend and ``semdns serve`` (with ``serve_args``, and ``env_extra`` in its
    environment; ``pids`` receives both pids: bench/tracing.py and bench/workers.py reuse this) over
    the zone files ``zones(workdir, backend_port)`` writes. The backend answers with bodies shaped
    like a real OpenAI server's (``bench/_openai_shaped.py``, ``tokens`` events a stream) or, with
    ``backend="minimal"``, ``semdns.testing.FakeOpenAI``'s smallest valid ones."""
    backend_port, gateway_port = _free_port(), _free_port()
    zone_args = [arg for path in zones(workdir, backend_port) for arg in ("--zone", str(path))]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SEMDNS_CACHE_DIR": str(workdir / "cache")}
    if backend == "minimal":
        backend_cmd = [
            sys.executable,
            "-c",
            "import uvicorn; from semdns.testing import FakeOpenAI; "
            f"uvicorn.run(FakeOpenAI('fake'), host='127.0.0.1', port={backend_port}, log_level='warning', "
            "access_log=False, loop='auto', http='auto')",
        ]
    else:
        backend_cmd = [
            sys.executable, str(Path(__file__).resolve().parent / "_openai_shaped.py"),
            "--port", str(backend_port), "--tokens", str(tokens),
        ]  # fmt: skip
    backend = subprocess.Popen(backend_cmd, env=env)
    gateway = subprocess.Popen(
        [
            sys.executable, "-m", "semdns.cli", "serve", *zone_args, "--port", str(gateway_port),
            "--no-probes", "--lazy-local", "--log-level", "warning", *serve_args,
        ],
        env={**env, **(env_extra or {})},
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    if pids is not None:
        pids.update(backend=backend.pid, gateway=gateway.pid)
    try:
        _wait_ready(backend_port, "/v1/models")
        _wait_ready(gateway_port, "/readyz")
        yield backend_port, gateway_port, gateway.pid
    finally:
        for proc in (gateway, backend):
            proc.terminate()
        for proc in (gateway, backend):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_ready(port: int, path: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing ready on port {port} after 300 s")


async def _bench(
    args: argparse.Namespace, backend_port: int, gateway_port: int, gateway_pid: int
) -> dict[str, object]:
    speed_before = machine_speed()
    message = {"role": "user", "content": "please benchmark the gateway"}
    direct = _request(
        backend_port, "/v1/chat/completions", json.dumps({"model": "fake", "messages": [message]}).encode()
    )
    via = _request(
        gateway_port, "/v1/chat/completions", json.dumps({"model": "bench", "messages": [message]}).encode()
    )
    auto = _request(
        gateway_port, "/v1/chat/completions", json.dumps({"model": "auto", "messages": [message]}).encode()
    )
    for port, payload in ((backend_port, direct), (gateway_port, via), (gateway_port, auto)):
        await _load(port, payload, 4, 400)  # warm-up: connections, caches, the resolver's decision
    rows = []
    for c in args.concurrency:
        total = max(args.requests, 200 * c) if c > 1 else args.requests
        runs_direct, runs_via = [], []
        cpu = 0.0
        for _ in range(args.rounds):
            runs_direct.append(await _load(backend_port, direct, c, total))
            before = _group_cpu(gateway_pid)
            runs_via.append(await _load(gateway_port, via, c, total))
            cpu += _cpu_seconds(gateway_pid) - before
        d, v = _merge(runs_direct), _merge(runs_via)
        v["gateway_cpu_us_per_request"] = round(cpu / v["requests"] * 1e6, 1)
        rows.append(
            {
                "concurrency": c,
                "direct": d,
                "semdns": v,
                "added_p50_ms": round(v["p50_ms"] - d["p50_ms"], 4),
                "added_p99_ms": round(v["p99_ms"] - d["p99_ms"], 4),
                "throughput_ratio": round(v["rps"] / d["rps"], 3),
            }
        )
    streams = []
    if args.stream_concurrency:
        warm = _request(
            gateway_port,
            "/v1/chat/completions",
            json.dumps({"model": "bench", "stream": True, "messages": [message]}).encode(),
        )
        await _load_streams(gateway_port, warm, 4, 200)  # warm-up of the streamed path
    for c in args.stream_concurrency:
        direct_s = _request(
            backend_port,
            "/v1/chat/completions",
            json.dumps({"model": "fake", "stream": True, "messages": [message]}).encode(),
        )
        via_s = _request(
            gateway_port,
            "/v1/chat/completions",
            json.dumps({"model": "bench", "stream": True, "messages": [message]}).encode(),
        )
        total = max(args.requests // 3, 50 * c)
        sd, sv = [], []
        cpu = 0.0
        for _ in range(args.rounds):
            sd.append(await _load_streams(backend_port, direct_s, c, total))
            before = _group_cpu(gateway_pid)
            sv.append(await _load_streams(gateway_port, via_s, c, total))
            cpu += _cpu_seconds(gateway_pid) - before
        d, v = _merge(sd), _merge(sv)
        v["gateway_cpu_us_per_stream"] = round(cpu / v["requests"] * 1e6, 1)
        streams.append(
            {
                "concurrency": c,
                "direct_first_token": d,
                "semdns_first_token": v,
                "added_first_token_p50_ms": round(v["p50_ms"] - d["p50_ms"], 4),
                "added_first_token_p99_ms": round(v["p99_ms"] - d["p99_ms"], 4),
                "streams_per_s_ratio": round(v["rps"] / d["rps"], 3),
            }
        )
    runs_auto = [await _load(gateway_port, auto, 1, args.requests) for _ in range(args.rounds)]
    a = _merge(runs_auto)
    d1 = rows[0]["direct"] if rows and rows[0]["concurrency"] == 1 else None
    auto_row: dict[str, object] = {"concurrency": 1, "model": "auto (decision-cache hit)", "semdns": a}
    if isinstance(d1, dict):
        auto_row["added_p50_ms"] = round(a["p50_ms"] - d1["p50_ms"], 4)
    c1 = next((r for r in rows if r["concurrency"] == 1), None)
    return {
        "benchmark": "gateway overhead: fake OpenAI backend at zero latency, direct vs through semdns serve",
        "backend": args.backend,
        "stream_tokens": args.tokens,
        "load_average_at_end": list(os.getloadavg()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "machine_speed_s": {"before": speed_before, "after": machine_speed()},
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "results": rows,
        "streams": streams,
        "stream_goal_added_first_token_p50_ms": STREAM_GOALS_MS,
        "stream_goal_met": _stream_goals(streams),
        "auto": auto_row,
        "goal_added_p50_ms_at_c1": GOAL_ADDED_P50_MS,
        "goal_met": bool(c1 and float(c1["added_p50_ms"]) <= GOAL_ADDED_P50_MS),  # type: ignore[arg-type]
    }


def _stream_goals(streams: list[dict[str, object]]) -> dict[str, bool]:
    """Whether each streamed row with a target met it (added first-token p50)."""
    met = {}
    for row in streams:
        c, added = row["concurrency"], row["added_first_token_p50_ms"]
        if isinstance(c, int) and isinstance(added, float) and c in STREAM_GOALS_MS:
            met[str(c)] = added <= STREAM_GOALS_MS[c]
    return met


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=3000, help="requests per round at c=1 (more at higher c)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--stream-concurrency", type=int, nargs="*", default=[1, 8, 32], help="streamed rows (first token)"
    )
    parser.add_argument(
        "--auto-unique", type=int, default=0, metavar="N", help="model auto, N unique prompts per level"
    )
    parser.add_argument(
        "--backend",
        choices=["openai-shaped", "minimal"],
        default="openai-shaped",
        help="bodies shaped like a real OpenAI server's (default) or FakeOpenAI's smallest valid ones",
    )
    parser.add_argument("--tokens", type=int, default=16, help="content events per streamed answer")
    parser.add_argument(
        "--serve-workers",
        type=int,
        default=1,
        metavar="N",
        help="with --auto-unique: semdns serve --workers N",
    )
    parser.add_argument(
        "--load-generator",
        choices=["python", "wrk"],
        default="python",
        help="with --auto-unique: this process's asyncio client (default) or wrk (C; Debian's package)",
    )
    parser.add_argument(
        "--wrk-seconds", type=int, default=3, help="with --load-generator wrk: seconds a level"
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        help="with --auto-unique: a JSON-lines corpus's prompts ('query') instead of the evaluation mix",
    )
    args = parser.parse_args()
    if args.corpus and not args.auto_unique:
        parser.error("--corpus goes with --auto-unique N (the explicit runs send one fixed prompt)")
    if args.auto_unique:
        wrk_seconds = 0.0
        if args.load_generator == "wrk":
            if shutil.which("wrk") is None:
                raise SystemExit("--load-generator wrk: wrk is not installed (Debian: apt-get install wrk)")
            wrk_seconds = args.wrk_seconds
        result = _auto_main(args.auto_unique, args.serve_workers, wrk_seconds, args.corpus)
        print(json.dumps(result, indent=2))
        return
    with (
        tempfile.TemporaryDirectory() as tmp,
        _processes(Path(tmp), backend=args.backend, tokens=args.tokens) as (backend_port, gateway_port, pid),
    ):
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        result = runner(_bench(args, backend_port, gateway_port, pid))
    print(json.dumps(result, indent=2))


def _auto_main(
    count: int, serve_workers: int = 1, wrk_seconds: float = 0.0, corpus: Path | None = None
) -> dict[str, object]:
    from semdns.resolve.encoder import cache_dir

    # The levels' prompts, then the warm-up's 100: read once, and a corpus too small stops the run now.
    prompts = run_prompts(corpus, count * (3 if wrk_seconds else 4) + 100)
    speed = {"before": machine_speed()}
    out: dict[str, object] = {
        "benchmark": "model auto on unique public prompts through semdns serve (fake backend, zero latency)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "machine_speed_s": speed,
        "requests_per_level": count,
        "prompts": str(corpus) if corpus else "the evaluation splits' mix (bench/_common.public_prompts)",
        "serve_workers": serve_workers,
        "load_generator": f"wrk, {wrk_seconds:g} s a level"
        if wrk_seconds
        else "this process (asyncio streams)",
    }
    variants = (
        ("shipped (lexical, then shallow pass)", True),
        ("full path (no lexical or shallow stage)", False),
    )
    for label, lexical in variants:

        def zones(workdir: Path, port: int, lexical: bool = lexical) -> list[Path]:
            return _shipped_zones(workdir, port, lexical=lexical)

        with (
            tempfile.TemporaryDirectory() as tmp,
            # the user's cache: the namespace's example embeddings and the token table, computed once
            _processes(
                Path(tmp),
                zones=zones,
                env_extra={"SEMDNS_CACHE_DIR": str(cache_dir())},
                serve_args=("--workers", str(serve_workers)) if serve_workers > 1 else (),
            ) as (
                _,
                gateway_port,
                pid,
            ),
        ):
            warm = [
                _request(gateway_port, "/v1/chat/completions", json.dumps(
                    {"model": "auto", "messages": [{"role": "user", "content": p}]}).encode())
                for p in prompts[-100:]
            ]  # fmt: skip
            asyncio.run(_load_unique(gateway_port, warm, 4))
            out[label] = (
                _auto_unique_wrk(gateway_port, pid, count, wrk_seconds, prompts)
                if wrk_seconds
                else asyncio.run(_auto_unique(gateway_port, pid, count, prompts))
            )
    out["load_average_at_end"] = list(os.getloadavg())
    speed["after"] = machine_speed()
    return out


if __name__ == "__main__":
    main()
