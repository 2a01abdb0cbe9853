"""Two real gateway processes (``semdns serve --redis``) sharing one real redis-server: an answer
cached through one is a hit through the other (exact and semantic), rate limits hold across both,
and with Redis killed mid-run answers keep coming, then the shared cache refills once it is back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml

from semdns.tenancy import add_tenant_key
from semdns.testing import FakeInThread, FakeOpenAI
from semdns.testing.redis_server import RedisServer, free_port

pytestmark = pytest.mark.slow


@dataclass
class Cluster:
    redis: RedisServer
    urls: list[str]
    keys: dict[str, str]
    fake: FakeOpenAI


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway at {url} not ready in {timeout_s} s")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("cluster")
    backend = FakeInThread("shared")
    backend.start()
    assert backend.ready.wait(10)
    zone = tmp / "zone.yaml"
    engine = {"kind": "openai", "url": backend.url + "/v1", "model": "shared"}
    zone.write_text(yaml.safe_dump({"origin": ".", "ttl": 60, "nodes": {"@": {"engines": [engine]}}}))
    tenants = tmp / "tenants.yaml"
    keys = {
        "acme": add_tenant_key(tenants, "acme", admin=True),
        "other": add_tenant_key(tenants, "other"),
        "limited": add_tenant_key(tenants, "limited", requests_per_min=4),
    }
    redis = RedisServer().start()
    procs, urls = [], []
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SEMDNS_CACHE_DIR": str(tmp / "semdns-cache")}
    for _ in range(2):
        port = free_port()
        cmd = [sys.executable, "-c", "from semdns.cli import main; main()", "serve", "--zone", str(zone),
               "--port", str(port), "--no-probes", "--lazy-local", "--log-level", "warning",
               "--tenants", str(tenants), "--redis", redis.url]  # fmt: skip
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs, strict=True):
            _wait_ready(url, proc)
        yield Cluster(redis, urls, keys, backend.fake)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            if proc.stderr is not None:
                proc.stderr.close()
        redis.stop()
        backend.stop()


def ask(url: str, key: str, text: str, **extra: Any) -> httpx.Response:
    body = {"model": "auto", "messages": [{"role": "user", "content": text}], "temperature": 0, **extra}
    return httpx.post(
        url + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30
    )


def eventually(check: Any, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_cached_through_one_is_a_hit_through_the_other(cluster: Cluster) -> None:
    a, b = cluster.urls
    key = cluster.keys["acme"]
    first = ask(a, key, "What is the capital of Australia?")
    assert first.status_code == 200 and first.headers["x-semdns-response-cache"] == "miss"
    exact = eventually(
        lambda: ask(b, key, "What is the capital of Australia?").headers["x-semdns-response-cache"] == "hit"
    )
    assert exact, "the exact entry written through A is served by B"

    # The semantic tier needs the entry in B's own index, which follows A's insert through the Redis
    # stream: wait for it (asking the paraphrase early would make B answer and store it itself).
    def b_index_entries() -> int:
        stats = httpx.get(b + "/admin/cache/stats", headers={"authorization": f"Bearer {key}"}, timeout=5)
        return int(stats.json()["entries"])

    assert eventually(lambda: b_index_entries() >= 1), "B's index follows A's insert"
    # A new entry is explored (answered by the engine to learn its threshold) on 10% of its servable
    # lookups, by design (vCache); three paraphrases make a run that never hits a 1-in-1000 event.
    for paraphrase in (
        "What's the capital city of Australia?",
        "Which city is the capital of Australia?",
        "what is australia's capital city",
    ):
        semantic = ask(b, key, paraphrase)
        if semantic.headers["x-semdns-response-cache"] == "semantic-hit":
            break
    assert semantic.headers["x-semdns-response-cache"] == "semantic-hit"
    assert float(semantic.headers["x-semdns-cache-similarity"]) >= 0.92
    assert semantic.json()["choices"] == first.json()["choices"]
    other = ask(b, cluster.keys["other"], "What is the capital of Australia?")
    assert other.headers["x-semdns-response-cache"] == "miss", "never across tenants"


def test_rate_limit_holds_across_processes(cluster: Cluster) -> None:
    key = cluster.keys["limited"]
    started = time.monotonic()
    codes = [ask(cluster.urls[i % 2], key, f"limited question {i}").status_code for i in range(10)]
    elapsed = time.monotonic() - started
    allowed = 4 + int(elapsed / 15)  # the bucket refills 4 a minute
    assert codes.count(200) <= allowed and codes.count(200) >= 4
    assert set(codes) <= {200, 429}


def test_redis_outage_then_refill(cluster: Cluster) -> None:
    a, b = cluster.urls
    key = cluster.keys["acme"]
    cluster.redis.stop()
    try:
        answers = [ask(u, key, f"during the outage {i}") for i, u in enumerate([a, b, a, b])]
        assert all(r.status_code == 200 for r in answers), "answers keep coming without Redis"
        edge = httpx.get(a + "/readyz", timeout=5).json()["edge"]
        assert edge["state"]["degraded"] is True and edge["state"]["last_error"]
        metrics = httpx.get(a + "/metrics", timeout=5).text
        assert 'semdns_shared_state_up{backend="redis"} 0.0' in metrics
    finally:
        cluster.redis.start()
    for url in (a, b):
        back = eventually(
            lambda url=url: httpx.get(url + "/readyz", timeout=5).json()["edge"]["state"]["reachable"]
        )
        assert back, "reconnected by itself"
    ask(a, key, "Why is the sky blue?")
    refilled = eventually(
        lambda: ask(b, key, "Why is the sky blue?").headers["x-semdns-response-cache"] == "hit"
    )
    assert refilled, "the shared cache fills again after Redis returns"
    stats = httpx.get(a + "/admin/cache/stats", headers={"authorization": f"Bearer {key}"}, timeout=5).json()
    assert stats["state"]["reconnects"] >= 1
