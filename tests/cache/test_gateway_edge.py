"""The edge inside a running gateway (one process, in-process state): response-cache headers,
JSON and streaming replay, client controls, what is never stored, serve-stale, tenants (401, 403,
ancestor, 429 with headers), open-mode key scopes, /readyz detail, admin routes and metrics."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.helpers import (
    Backend,
    Gateway,
    StubResolver,
    backends,
    engine,
    gateway,
    make_tree,
    sse_events,
)
from semdns.gateway import GatewaySettings
from semdns.tenancy import add_tenant_key

pytestmark = pytest.mark.anyio


ADMIN_KEY = "sk-semdns-operator-test"
ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


@contextlib.asynccontextmanager
async def setup(
    tmp_path: Path, *, tenants: Path | None = None, cache: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Gateway, Backend]]:
    async with backends("root", "code") as b:
        nodes: dict[str, Any] = {
            "@": {"engines": [engine(b["root"])]},
            "code": {"engines": [engine(b["code"])]},
            "python.code": {"engines": [engine(b["code"])]},
        }
        if cache:
            nodes["code"]["cache"] = cache
        tree = make_tree(tmp_path, nodes)
        settings = GatewaySettings(
            probes=False,
            warm_local=False,
            tenants_file=str(tenants) if tenants else "",
            admin_key=ADMIN_KEY,
        )
        resolver = StubResolver([("python", "python.code."), ("code", "code.")])
        async with gateway(tree, resolver, settings) as gw:
            gw.backends = b  # type: ignore[attr-defined]
            yield gw, b["code"]


async def test_exact_hit_is_served_without_the_engine(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, code):
        first = await gw.chat("write code please", temperature=0)
        assert first.status_code == 200 and first.headers["x-semdns-response-cache"] == "miss"
        await gw.runtime.edge.cache.drain()  # type: ignore[union-attr]
        second = await gw.chat("write code please", temperature=0)
        assert second.headers["x-semdns-response-cache"] == "hit"
        assert code.fake.requests == 1
        assert second.json()["choices"] == first.json()["choices"]
        assert second.json()["semdns"]["response_cache"] == "hit"


async def test_stream_replayed_with_identical_content(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, code):
        code.fake.behaviour.reply = "one two three four five six"
        body = {"messages": [{"role": "user", "content": "code a stream"}], "temperature": 0, "stream": True}
        first = await gw.client.post("/v1/chat/completions", content=orjson.dumps(body))
        await gw.runtime.edge.cache.drain()  # type: ignore[union-attr]
        second = await gw.client.post("/v1/chat/completions", content=orjson.dumps(body))
        assert second.headers["x-semdns-response-cache"] == "hit" and code.fake.requests == 1
        a, b = sse_events(first.text), sse_events(second.text)
        assert a[-1] == b[-1] == "[DONE]"
        strip = [{k: v for k, v in orjson.loads(e).items() if k != "semdns"} for e in a[:-1]]
        again = [{k: v for k, v in orjson.loads(e).items() if k != "semdns"} for e in b[:-1]]
        assert strip == again, "the stream is replayed event for event"
        as_json = await gw.chat("code a stream", temperature=0)
        assert as_json.headers["x-semdns-response-cache"] == "hit"
        assert as_json.json()["choices"][0]["message"]["content"] == "one two three four five six"


async def test_bypass_no_store_and_temperature(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, code):
        edge_cache = gw.runtime.edge.cache  # type: ignore[union-attr]
        r = await gw.client.post(
            "/v1/chat/completions",
            content=orjson.dumps({"messages": [{"role": "user", "content": "code x"}], "temperature": 0}),
            headers={"x-semdns-cache": "no-store"},
        )
        assert r.headers["x-semdns-response-cache"] == "miss"
        await edge_cache.drain()
        assert (await gw.chat("code x", temperature=0)).headers["x-semdns-response-cache"] == "miss"
        await edge_cache.drain()
        bypass = await gw.client.post(
            "/v1/chat/completions",
            content=orjson.dumps({"messages": [{"role": "user", "content": "code x"}], "temperature": 0}),
            headers={"cache-control": "no-cache"},
        )
        assert bypass.headers["x-semdns-response-cache"] == "bypass"
        hot = await gw.chat("code y", temperature=0.8)
        assert hot.headers["x-semdns-response-cache"] == "bypass"
        await edge_cache.drain()
        assert (await gw.chat("code y", temperature=0.8)).headers["x-semdns-response-cache"] == "bypass"
        assert code.fake.requests == 5


async def test_failed_stream_is_not_stored(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, code):
        code.fake.behaviour.reply = "a b c d e f"
        code.fake.behaviour.chunks = 3
        code.fake.behaviour.drop_after = 1
        body = {"messages": [{"role": "user", "content": "code broken"}], "temperature": 0, "stream": True}
        await gw.client.post("/v1/chat/completions", content=orjson.dumps(body))
        await gw.runtime.edge.cache.drain()  # type: ignore[union-attr]
        code.fake.behaviour.drop_after = None
        again = await gw.client.post("/v1/chat/completions", content=orjson.dumps(body))
        assert again.headers["x-semdns-response-cache"] == "miss"


async def test_stale_answer_when_every_engine_fails(tmp_path: Path) -> None:
    async with setup(tmp_path, cache={"ttl": 0, "stale_ttl": 600}) as (gw, _code):
        first = await gw.chat("code stale", temperature=0)
        await gw.runtime.edge.cache.drain()  # type: ignore[union-attr]
        for backend in gw.backends.values():  # type: ignore[attr-defined]
            backend.fake.behaviour.fail_status = 500
        r = await gw.chat("code stale", temperature=0)
        assert r.status_code == 200 and r.headers["x-semdns-response-cache"] == "stale"
        assert r.json()["choices"] == first.json()["choices"]
        fresh = await gw.chat("code never seen", temperature=0)
        assert fresh.status_code >= 500, "nothing stale to serve: the failure surfaces"


async def test_tenants_keys_subtrees_and_limits(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    strict = add_tenant_key(path, "strict", subtrees=("python.code.",), requests_per_min=3)
    loose = add_tenant_key(path, "loose", subtrees=("python.code.",), outside="ancestor")
    async with setup(tmp_path, tenants=path) as (gw, _code):
        none = await gw.chat("python please", temperature=0)
        assert none.status_code == 401 and "requires an API key" in none.json()["error"]["message"]
        bad = await gw.client.post(
            "/v1/chat/completions",
            content=orjson.dumps({"messages": [{"role": "user", "content": "python"}]}),
            headers={"authorization": "Bearer sk-semdns-wrong"},
        )
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_api_key"

        async def call(key: str, text: str) -> Any:
            return await gw.client.post(
                "/v1/chat/completions",
                content=orjson.dumps({"messages": [{"role": "user", "content": text}], "temperature": 0}),
                headers={"authorization": f"Bearer {key}"},
            )

        ok = await call(strict, "python code")
        assert ok.status_code == 200 and ok.headers["x-ratelimit-limit-requests"] == "3"
        outside = await call(strict, "code in general")
        assert outside.status_code == 403 and outside.json()["error"]["code"] == "name_not_allowed"
        assert (await call(strict, "python again")).status_code == 200, "the third request of 3/min"
        limited = await call(strict, "python once more")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["x-ratelimit-remaining-requests"] == "0"
        up = await call(loose, "code in general")
        assert up.status_code == 200 and up.headers["x-semdns-name"] == "code."
        # each tenant its own cache scope
        await gw.runtime.edge.cache.drain()  # type: ignore[union-attr]
        assert (await call(loose, "python code")).headers["x-semdns-response-cache"] == "miss"


async def test_open_mode_keys_are_separate_cache_scopes(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, _code):

        async def call(key: str) -> Any:
            return await gw.client.post(
                "/v1/chat/completions",
                content=orjson.dumps(
                    {"messages": [{"role": "user", "content": "code secret"}], "temperature": 0}
                ),
                headers={"authorization": f"Bearer {key}"},
            )

        await call("key-one")
        await gw.runtime.edge.cache.drain()  # type: ignore[union-attr]
        assert (await call("key-two")).headers["x-semdns-response-cache"] == "miss"
        assert (await call("key-one")).headers["x-semdns-response-cache"] == "hit"


async def test_readyz_admin_and_metrics(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, _code):
        await gw.chat("code m", temperature=0)
        await gw.runtime.edge.cache.drain()  # type: ignore[union-attr]
        await gw.chat("code m", temperature=0)
        ready = (await gw.client.get("/readyz")).json()
        assert ready["status"] == "ready" and ready["edge"]["state"]["backend"] == "memory"
        stats = (await gw.client.get("/admin/cache/stats", headers=ADMIN)).json()
        assert stats["totals"]["hit"] == 1 and stats["by_name"]["code."]["miss"] == 1
        assert stats["totals"]["store"] == 1
        metrics = (await gw.client.get("/metrics")).text
        assert 'semdns_response_cache_total{name="code.",outcome="hit"} 1.0' in metrics
        assert "semdns_shared_state_up" in metrics
        purged = (await gw.client.post("/admin/cache/purge", params={"name": "code"}, headers=ADMIN)).json()
        assert purged["purged"] == 1
        bad = await gw.client.post("/admin/cache/purge", params={"name": "nope.nowhere"}, headers=ADMIN)
        assert bad.status_code == 404
