"""Three resolvers as real ``semdns serve`` processes on 127.0.0.1: the delegation example, end to end.

The zone files are the example's (examples/delegation/generate.py), rendered with free ports. The
labelled query set is sampled (every third query) to keep the file fast; bench/protocol.py reports the
agreement on the whole set.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from semdns.delegation.stub import RemoteResolver
from semdns.eval.routing import load_labelled
from semdns.protocol.messages import Answer
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import load_default_tree

REPO = Path(__file__).parent.parent.parent
EXAMPLE = REPO / "examples" / "delegation"
QUERIES = REPO / "bench" / "data" / "queries"
LEGAL_Q = "Can my landlord keep my security deposit for normal wear and tear?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("delegation_generate", EXAMPLE / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.ports = {".": _free_port(), "legal.": _free_port(), "code.": _free_port()}
        self.urls = {zone: f"http://127.0.0.1:{port}" for zone, port in self.ports.items()}
        (folder / "keys").symlink_to(EXAMPLE / "keys")
        for name, text in _generator().render(self.ports).items():
            (folder / name).write_text(text, encoding="utf-8")
        self.folder = folder
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        for zone, stem in ((".", "root"), ("legal.", "legal"), ("code.", "code")):
            self.procs[zone] = subprocess.Popen(
                [
                    *(
                        sys.executable,
                        "-m",
                        "semdns.cli",
                        "serve",
                        "--zone",
                        str(self.folder / f"{stem}.yaml"),
                    ),
                    *(
                        "--port",
                        str(self.ports[zone]),
                        "--lazy-local",
                        "--no-probes",
                        "--log-level",
                        "warning",
                    ),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
        deadline = time.monotonic() + 90
        for zone, url in self.urls.items():
            while True:
                try:
                    if httpx.get(url + "/semdns/v1/zone", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                proc = self.procs[zone]
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{zone} server exited: {proc.stderr.read().decode() if proc.stderr else ''}"
                    )
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{zone} server did not start within 90 s")
                time.sleep(0.2)

    def stop(self, zone: str) -> None:
        proc = self.procs[zone]
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stats(self, zone: str) -> dict[str, int]:
        return dict(httpx.get(self.urls[zone] + "/semdns/v1/stats", timeout=5).json())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = Cluster(tmp_path_factory.mktemp("delegation"))
    try:
        made.start()
        yield made
    finally:
        for zone in made.procs:
            made.stop(zone)


def _resolve_all(url: str, texts: list[str], mode: str) -> list[Answer]:
    async def go() -> list[Answer]:
        client = RemoteResolver(url, zone=".")
        try:
            return [await client.resolve(t, mode=mode) for t in texts]  # type: ignore[arg-type]
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_iterative_and_recursive_agree_with_one_resolver_holding_every_zone(
    cluster: Cluster, encoder: MiniLMEncoder
) -> None:
    items = load_labelled(sorted(p for p in QUERIES.glob("*.yaml") if p.name != "multi.yaml"))[::3]
    texts = [i.text for i in items]
    single = Resolver(load_default_tree(), encoder)
    expected = [tuple(str(n) for n in single.resolve(t, use_cache=False).names) for t in texts]
    for mode in ("iterative", "recursive"):
        answers = _resolve_all(cluster.urls["."], texts, mode)
        got = [tuple(n.name for n in a.names) for a in answers]
        agree = sum(g == e for g, e in zip(got, expected, strict=True)) / len(texts)
        print(f"\n{mode}: {agree:.4f} agreement on {len(texts)} labelled queries")
        assert not any(a.degraded for a in answers)
        assert agree >= 0.97, [(t, g, e) for t, g, e in zip(texts, got, expected, strict=True) if g != e][:5]
    delegated = sum(1 for e in expected if e[0].endswith(("legal.", "code.")))
    assert delegated >= 50, "the sample must exercise the delegations"


def test_cached_referral_means_the_parent_is_not_asked_again(cluster: Cluster) -> None:
    before_root, before_legal = cluster.stats(".")["queries"], cluster.stats("legal.").get("queries", 0)

    async def go() -> list[Answer]:
        client = RemoteResolver(cluster.urls["."], zone=".")
        try:
            first = await client.resolve(LEGAL_Q, mode="iterative")
            others = [
                await client.resolve(q, mode="iterative", within="legal.")
                for q in (
                    "Who owns the copyright on a photo I took?",
                    "How do I appeal a small claims ruling?",
                )
            ]
            return [first, *others]
        finally:
            await client.aclose()

    answers = asyncio.run(go())
    assert cluster.stats(".")["queries"] - before_root == 1, "the parent is asked once"
    assert cluster.stats("legal.")["queries"] - before_legal == 3
    assert all(a.names[0].name.endswith("legal.") for a in answers)
    assert [len([h for h in a.hops if h.server != "cache"]) for a in answers] == [2, 1, 1]


@pytest.mark.parametrize(
    ("version", "status", "code"), [("1.9", 200, None), ("2.0", 400, "unsupported_version")]
)
def test_newer_minor_read_newer_major_refused(
    cluster: Cluster, version: str, status: int, code: str | None
) -> None:
    body = {
        "v": version,
        "id": "q-v",
        "text": "what is a tort",
        "zone": "legal.",
        "field_from_the_future": [1],
    }
    response = httpx.post(
        cluster.urls["legal."] + "/semdns/v1/query",
        content=json.dumps(body),
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == status
    payload = response.json()["payload"]
    if code is None:
        assert payload["names"][0]["name"].endswith("legal.")
    else:
        assert payload["errors"][0]["code"] == code
        assert "2.0 is not supported" in payload["errors"][0]["message"]


def test_dig_trace_and_json_through_the_three_resolvers(cluster: Cluster) -> None:
    run = [sys.executable, "-m", "semdns.cli", "dig", "--server", cluster.urls["."]]
    traced = subprocess.run([*run, "--trace", LEGAL_Q], capture_output=True, text=True, timeout=60)
    assert traced.returncode == 0, traced.stderr
    assert "referral to legal." in traced.stdout
    assert f";; Received from {cluster.urls['legal.']} (legal.)" in traced.stdout
    assert "signature verified" in traced.stdout
    as_json = subprocess.run([*run, "--json", LEGAL_Q], capture_output=True, text=True, timeout=60)
    decoded = json.loads(as_json.stdout)
    assert decoded["names"] == ["contracts.legal."]
    assert decoded["degraded"] is False
    assert [h["zone"] for h in decoded["hops"]] == [".", "legal."]
    assert {"query", "names", "answers", "confidence", "stage", "ttl", "trace", "cache", "elapsed_us"} <= set(
        decoded
    )


def test_child_down_degrades_and_stale_is_served_within_its_bound(cluster: Cluster) -> None:
    """Last in the file: it stops the legal. resolver."""
    now = [1000.0]

    async def go() -> list[Answer]:
        client = RemoteResolver(cluster.urls["."], zone=".", clock=lambda: now[0], max_stale_s=600.0)
        try:
            fresh = await client.resolve(LEGAL_Q, mode="iterative")
            cluster.stop("legal.")
            other = await client.resolve("Can I patent a recipe?", mode="iterative")
            now[0] += 301  # past the referral's TTL (300 s), within the stale bound
            stale = await client.resolve(LEGAL_Q, mode="iterative")
            now[0] += 600  # past TTL + bound
            gone = await client.resolve(LEGAL_Q, mode="iterative")
            recursive = await client.resolve("Can I patent a recipe?", mode="recursive")
            return [fresh, other, stale, gone, recursive]
        finally:
            await client.aclose()

    fresh, other, stale, gone, recursive = asyncio.run(go())
    assert fresh.names[0].name == "contracts.legal." and not fresh.degraded
    assert [n.name for n in other.names] == ["legal."] and other.degraded
    assert other.errors[0].code == "peer_unavailable"
    assert stale.names[0].name == "contracts.legal." and stale.stale
    assert [n.name for n in gone.names] == ["legal."] and gone.degraded and not gone.stale
    assert [n.name for n in recursive.names] == ["legal."] and recursive.degraded
