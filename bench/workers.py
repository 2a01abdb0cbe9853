"""Throughput with ``semdns serve --workers N``: the same gateway with 1 and with N workers, explicit
name, zero-latency fake backend, the load generator of bench/gateway.py at high concurrency.

Every connection is opened once and kept alive, so the kernel's SO_REUSEPORT spreads the *connections*
over the workers. Rounds alternate the two gateways. Printed with the figures: the CPU seconds each
side used per round (gateway workers, backend, and this load generator itself), because on a small
machine the load generator and the backend compete with the workers for the same cores.

    python bench/workers.py [--workers 2] [--requests 6000] [--rounds 2] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
from pathlib import Path

from gateway import _cpu_seconds, _group_cpu, _load, _merge, _processes, _request


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _bench(
    args: argparse.Namespace, gateways: dict[str, tuple[int, int, int]], backend_pids: dict[str, int]
) -> dict[str, object]:
    message = {"role": "user", "content": "please benchmark the gateway"}
    body = json.dumps({"model": "bench", "messages": [message]}).encode()
    rows = []
    for c in args.concurrency:
        total = max(args.requests, 100 * c)
        runs: dict[str, list[dict[str, float]]] = {k: [] for k in gateways}
        cpu: dict[str, dict[str, float]] = {
            k: {"gateway": 0.0, "backend": 0.0, "load_generator": 0.0} for k in gateways
        }
        for _, port, _ in gateways.values():
            await _load(port, _request(port, "/v1/chat/completions", body), c, 400)  # warm-up
        for _ in range(args.rounds):
            for name, (_, port, pid) in gateways.items():
                backend_pid = backend_pids[name]
                g0, b0, l0 = _group_cpu(pid), _cpu_seconds(backend_pid), _own_cpu()
                runs[name].append(await _load(port, _request(port, "/v1/chat/completions", body), c, total))
                cpu[name]["gateway"] += _group_cpu(pid) - g0
                cpu[name]["backend"] += _cpu_seconds(backend_pid) - b0
                cpu[name]["load_generator"] += _own_cpu() - l0
        row: dict[str, object] = {"concurrency": c}
        for name, r in runs.items():
            merged: dict[str, object] = dict(_merge(r))
            seconds = sum(x["requests"] / x["rps"] for x in r)
            merged["cpu_cores_busy"] = {k: round(v / seconds, 2) for k, v in cpu[name].items()}
            row[name] = merged
        first, second = list(gateways)
        row["throughput_ratio"] = round(float(row[second]["rps"]) / float(row[first]["rps"]), 3)  # type: ignore[index]
        rows.append(row)
    return {
        "benchmark": "semdns serve --workers: 1 vs N, explicit name, zero-latency backend, keep-alive",
        "cpus": os.cpu_count(),
        "load_average_at_end": list(os.getloadavg()),
        "rounds": args.rounds,
        "results": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=6000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32])
    args = parser.parse_args()
    one, many = "workers_1", f"workers_{args.workers}"
    with tempfile.TemporaryDirectory() as tmp:
        for name in (one, many):
            (Path(tmp) / name).mkdir()
        pids: dict[str, dict[str, int]] = {one: {}, many: {}}
        with (
            _processes(Path(tmp) / one, pids=pids[one]) as single,
            _processes(
                Path(tmp) / many, serve_args=("--workers", str(args.workers)), pids=pids[many]
            ) as group,
        ):
            backends = {name: p["backend"] for name, p in pids.items()}
            print(json.dumps(asyncio.run(_bench(args, {one: single, many: group}, backends)), indent=2))


if __name__ == "__main__":
    main()
