"""Simulator speed: simulated requests per second of wall time at G = 1024, per topology.

Each topology runs the default config (calibrated by the sample resolver JSON, failures on) at
G = 1024 with ``--requests`` requests, ``--repeats`` times; the best wall time is reported, together
with the whole run's wall time (workload, cache, routing, engines and metrics included) and the
machine. Prints one JSON object.

    .venv/bin/python bench/simulate.py [--requests 200000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from semdns.sim import parse_config, simulate
from semdns.sim.calibration import stage_model

HERE = Path(__file__).parent
SAMPLE = HERE.parent / "examples" / "sim" / "resolve-sample.json"
GOAL = 50_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--engines", type=int, default=1024)
    args = ap.parse_args()
    cfg = parse_config(
        {
            "seed": 1,
            "requests": {"count": args.requests, "rate_per_engine_s": 2.0},
            "resolver": {"calibration": str(SAMPLE)},
            "failures": {"enabled": True, "mtbf_s": 3600, "mttr_s": 60},
        }
    )
    stages = stage_model(cfg.resolver)
    runs = {}
    for kind in ("hierarchical", "flat", "flat_poll", "all_to_all"):
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            r = simulate(cfg, kind, args.engines, stages)
            best = min(best, time.perf_counter() - t0)
        runs[kind] = {
            "wall_s": round(best, 3),
            "simulated_requests_per_wall_s": round(args.requests / best),
            "simulated_seconds": round(args.requests / r.offered_rps, 1),
            "messages_per_query": r.messages_per_query,
            "routing_p50_ms": round(r.routing_p50_ms, 3),
            "ttft_p99_ms": round(r.ttft_p99_ms, 1),
        }
    worst = min(v["simulated_requests_per_wall_s"] for v in runs.values())
    print(
        json.dumps(
            {
                "engines": args.engines,
                "requests": args.requests,
                "repeats": args.repeats,
                "goal_requests_per_wall_s": GOAL,
                "slowest_topology_requests_per_wall_s": worst,
                "meets_goal": worst >= GOAL,
                "topologies": runs,
                "python": sys.version.split()[0],
                "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
