"""A tenant probing another's response cache (by content and by timing), and rate-limit evasion by
rotating keys. With a tenants file each tenant is its own cache scope and its limits follow the
tenant, not the key; in open mode each key is its own scope, anonymous callers share one, and there
are no limits at all (docs/security.md says so)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.helpers import Backend, Gateway, StubResolver, backends, engine, gateway, make_tree
from semdns.gateway import GatewaySettings
from semdns.tenancy import add_tenant_key

pytestmark = pytest.mark.anyio

SECRET = "what did acme pay for the merger contract"


@contextlib.asynccontextmanager
async def setup(tmp_path: Path, tenants: Path | None = None) -> AsyncIterator[tuple[Gateway, Backend]]:
    async with backends("root", "legal") as b:
        tree = make_tree(
            tmp_path, {"@": {"engines": [engine(b["root"])]}, "legal": {"engines": [engine(b["legal"])]}}
        )
        settings = GatewaySettings(
            probes=False, warm_local=False, tenants_file=str(tenants) if tenants else ""
        )
        async with gateway(
            tree, StubResolver([("contract", "legal."), ("merger", "legal.")]), settings
        ) as gw:
            yield gw, b["legal"]


async def ask(gw: Gateway, content: str, key: str) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": content}]}
    return await gw.client.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})


async def timed(gw: Gateway, content: str, key: str | None) -> tuple[float, str, str]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    started = time.perf_counter()
    response = await gw.client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": content}], "temperature": 0},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return (
        time.perf_counter() - started,
        response.headers.get("x-semdns-response-cache", ""),
        response.json()["choices"][0]["message"]["content"],
    )


async def test_a_tenant_cannot_read_anothers_cache_by_content_or_timing(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.yaml"
    acme, rival = add_tenant_key(tenants, "acme"), add_tenant_key(tenants, "rival")
    async with setup(tmp_path, tenants) as (gw, legal):
        legal.fake.behaviour.latency_s = 0.3
        legal.fake.behaviour.reply = "acme paid 12 million"
        await timed(gw, SECRET, acme)
        assert gw.runtime.edge is not None and gw.runtime.edge.cache is not None
        await gw.runtime.edge.cache.drain()
        hit_s, status, _ = await timed(gw, SECRET, acme)
        assert status == "hit" and hit_s < 0.3  # acme's own repeat is served from the cache
        legal.fake.behaviour.reply = "no answer for you"
        before = legal.fake.requests
        probe_s, status, content = await timed(gw, SECRET, rival)
        assert status == "miss" and content == "no answer for you"  # nothing of acme's answer
        assert legal.fake.requests == before + 1
        assert probe_s >= 0.3  # as slow as a prompt nobody asked: timing tells rival nothing
        near_s, status, _ = await timed(gw, SECRET + "?", rival)  # the semantic tier stays in scope too
        assert status != "hit" or near_s >= 0.3


async def test_rotating_keys_never_escapes_a_tenants_limits(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.yaml"
    first = add_tenant_key(tenants, "acme", requests_per_min=3)
    second = add_tenant_key(tenants, "acme")  # a second key of the same tenant
    async with setup(tmp_path, tenants) as (gw, _):
        codes = []
        for i in range(6):
            key = first if i % 2 == 0 else second
            response = await ask(gw, f"hello {i}", key)
            codes.append(response.status_code)
        assert codes == [200, 200, 200, 429, 429, 429]  # the bucket is the tenant's, whichever key
        for i in range(5):
            made_up = await ask(gw, "hello", f"sk-semdns-made-up-{i}")
            assert made_up.status_code == 401


async def test_open_mode_keys_are_separate_scopes_and_anonymous_callers_share_one(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, _legal):
        assert gw.runtime.edge is not None and gw.runtime.edge.cache is not None
        await timed(gw, SECRET, "key-one")
        await gw.runtime.edge.cache.drain()
        assert (await timed(gw, SECRET, "key-two"))[1] == "miss"
        await timed(gw, SECRET, None)
        await gw.runtime.edge.cache.drain()
        # Documented: without a key every caller is "anon", one scope (send any key to get your own).
        assert (await timed(gw, SECRET, None))[1] == "hit"


async def test_open_mode_has_no_rate_limits_to_evade(tmp_path: Path) -> None:
    """Documented: open mode counts nothing per caller, so rotating keys gains nothing because there
    is nothing to evade; limits need a tenants file (and a network needs one anyway, protected mode)."""
    async with setup(tmp_path) as (gw, _):
        for i in range(30):
            response = await ask(gw, f"hi {i}", f"rotating-{i}")
            assert response.status_code == 200
            assert "x-ratelimit-limit-requests" not in response.headers
