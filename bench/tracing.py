"""The cost of tracing: ``semdns serve`` with OpenTelemetry on (exporting by OTLP/HTTP to a sink that
accepts and drops every batch) beside the same gateway with it off, against the zero-latency fake
backend, explicit name, same load generator as bench/gateway.py. Rounds alternate off and on, so
drift on a shared machine hits both alike.

Prints JSON: per concurrency, p50/p99 and req/s of both, the p50 tracing adds (ms), the throughput
ratio on/off, and the gateway's CPU per request in each mode.

    python bench/tracing.py [--requests 2000] [--rounds 2] [--concurrency 1 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from gateway import _cpu_seconds, _free_port, _load, _merge, _processes, _request, _wait_ready

_SINK = """
import uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    status = 200 if scope["path"] in ("/v1/traces", "/healthz") else 404
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/x-protobuf")]})
    await send({"type": "http.response.body", "body": b""})

uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False)
"""


@contextlib.contextmanager
def _sink() -> Iterator[int]:
    """An OTLP/HTTP receiver that drops what it is sent."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", _SINK.replace("PORT", str(port))])
    try:
        _wait_ready(port, "/healthz")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


async def _bench(
    args: argparse.Namespace, plain: tuple[int, int, int], traced: tuple[int, int, int]
) -> dict[str, object]:
    message = {"role": "user", "content": "please benchmark the gateway"}
    body = json.dumps({"model": "bench", "messages": [message]}).encode()
    targets = {"off": plain, "on": traced}
    payloads = {mode: _request(ports[1], "/v1/chat/completions", body) for mode, ports in targets.items()}
    for mode, (_, port, _) in targets.items():
        await _load(port, payloads[mode], 4, 400)  # warm-up
    rows = []
    for c in args.concurrency:
        total = max(args.requests, 200 * c) if c > 1 else args.requests
        runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
        cpu = {"off": 0.0, "on": 0.0}
        for _ in range(args.rounds):
            for mode, (_, port, pid) in targets.items():
                before = _cpu_seconds(pid)
                runs[mode].append(await _load(port, payloads[mode], c, total))
                cpu[mode] += _cpu_seconds(pid) - before
        merged = {mode: _merge(r) for mode, r in runs.items()}
        for mode, m in merged.items():
            m["gateway_cpu_us_per_request"] = round(cpu[mode] / m["requests"] * 1e6, 1)
        rows.append(
            {
                "concurrency": c,
                "tracing_off": merged["off"],
                "tracing_on": merged["on"],
                "added_p50_ms": round(merged["on"]["p50_ms"] - merged["off"]["p50_ms"], 4),
                "throughput_ratio_on_off": round(merged["on"]["rps"] / merged["off"]["rps"], 3),
            }
        )
    return {
        "benchmark": "tracing on (OTLP/HTTP to a dropping sink) vs off, explicit name, zero-latency backend",
        "cpus": os.cpu_count(),
        "load_average_at_end": list(os.getloadavg()),
        "rounds": args.rounds,
        "results": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per round at c=1")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("off", "on"):
            (Path(tmp) / mode).mkdir()
        _run(args, Path(tmp))


def _run(args: argparse.Namespace, tmp: Path) -> None:
    with (
        _sink() as sink_port,
        _processes(tmp / "off") as plain,
        _processes(
            tmp / "on", env_extra={"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"}
        ) as traced,
    ):
        print(json.dumps(asyncio.run(_bench(args, plain, traced)), indent=2))


if __name__ == "__main__":
    main()
