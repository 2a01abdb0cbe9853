"""Protected mode over real sockets: a gateway bound to 0.0.0.0 is reached once through loopback and
once through another address of this machine (the kernel gives the connection that address as its
source, so the gateway sees a non-loopback client without a second machine)."""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.helpers import StubResolver, make_tree
from security.netaddr import local_non_loopback_ipv4
from semdns.gateway import GatewaySettings, Runtime, create_app
from semdns.gateway.guard import Exposure, is_loopback, refusal_message
from semdns.tenancy import add_tenant_key
from semdns.testing import serve_app

pytestmark = pytest.mark.anyio

OTHER = local_non_loopback_ipv4()
needs_other = pytest.mark.skipif(OTHER is None, reason="this machine has no non-loopback IPv4 address")


@contextlib.asynccontextmanager
async def listening(tmp_path: Path, **settings: object) -> AsyncIterator[tuple[int, Runtime]]:
    tree = make_tree(tmp_path, {"@": {"description": "root"}})
    config = GatewaySettings(probes=False, warm_local=False, host="0.0.0.0", **settings)  # type: ignore[arg-type]
    runtime = Runtime.build(tree, StubResolver(), config, rng=random.Random(1))
    async with serve_app(create_app(runtime), host="0.0.0.0") as server:
        yield server.port, runtime


async def get(host: str, port: int, path: str, **kwargs: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        return await client.get(f"http://{host}:{port}{path}", **kwargs)  # type: ignore[arg-type]


@needs_other
async def test_protected_mode_refuses_another_address_and_names_the_fix(tmp_path: Path) -> None:
    assert OTHER is not None
    async with listening(tmp_path) as (port, _):
        local = await get("127.0.0.1", port, "/healthz")
        assert local.status_code == 200
        for path in ("/healthz", "/v1/models", "/admin/resolve?q=x", "/metrics"):
            far = await get(OTHER, port, path)
            assert far.status_code == 403, path
            error = far.json()["error"]
            assert error["code"] == "protected_mode"
            assert "--tenants" in error["message"] and "--insecure-open" in error["message"]
            assert error["type"] == "invalid_request_error"
        ready = (await get("127.0.0.1", port, "/readyz")).json()
        assert ready["exposure"]["mode"] == "protected"


@needs_other
async def test_a_post_body_from_another_address_is_refused_before_it_is_read(tmp_path: Path) -> None:
    assert OTHER is not None
    async with (
        listening(tmp_path) as (port, runtime),
        httpx.AsyncClient(timeout=10, trust_env=False) as client,
    ):
        response = await client.post(
            f"http://{OTHER}:{port}/v1/chat/completions", content=b'{"model": "auto", "messages": []}'
        )
        assert response.status_code == 403
        metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        assert "semdns_requests_total{" not in metrics  # nothing reached the routes
        assert runtime.ready


@needs_other
async def test_insecure_open_serves_everyone_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert OTHER is not None
    with caplog.at_level(logging.WARNING, logger="semdns.gateway.guard"):
        async with listening(tmp_path, insecure_open=True) as (port, _):
            far = await get(OTHER, port, "/healthz")
            assert far.status_code == 200
            ready = (await get(OTHER, port, "/readyz")).json()
    assert ready["exposure"]["mode"] == "insecure-open"
    assert "--insecure-open" in ready["exposure"]["warning"]
    assert any("insecure-open" in r.getMessage() for r in caplog.records)


@needs_other
async def test_with_tenants_other_addresses_authenticate_instead(tmp_path: Path) -> None:
    assert OTHER is not None
    tenants = tmp_path / "tenants.yaml"
    key = add_tenant_key(tenants, "acme")
    async with listening(tmp_path, tenants_file=str(tenants)) as (port, _):
        anonymous = await get(OTHER, port, "/v1/models")
        assert anonymous.status_code == 200  # the model list is public; completions need the key
        ready = (await get(OTHER, port, "/readyz")).json()
        assert ready["exposure"]["mode"] == "tenants"
        denied = await get(OTHER, port, "/admin/cache/stats")
        assert denied.status_code == 401
        ok = await get(OTHER, port, "/admin/cache/stats", headers={"authorization": f"Bearer {key}"})
        assert ok.status_code == 403  # a tenant, not an admin


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        (None, True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.3", False),
        ("::ffff:10.0.0.3", False),
        ("fe80::1%eth0", False),
        ("example.org", False),
        ("", False),
        ("127.0.0.1.evil.example", False),
    ],
)
def test_is_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "tenants", "insecure", "mode"),
    [
        ("127.0.0.1", False, False, "loopback"),
        ("127.0.0.1", False, True, "loopback"),
        ("::1", True, False, "tenants"),
        ("0.0.0.0", True, False, "tenants"),
        ("0.0.0.0", True, True, "tenants"),
        ("0.0.0.0", False, False, "protected"),
        ("::", False, False, "protected"),
        ("192.0.2.7", False, True, "insecure-open"),
    ],
)
def test_exposure_modes(host: str, tenants: bool, insecure: bool, mode: str) -> None:
    exposure = Exposure(host, tenants, insecure)
    assert exposure.mode == mode
    assert (exposure.warning is not None) is (mode == "insecure-open")


def test_the_refusal_names_every_fix() -> None:
    message = refusal_message("0.0.0.0")
    for fix in ("--tenants", "semdns tenant add", "--insecure-open", "SEMDNS_INSECURE_OPEN", "127.0.0.1"):
        assert fix in message
