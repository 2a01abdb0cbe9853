"""The console's two targets, measured: first render of the namespace, and what the live feed costs.

1. **First render** (target <= 1 s on loopback): ``semdns serve`` on the default namespace; Chromium
   (Debian's, through Playwright) opens ``/ui/`` in a fresh context each time; the figure is the
   page's own mark, milliseconds from navigation start to the tree in the DOM
   (``document.body.dataset.treeRenderedMs``), so it includes the HTML, CSS, JS and the
   ``/ui/api/namespace`` round trip.
2. **Feed cost** (target: keeps up with 500 requests/s, gateway throughput down <= 5%): the gateway of
   ``bench/gateway.py`` (fake backend at zero latency, ``model: bench``), closed-loop load at a fixed
   concurrency; rounds come in adjacent pairs, *nobody watching* and *one console watching* (a viewer
   reading ``/ui/api/feed`` on its own connection), in alternating order, so that background load on a
   shared machine hits both halves of a pair alike. Reports throughput of each, the median of the pair
   ratios, the gateway's CPU per request, and the events the viewer received and the feed dropped.

    python bench/console.py [--renders 5] [--requests 2000] [--rounds 6] [--concurrency 32] [--out F]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit
from gateway import _cpu_seconds, _free_port, _load, _processes, _request, _wait_ready

CHROMIUM = os.environ.get("SEMDNS_CHROMIUM", "/usr/bin/chromium")

PATTERN = b"event: decision\n"


async def _watch(port: int, connected: asyncio.Event, seen: list[int]) -> None:
    """A console viewer on a raw socket, counting ``decision`` events until cancelled (a pattern split
    across two reads is counted once: the carried tail is shorter than the pattern)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /ui/api/feed HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the feed answered {head[:40]!r}")
    connected.set()
    tail = b""
    try:
        while chunk := await reader.read(65536):
            data = tail + chunk
            seen[0] += data.count(PATTERN)
            tail = data[-(len(PATTERN) - 1) :]
    finally:
        writer.close()


