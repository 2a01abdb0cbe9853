"""Hot reload on a real gateway on 127.0.0.1: a zone edit under load changes answers with no failed
request; a broken edit changes nothing but the error report; SIGHUP, the file watch and the tenants
file; unchanged replicas keep their breaker state; the serial in service shows in /readyz and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from semdns.engines.breaker import BreakerState
from semdns.gateway import GatewaySettings, Runtime, create_app
from semdns.gateway.live import Live
from semdns.gateway.reload import Reloader
from semdns.names import Name
from semdns.tenancy import add_tenant_key
from semdns.testing import serve_app
from semdns.zone import load_zone_files

from .helpers import Backend, StubResolver, backends

pytestmark = pytest.mark.anyio


def zone_text(serial: int, root: Backend, legal: Backend, *, extra: str = "") -> str:
    return f"""\
origin: .
serial: {serial}
ttl: 60
nodes:
  "@":
    description: root
    engines:
      - {{kind: openai, url: "{root.url}", model: {root.fake.name}}}
  legal:
    description: law
    engines:
      - {{kind: openai, url: "{legal.url}", model: {legal.fake.name}}}
{extra}"""


@dataclass
class Reloading:
    client: httpx.AsyncClient
    live: Live
    reloader: Reloader
    zone: Path

    async def ask(self, model: str = "legal") -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        return await self.client.post("/v1/chat/completions", content=orjson.dumps(body))


ADMIN_KEY = "reload-test-admin-key"


@contextlib.asynccontextmanager
async def reloading_gateway(
    zone: Path, settings: GatewaySettings | None = None, **options: object
) -> AsyncIterator[Reloading]:
    # Every /admin route needs an admin credential (docs/security.md): the operator's key, unless the
    # test brings its own settings (a tenants file).
    settings = settings or GatewaySettings(probes=False, warm_local=False, admin_key=ADMIN_KEY)
    headers = {"authorization": f"Bearer {ADMIN_KEY}"} if settings.admin_key == ADMIN_KEY else {}
    runtime = Runtime.build(load_zone_files([zone]), StubResolver(), settings)
    live = Live(runtime)
    reloader = Reloader(live, lambda tree: StubResolver(), zone_paths=[zone], **options)  # type: ignore[arg-type]
    async with (
        serve_app(create_app(live, reloader=reloader)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False, headers=headers) as client,
    ):
        yield Reloading(client, live, reloader, zone)


def answered_by(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    content: str = response.json()["choices"][0]["message"]["content"]
    return content


async def test_zone_edit_under_load_changes_answers_with_no_failed_request(tmp_path: Path) -> None:
    async with backends("a", "b") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(1, be["a"], be["a"]), encoding="utf-8")
        async with reloading_gateway(zone) as gw:
            assert "a" in answered_by(await gw.ask())
            root_before = gw.live.current.runtime.pools[Name.parse(".")].replicas[0]
            for _ in range(5):  # trip the root replica's breaker: an unchanged record keeps it
                root_before.begin()
                root_before.end(False)
            assert root_before.breaker.state is BreakerState.OPEN
            statuses: list[int] = []
            answers: list[tuple[float, str]] = []
            stop = asyncio.Event()

            async def load() -> None:
                for _ in range(400):  # bounded
                    if stop.is_set():
                        return
                    response = await gw.ask()
                    statuses.append(response.status_code)
                    if response.status_code == 200:
                        answers.append((time.monotonic(), answered_by(response)))

            loops = [asyncio.create_task(load()) for _ in range(4)]
            await asyncio.sleep(0.3)
            zone.write_text(zone_text(2, be["a"], be["b"]), encoding="utf-8")
            reply = await gw.client.post("/admin/reload")
            swapped_at = time.monotonic()
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*loops)

            assert reply.status_code == 200, reply.text
            assert reply.json()["ok"] and reply.json()["changed"] and reply.json()["generation"] == 2
            assert statuses and set(statuses) == {200}, f"failed requests: {statuses.count(500)}"
            before = {text for at, text in answers if at < swapped_at - 0.25}
            after = {text for at, text in answers if at > swapped_at + 0.05}
            assert any("a" in t for t in before) and after and all("b" in t for t in after)
            # the unchanged root replica is the same object, breaker still open
            root_after = gw.live.current.runtime.pools[Name.parse(".")].replicas[0]
            assert root_after is root_before and root_after.breaker.state is BreakerState.OPEN
            ready = (await gw.client.get("/readyz")).json()
            assert ready["zones"] == {".": 2}
            metrics = (await gw.client.get("/metrics")).text
            assert 'semdns_zone_serial{zone="."} 2.0' in metrics
            assert "semdns_reload_generation 2.0" in metrics
            # the replaced replica's state series is gone, the new one's is there
            states = {
                (sample.labels["name"], sample.labels["replica"]): sample.value
                for family in text_string_to_metric_families(metrics)
                if family.name == "semdns_breaker_state"
                for sample in family.samples
            }
            assert states == {(".", f"{be['a'].url}#a"): 2.0, ("legal.", f"{be['b'].url}#b"): 0.0}
            assert 'semdns_reload_total{outcome="ok",trigger="admin"} 1.0' in metrics
            # nothing changed on disk: no rebuild
            again = (await gw.client.post("/admin/reload")).json()
            assert again["ok"] and not again["changed"] and again["generation"] == 2


async def test_broken_edit_keeps_the_old_tree_and_reports_every_error(tmp_path: Path) -> None:
    async with backends("a", "b") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(7, be["a"], be["a"]), encoding="utf-8")
        async with reloading_gateway(zone) as gw:
            broken = zone_text(8, be["a"], be["b"]).replace("ttl: 60", "ttl: -5")
            broken += "  code:\n    descripton: typo\n"
            zone.write_text(broken, encoding="utf-8")
            reply = await gw.client.post("/admin/reload")
            assert reply.status_code == 422
            body = reply.json()
            assert body["error"]["code"] == "reload_failed"
            errors = body["reload"]["errors"]
            assert any(e.startswith(f"{zone}:3:") and "ttl" in e for e in errors), errors
            assert any(f"{zone}:" in e and "descripton" in e for e in errors), errors
            assert len(errors) >= 2
            # the old tree still serves, serial 7
            assert "a" in answered_by(await gw.ask())
            assert (await gw.client.get("/readyz")).json()["zones"] == {".": 7}
            status = (await gw.client.get("/admin/reload")).json()
            assert status["generation"] == 1 and status["last"]["errors"] == errors
            metrics = (await gw.client.get("/metrics")).text
            assert f"semdns_reload_errors {float(len(errors))}" in metrics
            assert 'semdns_zone_serial{zone="."} 7.0' in metrics
            assert 'semdns_reload_total{outcome="failed",trigger="admin"} 1.0' in metrics
            # the file fixed: the next reload takes it and clears the error count
            zone.write_text(zone_text(8, be["a"], be["b"]), encoding="utf-8")
            assert (await gw.client.post("/admin/reload")).json()["generation"] == 2
            assert "b" in answered_by(await gw.ask())
            assert "semdns_reload_errors 0.0" in (await gw.client.get("/metrics")).text


async def test_bad_reload_requests(tmp_path: Path) -> None:
    async with backends("a") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(1, be["a"], be["a"]), encoding="utf-8")
        async with reloading_gateway(zone) as gw:
            bad = await gw.client.post("/admin/reload", params={"force": "maybe"})
            assert bad.status_code == 400 and bad.json()["error"]["param"] == "force"
            wrong = await gw.client.put("/admin/reload")
            assert wrong.status_code == 405
            forced = (await gw.client.post("/admin/reload", params={"force": "1"})).json()
            assert forced["changed"] and forced["generation"] == 2
            zone.unlink()
            gone = await gw.client.post("/admin/reload")
            assert gone.status_code == 422 and "cannot read the file" in gone.text
            assert "a" in answered_by(await gw.ask())


async def test_the_file_watch_reloads(tmp_path: Path) -> None:
    async with backends("a", "b") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(1, be["a"], be["a"]), encoding="utf-8")
        async with reloading_gateway(zone, watch=True, watch_interval_s=0.1) as gw:
            zone.write_text(zone_text(2, be["a"], be["b"]), encoding="utf-8")
            for _ in range(100):  # the watch (debounced) picks it up within about two intervals
                if gw.live.current.number == 2:
                    break
                await asyncio.sleep(0.05)
            assert gw.reloader.last is not None and gw.reloader.last.trigger == "watch"
            assert "b" in answered_by(await gw.ask())


async def test_sighup_reloads(tmp_path: Path) -> None:
    async with backends("a", "c") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(1, be["a"], be["a"]), encoding="utf-8")
        async with reloading_gateway(zone) as gw:  # no watch: only the signal can explain a reload
            assert gw.reloader._signal, "the SIGHUP handler must be installed before signalling"
            zone.write_text(zone_text(3, be["a"], be["c"]), encoding="utf-8")
            os.kill(os.getpid(), signal.SIGHUP)
            for _ in range(100):
                if gw.live.current.number == 2:
                    break
                await asyncio.sleep(0.05)
            assert gw.reloader.last is not None and gw.reloader.last.trigger == "sighup"
            assert gw.reloader.last.serials == {".": 3}
            assert "c" in answered_by(await gw.ask())


async def test_tenants_file_is_reloaded_and_the_route_needs_an_admin_key(tmp_path: Path) -> None:
    async with backends("a") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(1, be["a"], be["a"]), encoding="utf-8")
        tenants = tmp_path / "tenants.yaml"
        admin_key = add_tenant_key(tenants, "ops", admin=True)
        settings = GatewaySettings(probes=False, warm_local=False, tenants_file=str(tenants))
        async with reloading_gateway(zone, settings) as gw:
            assert (await gw.client.post("/admin/reload")).status_code == 401
            admin = {"authorization": f"Bearer {admin_key}"}
            user_key = add_tenant_key(tenants, "team")
            user = {"authorization": f"Bearer {user_key}"}
            body = orjson.dumps({"model": "legal", "messages": [{"role": "user", "content": "x"}]})

            async def chat(headers: dict[str, str]) -> int:
                response = await gw.client.post("/v1/chat/completions", content=body, headers=headers)
                return response.status_code

            assert (
                await gw.client.post("/v1/chat/completions", content=body, headers=user)
            ).status_code == 401
            assert (await gw.client.post("/admin/reload", headers=user)).status_code == 401
            reply = await gw.client.post("/admin/reload", headers=admin)
            assert reply.status_code == 200 and reply.json()["changed"]
            assert (
                await gw.client.post("/v1/chat/completions", content=body, headers=user)
            ).status_code == 200
            team = {"authorization": f"Bearer {add_tenant_key(tenants, 'team')}"}
            await gw.client.post("/admin/reload", headers=admin)
            assert (await gw.client.post("/admin/reload", headers=team)).status_code == 403
            # a tenants file naming a subtree the zones lack: refused with file and reason
            tenants.write_text(
                tenants.read_text(encoding="utf-8") + "  nowhere:\n    subtrees: [nope.]\n    keys: []\n",
                encoding="utf-8",
            )
            refused = await gw.client.post("/admin/reload", headers=admin)
            assert refused.status_code == 422 and str(tenants) in refused.text
            assert (
                await gw.client.post("/v1/chat/completions", content=body, headers=user)
            ).status_code == 200
