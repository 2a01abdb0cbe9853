"""Streamed vs buffered cross-domain answers: time to the first byte and to the last, one JSON object.

    python bench/fanout_stream.py [--requests 5] [--fast 0.2] [--slow 1.0]

Two fake OpenAI servers on 127.0.0.1 (semdns.testing) answer the two names of a cross-domain
decision, one after ``--fast`` seconds and one after ``--slow``. The same request is sent through a
real gateway with ``stream: false`` (one answer after the slowest part: the specification's
``max(engine latencies)``, AGG-3) and ``stream: true`` (each part as it arrives). Medians of
``--requests`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).parent))

import httpx  # noqa: E402
import yaml  # noqa: E402

from _common import emit  # noqa: E402
from semdns.gateway import GatewaySettings, Runtime, create_app  # noqa: E402
from semdns.names import Name  # noqa: E402
from semdns.resolve.decision import Answer, LevelTrace, RoutingDecision  # noqa: E402
from semdns.testing import FakeOpenAI, serve_app  # noqa: E402
from semdns.zone import load_zone_files  # noqa: E402


class TwoNames:
    """Every query is cross-domain: legal. and medical. (the resolver is not what is measured)."""

    async def aresolve(self, query: str, context: str | None = None) -> RoutingDecision:
        names = (Name.parse("legal."), Name.parse("medical."))
        answers = tuple(Answer(n, str(n.to_dn()), 0.9) for n in names)
        trace = (LevelTrace(Name.parse("."), "keyword", names, (), ("keyword",), 0.1),)
        return RoutingDecision(query, answers, trace, 0.9, "keyword", 60, "miss", 0.1)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    legal, medical = FakeOpenAI("legal"), FakeOpenAI("medical")
    legal.behaviour.latency_s, medical.behaviour.latency_s = args.fast, args.slow
    async with serve_app(legal) as a, serve_app(medical) as b, serve_app(FakeOpenAI("root")) as c:
        zone = {
            "origin": ".",
            "nodes": {
                "@": {"engines": [{"kind": "openai", "url": f"{c.url}/v1", "model": "root"}]},
                "legal": {"engines": [{"kind": "openai", "url": f"{a.url}/v1", "model": "legal"}]},
                "medical": {"engines": [{"kind": "openai", "url": f"{b.url}/v1", "model": "medical"}]},
            },
        }
        path = Path(tempfile.mkdtemp()) / "zone.yaml"
        path.write_text(yaml.safe_dump(zone), encoding="utf-8")
        settings = GatewaySettings(probes=False, warm_local=False, response_cache=False)
        runtime = Runtime.build(load_zone_files([path]), TwoNames(), settings)
        results: dict[str, dict[str, list[float]]] = {}
        async with (
            serve_app(create_app(runtime)) as gw,
            httpx.AsyncClient(base_url=gw.url, timeout=60, trust_env=False) as client,
        ):
            for stream in (False, True):
                key = "streamed" if stream else "buffered"
                stats = results.setdefault(key, {"first_byte_s": [], "last_byte_s": []})
                for i in range(args.requests):
                    body = {"messages": [{"role": "user", "content": f"question {i}"}], "stream": stream}
                    started = time.perf_counter()
                    first = None
                    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                        response.raise_for_status()
                        async for _ in response.aiter_bytes():
                            first = first or time.perf_counter() - started
                    stats["first_byte_s"].append(first or 0.0)
                    stats["last_byte_s"].append(time.perf_counter() - started)
        await runtime.aclose()
    return {
        "parts_latency_s": [args.fast, args.slow],
        "requests": args.requests,
        **{
            key: {name: round(statistics.median(values), 3) for name, values in stats.items()}
            for key, stats in results.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--fast", type=float, default=0.2)
    parser.add_argument("--slow", type=float, default=1.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    emit(asyncio.run(run(args)), args.out)


if __name__ == "__main__":
    main()
