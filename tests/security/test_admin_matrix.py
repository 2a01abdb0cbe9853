"""Every ``/admin`` route x every credential x every mode: who gets in, and with which status.

Modes: open (no tenants) without and with ``SEMDNS_ADMIN_KEY``; a tenants file without and with it.
Credentials: none, a random key, a plain tenant's key, an admin tenant's key, the operator's admin key.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.helpers import Gateway, StubResolver, gateway, make_tree
from semdns.gateway import GatewaySettings
from semdns.tenancy import add_tenant_key

pytestmark = pytest.mark.anyio

ADMIN_KEY = "sk-semdns-operator-0123456789"
ROUTES = [
    ("GET", "/admin/resolve", {"q": "a contract"}),
    ("GET", "/admin/cache/stats", {}),
    ("POST", "/admin/cache/purge", {}),
]
CREDENTIALS = ["none", "random", "tenant", "admin-tenant", "admin-key"]
MODES = {
    # mode: expected status per credential
    "open": {"none": 403, "random": 403, "tenant": 403, "admin-tenant": 403, "admin-key": 403},
    "open+key": {"none": 401, "random": 401, "tenant": 401, "admin-tenant": 401, "admin-key": 200},
    "tenants": {"none": 401, "random": 401, "tenant": 403, "admin-tenant": 200, "admin-key": 401},
    "tenants+key": {"none": 401, "random": 401, "tenant": 403, "admin-tenant": 200, "admin-key": 200},
}
CODES = {401: "invalid_api_key", 403: "admin_required"}


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, mode: str, **extra: object
) -> AsyncIterator[tuple[Gateway, dict[str, str]]]:
    tenants = tmp_path / "tenants.yaml"
    keys = {
        "tenant": add_tenant_key(tenants, "plain"),
        "admin-tenant": add_tenant_key(tenants, "ops", admin=True),
        "random": "sk-semdns-nobody-knows-this",
        "admin-key": ADMIN_KEY,
    }
    settings = GatewaySettings(
        probes=False,
        warm_local=False,
        tenants_file=str(tenants) if mode.startswith("tenants") else "",
        admin_key=ADMIN_KEY if mode.endswith("+key") else "",
        **extra,  # type: ignore[arg-type]
    )
    tree = make_tree(tmp_path, {"@": {"description": "root"}, "legal": {"description": "law"}})
    async with gateway(tree, StubResolver([("contract", "legal.")]), settings) as gw:
        yield gw, keys


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("mode", list(MODES))
async def test_admin_route_matrix(tmp_path: Path, mode: str, credential: str) -> None:
    expected = MODES[mode][credential]
    async with running(tmp_path, mode) as (gw, keys):
        headers = {} if credential == "none" else {"authorization": f"Bearer {keys[credential]}"}
        for method, path, params in ROUTES:
            response = await gw.client.request(method, path, params=params, headers=headers)
            assert response.status_code == expected, (method, path, response.text)
            if expected != 200:
                assert response.json()["error"]["code"] == CODES[expected]
            if path == "/admin/resolve" and expected == 200:
                assert response.json()["names"] == ["legal."]


async def test_open_mode_without_an_admin_key_says_how_to_get_one(tmp_path: Path) -> None:
    async with running(tmp_path, "open") as (gw, _):
        message = (await gw.client.get("/admin/cache/stats")).json()["error"]["message"]
    assert "SEMDNS_ADMIN_KEY" in message and "admin: true" in message


async def test_the_admin_key_also_works_as_an_api_key_header(tmp_path: Path) -> None:
    async with running(tmp_path, "open+key") as (gw, _):
        response = await gw.client.get("/admin/cache/stats", headers={"api-key": ADMIN_KEY})
    assert response.status_code == 200


@pytest.mark.parametrize("mode", ["open+key", "tenants+key"])
async def test_admin_resolve_is_rate_limited_per_credential(tmp_path: Path, mode: str) -> None:
    async with running(tmp_path, mode, admin_resolve_per_min=3) as (gw, keys):
        admin = {"authorization": f"Bearer {ADMIN_KEY}"}
        codes = [
            (await gw.client.get("/admin/resolve", params={"q": "x"}, headers=admin)).status_code
            for _ in range(5)
        ]
        assert codes == [200, 200, 200, 429, 429]
        limited = await gw.client.get("/admin/resolve", params={"q": "x"}, headers=admin)
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert int(limited.headers["retry-after"]) >= 1
        # The bucket is per credential: another admin is not starved by the first.
        if mode == "tenants+key":
            other = {"authorization": f"Bearer {keys['admin-tenant']}"}
            assert (
                await gw.client.get("/admin/resolve", params={"q": "x"}, headers=other)
            ).status_code == 200


async def test_an_admin_tenants_own_request_limit_applies_to_admin_resolve(tmp_path: Path) -> None:
    tenants = tmp_path / "t.yaml"
    key = add_tenant_key(tenants, "ops", admin=True, requests_per_min=2)
    settings = GatewaySettings(probes=False, warm_local=False, tenants_file=str(tenants))
    tree = make_tree(tmp_path, {"@": {"description": "root"}})
    async with gateway(tree, StubResolver(), settings) as gw:
        headers = {"authorization": f"Bearer {key}"}
        codes = [
            (await gw.client.get("/admin/resolve", params={"q": "x"}, headers=headers)).status_code
            for _ in range(3)
        ]
    assert codes == [200, 200, 429]


async def test_resolve_checks_the_credential_before_the_query(tmp_path: Path) -> None:
    async with running(tmp_path, "open+key") as (gw, _):
        anonymous = await gw.client.get("/admin/resolve")
        assert anonymous.status_code == 401  # not 400: an anonymous caller learns nothing
        admin = await gw.client.get("/admin/resolve", headers={"authorization": f"Bearer {ADMIN_KEY}"})
        assert admin.status_code == 400 and admin.json()["error"]["param"] == "q"


async def test_is_admin_for_other_routes(tmp_path: Path) -> None:
    from semdns.gateway.guard import AdminGuard

    async with running(tmp_path, "tenants+key") as (gw, keys):
        guard = AdminGuard(gw.runtime)
        assert guard.is_admin({"authorization": f"Bearer {ADMIN_KEY}"})
        assert guard.is_admin({"authorization": f"Bearer {keys['admin-tenant']}"})
        assert not guard.is_admin({"authorization": f"Bearer {keys['tenant']}"})
        assert not guard.is_admin({"authorization": "Basic abc"})
        assert not guard.is_admin({})