def _first_render(renders: int, workdir: Path) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SEMDNS_CACHE_DIR": str(workdir / "cache")}
    server = subprocess.Popen(
        [sys.executable, "-m", "semdns.cli", "serve", "--port", str(port), "--no-probes", "--lazy-local",
         "--log-level", "warning"],
        env=env,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_ready(port, "/readyz")
        marks: list[float] = []
        api: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            for _ in range(renders):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{port}/ui/")
                page.wait_for_selector("body[data-tree-rendered-ms]")
                marks.append(float(page.evaluate("document.body.dataset.treeRenderedMs")))
                context.close()
            browser.close()
        for _ in range(renders):
            t0 = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ui/api/namespace") as response:
                response.read()
            api.append((time.perf_counter() - t0) * 1000)
    finally:
        server.terminate()
        server.wait(10)
    return {
        "names": "the default namespace (27 names, 8 zones)",
        "renders": renders,
        "tree_rendered_ms": {"median": round(statistics.median(marks), 1), "max": round(max(marks), 1),
                             "all": [round(m, 1) for m in marks]},
        "namespace_api_ms": {"median": round(statistics.median(api), 2), "max": round(max(api), 2)},
        "goal_ms": 1000,
        "goal_met": max(marks) <= 1000,
    }  # fmt: skip


async def _round(
    port: int, payload: bytes, args: argparse.Namespace, pid: int, watched: bool
) -> dict[str, float]:
    """One load round, with or without a viewer subscribed; adds the gateway's CPU seconds and, when
    watched, the decision events the viewer received."""
    seen = [0]
    watcher = None
    if watched:
        connected = asyncio.Event()
        watcher = asyncio.create_task(_watch(port, connected, seen))
        await asyncio.wait_for(connected.wait(), 30)
        await asyncio.sleep(0.3)
    before = _cpu_seconds(pid)
    result = await _load(port, payload, args.concurrency, args.requests)
    result["cpu_s"] = _cpu_seconds(pid) - before
    if watcher is not None:
        await asyncio.sleep(0.6)  # the last events drain (the feed hands them over every 0.2 s)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        result["received"] = seen[0]
    return result


async def _rounds(args: argparse.Namespace, gateway_port: int, gateway_pid: int) -> dict[str, object]:
    message = {"role": "user", "content": "please benchmark the gateway"}
    payload = _request(
        gateway_port, "/v1/chat/completions", json.dumps({"model": "bench", "messages": [message]}).encode()
    )
    await _load(gateway_port, payload, 4, 400)  # warm-up
    quiet: list[dict[str, float]] = []
    watched: list[dict[str, float]] = []
    ratios = []
    for i in range(args.rounds):
        # adjacent pairs see the same background load; the order alternates to cancel drift
        order = (False, True) if i % 2 == 0 else (True, False)
        pair = {w: await _round(gateway_port, payload, args, gateway_pid, w) for w in order}
        quiet.append(pair[False])
        watched.append(pair[True])
        ratios.append(pair[True]["rps"] / pair[False]["rps"])
    with urllib.request.urlopen(f"http://127.0.0.1:{gateway_port}/ui/api/caches") as response:
        feed = json.loads(response.read())["feed"]
    served = [int(r["requests"]) for r in watched]
    received = [int(r["received"]) for r in watched]

    def cpu_us(runs: list[dict[str, float]]) -> float:
        return round(statistics.median(r["cpu_s"] / r["requests"] * 1e6 for r in runs), 1)

    median_ratio = statistics.median(ratios)
    return {
        "concurrency": args.concurrency,
        "requests_per_round": args.requests,
        "pairs": args.rounds,
        "rps_nobody_watching": round(statistics.median(r["rps"] for r in quiet), 1),
        "rps_one_viewer": round(statistics.median(r["rps"] for r in watched), 1),
        "pair_ratios": [round(r, 3) for r in ratios],
        "median_pair_ratio": round(median_ratio, 3),
        "p50_ms_nobody_watching": round(statistics.median(r["p50_ms"] for r in quiet), 3),
        "p50_ms_one_viewer": round(statistics.median(r["p50_ms"] for r in watched), 3),
        "gateway_cpu_us_per_request_nobody_watching": cpu_us(quiet),
        "gateway_cpu_us_per_request_one_viewer": cpu_us(watched),
        "requests_watched": served,
        "events_received": received,
        "feed": feed,
        "goal": "median pair ratio >= 0.95, every request reaches the viewer, at >= 500 requests/s",
        "goal_met": median_ratio >= 0.95
        and received == served
        and statistics.median(r["rps"] for r in watched) >= 500,
    }


def _hook_cost(iterations: int) -> dict[str, object]:
    """The feed's work per request, in process: the event built from a typical response's headers,
    serialised and queued for one viewer, then framed as SSE as the feed route does. A clean figure on
    a noisy machine (no sockets, no other process), to set against the gateway's CPU per request."""
    from starlette.requests import Request
    from starlette.responses import Response

    from semdns.gateway import GatewaySettings, Runtime
    from semdns.ui.events import decision_event
    from semdns.ui.feed import DecisionFeed
    from semdns.zone import load_default_tree

    class _Resolver:
        async def aresolve(self, query: str, context: str | None = None) -> object:
            raise NotImplementedError

    runtime = Runtime.build(load_default_tree(), _Resolver(), GatewaySettings(probes=False))  # type: ignore[arg-type]
    request = Request({"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []})
    headers = {
        "x-semdns-resolved": "contracts.legal.", "x-semdns-stage": "classifier",
        "x-semdns-confidence": "0.9975", "x-semdns-cache": "hit", "x-semdns-name": "contracts.legal.",
        "x-semdns-response-cache": "miss",
    }  # fmt: skip
    response = Response(b"{}", headers=headers, media_type="application/json")
    feed = DecisionFeed(queue_size=iterations + 1)

    def idle() -> float:
        t0 = time.perf_counter()
        for _ in range(iterations):
            if feed.watching:
                raise AssertionError("nobody subscribed")
        return (time.perf_counter() - t0) / iterations * 1e6

    quiet_us = min(idle() for _ in range(3))
    with feed.subscribe() as sub:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(iterations):
                started = time.perf_counter()
                feed.publish(decision_event(runtime, request, response, started, "chat"))
            frames = []
            while not sub.queue.empty():
                frames.append(b"event: decision\ndata: " + sub.queue.get_nowait() + b"\n\n")
            b"".join(frames)
            best = min(best, (time.perf_counter() - t0) / iterations * 1e6)
    return {
        "iterations": iterations,
        "nobody_watching_us_per_request": round(quiet_us, 3),
        "one_viewer_us_per_request": round(best, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--renders", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6, help="pairs of rounds (nobody watching, one viewer)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skip-render", action="store_true", help="only the feed cost")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result: dict[str, object] = {
        "benchmark": "semdns console: first render and live-feed cost",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    result["hook_cost"] = _hook_cost(20_000)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_render:
            result["first_render"] = _first_render(args.renders, Path(tmp))
        with _processes(Path(tmp)) as (_backend_port, gateway_port, pid):
            result["feed_cost"] = asyncio.run(_rounds(args, gateway_port, pid))
    result["load_average_at_end"] = list(os.getloadavg())
    emit(result, args.out)


if __name__ == "__main__":
    main()
