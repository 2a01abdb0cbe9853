"""Tenants file, keys, permissions and limits (over the in-process state; Redis is covered in
tests/state and by the two-process gateway tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from semdns.errors import Forbidden, RateLimited, TenantsFileError, Unauthorized
from semdns.names import Name
from semdns.state import MemoryState
from semdns.tenancy import Gatekeeper, add_tenant_key, hash_key, load_tenants, parse_tenants

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


GOOD_HASH = hash_key("sk-semdns-test")

MALFORMED = [
    ("", "a tenants file must be a mapping"),
    ("tenants: {}\n", "tenants"),
    ("- a\n- b\n", "must be a mapping with a 'tenants' key"),
    (
        "tenants:\n  acme:\n    keys: [sk-semdns-abc]\n",
        ":3: tenants.acme.keys: key #1 is not a key hash; this looks like a key in clear",
    ),
    ("tenants:\n  acme:\n    keys: [abc]\n", "write sha256:<64 hex digits>"),
    ("tenants:\n  acme:\n    subtrees: ['bad name!']\n", "subtree 'bad name!'"),
    ("tenants:\n  acme:\n    subtrees: []\n", "subtrees is empty"),
    ("tenants:\n  acme:\n    requests_per_min: 0\n", "tenants.acme.requests_per_min"),
    ("tenants:\n  acme:\n    outside: fallback\n", "tenants.acme.outside"),
    ("tenants:\n  acme:\n    rpm: 5\n", "unknown field 'rpm'; allowed here:"),
    ("tenants:\n  Acme Corp:\n    admin: true\n", "tenant name 'Acme Corp' must be lower-case"),
    ("tenants:\n  a:\n    x: 1\n  a:\n    x: 2\n", "duplicate"),
    (
        f"tenants:\n  a:\n    keys: ['{GOOD_HASH}']\n  b:\n    keys: ['{GOOD_HASH}']\n",
        "tenants.b.keys.0: this key hash is already held by tenant 'a'",
    ),
    ("tenants: [\n", "tenants"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_bad_tenants_files_get_clear_errors(text: str, message: str) -> None:
    with pytest.raises(TenantsFileError, match=None) as info:
        parse_tenants(text, "tenants.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("tenants.yaml")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TenantsFileError, match="cannot read the tenants file"):
        load_tenants(tmp_path / "nope.yaml")


def test_tenant_add_stores_only_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    key = add_tenant_key(path, "acme", subtrees=("legal.",), requests_per_min=5)
    second = add_tenant_key(path, "acme")
    text = path.read_text()
    assert key.startswith("sk-semdns-") and key not in text and second not in text
    assert hash_key(key) in text and hash_key(second) in text
    tenants = load_tenants(path)
    assert tenants.by_key_hash[hash_key(key)].name == "acme"
    assert tenants.by_name["acme"].requests_per_min == 5
    with pytest.raises(TenantsFileError, match="must be lower-case"):
        add_tenant_key(path, "Bad Name")


def tenants_gate(text: str) -> Gatekeeper:
    return Gatekeeper(parse_tenants(text), MemoryState())


def test_authentication() -> None:
    gate = tenants_gate(f"tenants:\n  acme:\n    keys: ['{GOOD_HASH}']\n")
    assert gate.authenticate("Bearer sk-semdns-test").scope == "t:acme"
    with pytest.raises(Unauthorized, match="not valid"):
        gate.authenticate("Bearer sk-semdns-wrong")
    with pytest.raises(Unauthorized, match="requires an API key"):
        gate.authenticate(None)
    with pytest.raises(Unauthorized, match="must be 'Bearer <API key>'"):
        gate.authenticate("Basic abc")


def test_open_mode_gives_each_key_its_own_scope() -> None:
    gate = Gatekeeper(None, MemoryState())
    a, b = gate.authenticate("Bearer one"), gate.authenticate("Bearer two")
    assert a.scope != b.scope and a.scope.startswith("k:") and "one" not in a.scope
    assert gate.authenticate(None).scope == "anon"
    assert gate.authenticate("Bearer one") == a


def test_subtree_permissions() -> None:
    gate = tenants_gate(
        f"tenants:\n  strict:\n    keys: ['{GOOD_HASH}']\n    subtrees: [python.code.]\n"
        "  loose:\n    subtrees: [python.code.]\n    outside: ancestor\n"
    )
    strict = gate.authenticate("Bearer sk-semdns-test")
    assert gate.permit(strict, Name.parse("python.code.")) == Name.parse("python.code.")
    with pytest.raises(Forbidden, match=r"may not use devops\.code\."):
        gate.permit(strict, Name.parse("devops.code."))
    assert gate.tenants is not None
    loose = type(strict)("t:loose", gate.tenants.by_name["loose"])
    assert gate.permit(loose, Name.parse("devops.code.")) == Name.parse("code.")
    assert gate.permit(loose, Name.parse("contracts.legal.")) == Name.parse(".")


async def test_request_limit_then_429_with_headers() -> None:
    gate = tenants_gate(f"tenants:\n  acme:\n    keys: ['{GOOD_HASH}']\n    requests_per_min: 2\n")
    who = gate.authenticate("Bearer sk-semdns-test")
    first = await gate.admit(who)
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    await gate.admit(who)
    with pytest.raises(RateLimited) as info:
        await gate.admit(who)
    assert int(info.value.headers["retry-after"]) >= 1
    assert info.value.headers["x-ratelimit-remaining-requests"] == "0"
    assert info.value.http_status == 429


async def test_token_limit_and_daily_quota_are_post_paid() -> None:
    gate = tenants_gate(
        f"tenants:\n  acme:\n    keys: ['{GOOD_HASH}']\n    tokens_per_min: 100\n"
        "  daily:\n    daily_tokens: 50\n"
    )
    who = gate.authenticate("Bearer sk-semdns-test")
    await gate.admit(who)
    await gate.settle(who, 150)
    with pytest.raises(RateLimited, match="100 tokens per minute"):
        await gate.admit(who)
    assert gate.tenants is not None
    daily = type(who)("t:daily", gate.tenants.by_name["daily"])
    await gate.admit(daily)
    await gate.settle(daily, 50)
    with pytest.raises(RateLimited, match="daily quota of 50 tokens"):
        await gate.admit(daily)
