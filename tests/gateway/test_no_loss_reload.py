"""A failed hot reload loses nothing: the generation in service keeps answering, the edit that failed is
not marked as loaded (the next plain reload, once the cause is gone, still takes it), and a resolver
built for a refused generation is closed while the one in service is not. (A broken zone edit, a
missing file and a tenants file naming an unknown subtree are covered by ``test_reload.py``.)"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from semdns.gateway import GatewaySettings, Runtime, create_app
from semdns.gateway.live import Live
from semdns.gateway.reload import Reloader
from semdns.tenancy import add_tenant_key
from semdns.testing import serve_app
from semdns.zone import ZoneTree, load_zone_files

from .helpers import Backend, StubResolver, backends
from .test_reload import answered_by, zone_text

pytestmark = pytest.mark.anyio

ADMIN_KEY = "no-loss-reload-admin-key"


class ClosingStub(StubResolver):
    def __init__(self) -> None:
        super().__init__()
        self.closed = False

    def close(self) -> None:
        self.closed = True


@contextlib.asynccontextmanager
async def gateway(
    zone: Path, build: Callable[[ZoneTree], Any], settings: GatewaySettings, first: StubResolver
) -> AsyncIterator[tuple[httpx.AsyncClient, Live]]:
    runtime = Runtime.build(load_zone_files([zone]), first, settings)
    live = Live(runtime)
    reloader = Reloader(live, build, zone_paths=[zone])
    headers = {"authorization": f"Bearer {ADMIN_KEY}"} if settings.admin_key else {}
    async with (
        serve_app(create_app(live, reloader=reloader)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False, headers=headers) as client,
    ):
        yield client, live
    await reloader.aclose()


async def ask(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> httpx.Response:
    body = orjson.dumps({"model": "legal", "messages": [{"role": "user", "content": "hi"}]})
    return await client.post("/v1/chat/completions", content=body, headers=headers or {})


async def test_a_resolver_that_fails_to_build_keeps_the_old_generation_and_the_edit_is_retried(
    tmp_path: Path,
) -> None:
    failing = [True]

    def build(tree: ZoneTree) -> StubResolver:
        if failing[0]:
            raise RuntimeError("out of memory while embedding the examples")
        return StubResolver()

    settings = GatewaySettings(probes=False, warm_local=False, admin_key=ADMIN_KEY)
    async with backends("a", "b") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(1, be["a"], be["a"]), encoding="utf-8")
        async with gateway(zone, build, settings, StubResolver()) as (client, live):
            zone.write_text(zone_text(2, be["a"], be["b"]), encoding="utf-8")
            refused = await client.post("/admin/reload")
            assert refused.status_code == 422, refused.text
            assert "building the new configuration failed: RuntimeError: out of memory" in refused.text
            assert live.current.number == 1
            assert (await client.get("/readyz")).json()["zones"] == {".": 1}
            assert "a" in answered_by(await ask(client))
            failing[0] = False  # the cause is gone; the file did not change since the failed attempt
            taken = await client.post("/admin/reload")
            assert taken.status_code == 200 and taken.json()["changed"], taken.text
            assert live.current.number == 2 and "b" in answered_by(await ask(client))


def _zone_and_tenants(
    tmp_path: Path, backend: Backend
) -> tuple[Path, Path, dict[str, str], dict[str, str], GatewaySettings]:
    """A one-name zone served by ``backend``, a tenants file with an admin (``ops``) and a user
    (``team``), their headers, and settings that read that file."""
    zone = tmp_path / "zone.yaml"
    zone.write_text(zone_text(1, backend, backend), encoding="utf-8")
    tenants = tmp_path / "tenants.yaml"
    admin = {"authorization": f"Bearer {add_tenant_key(tenants, 'ops', admin=True)}"}
    user = {"authorization": f"Bearer {add_tenant_key(tenants, 'team')}"}
    settings = GatewaySettings(probes=False, warm_local=False, tenants_file=str(tenants))
    return zone, tenants, admin, user, settings


async def test_a_generation_refused_after_its_resolver_was_built_closes_that_resolver_only(
    tmp_path: Path,
) -> None:
    built: list[ClosingStub] = []

    def build(tree: ZoneTree) -> ClosingStub:
        built.append(ClosingStub())
        return built[-1]

    async with backends("a") as be:
        zone, tenants, admin, user, settings = _zone_and_tenants(tmp_path, be["a"])
        first = ClosingStub()
        async with gateway(zone, build, settings, first) as (client, live):
            # valid YAML and settings, but a subtree the zones lack: refused after the resolver is built
            text = tenants.read_text(encoding="utf-8")
            tenants.write_text(text + "  nowhere:\n    subtrees: [nope.]\n    keys: []\n", encoding="utf-8")
            refused = await client.post("/admin/reload", headers=admin)
            assert refused.status_code == 422 and str(tenants) in refused.text
            assert len(built) == 1 and built[0].closed
            assert not first.closed and live.current.number == 1
            assert (await ask(client, user)).status_code == 200


async def test_a_tenants_file_caught_half_written_keeps_every_key_working(tmp_path: Path) -> None:
    async with backends("a") as be:
        zone, tenants, admin, user, settings = _zone_and_tenants(tmp_path, be["a"])
        async with gateway(zone, lambda tree: StubResolver(), settings, StubResolver()) as (client, live):
            whole = tenants.read_text(encoding="utf-8")
            tenants.write_text(whole[: whole.index("team") + 3], encoding="utf-8")  # an editor mid-save
            refused = await client.post("/admin/reload", headers=admin)
            assert refused.status_code == 422 and str(tenants) in refused.text
            assert live.current.number == 1
            assert (await ask(client, user)).status_code == 200
            tenants.write_text(whole, encoding="utf-8")  # the save completes: the next reload takes it
            assert (await client.post("/admin/reload", headers=admin)).status_code == 200
            assert (await ask(client, user)).status_code == 200
