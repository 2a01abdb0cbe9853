"""``semdns tenant add`` keeps the tenants file's comments and layout: each change is a splice, every
other line stays byte for byte; layouts the editor does not handle are rewritten, still valid."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from semdns.errors import TenantsFileError
from semdns.tenancy import add_tenant_key, hash_key, load_tenants

H1 = "sha256:" + "1" * 64
H2 = "sha256:" + "2" * 64

FILE = f"""\
# Tenants of the staging gateway. Owner: platform team.
tenants:
    # the legal department
    acme:
        keys:
            - {H1}   # laptop key, rotate in March
        subtrees: [legal., code.]   # nothing else
        requests_per_min: 600       # agreed in the contract

    ops:
        keys: [{H2}]  # the on-call key
        admin: true
# end of tenants
"""


def changes(before: str, after: str) -> list[str]:
    """The lines added or removed (ignoring the diff's own headers)."""
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_a_key_for_a_block_list_tenant_is_one_more_line(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(FILE, encoding="utf-8")
    key = add_tenant_key(path, "acme")
    after = path.read_text(encoding="utf-8")
    assert changes(FILE, after) == [f"+            - {hash_key(key)}"]
    assert load_tenants(path).by_key_hash[hash_key(key)].name == "acme"


def test_a_key_for_a_flow_list_tenant_keeps_the_comment(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(FILE, encoding="utf-8")
    key = add_tenant_key(path, "ops")
    assert changes(FILE, path.read_text(encoding="utf-8")) == [
        f"-        keys: [{H2}]  # the on-call key",
        f"+        keys: [{H2}, {hash_key(key)}]  # the on-call key",
    ]


def test_a_new_tenant_is_appended_in_the_files_indentation(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(FILE, encoding="utf-8")
    key = add_tenant_key(path, "team-b", subtrees=("medical.",), requests_per_min=5)
    after = path.read_text(encoding="utf-8")
    assert changes(FILE, after) == [
        "+    team-b:",
        f"+        keys: [{hash_key(key)}]",
        "+        subtrees: [medical.]",
        "+        requests_per_min: 5",
    ]
    tenant = load_tenants(path).by_name["team-b"]
    assert tenant.requests_per_min == 5 and [str(s) for s in tenant.subtrees] == ["medical."]


def test_settings_of_an_existing_tenant_are_replaced_or_added_in_place(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(FILE, encoding="utf-8")
    key = add_tenant_key(path, "acme", requests_per_min=60, daily_tokens=1000)
    assert changes(FILE, path.read_text(encoding="utf-8")) == [
        "+        daily_tokens: 1000",
        f"+            - {hash_key(key)}",
        "-        requests_per_min: 600       # agreed in the contract",
        "+        requests_per_min: 60       # agreed in the contract",
    ]
    acme = load_tenants(path).by_name["acme"]
    assert (acme.requests_per_min, acme.daily_tokens) == (60, 1000)


def test_a_tenant_without_keys_gets_a_keys_line(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    text = "tenants:\n  solo:   # no key yet\n    subtrees: [code.]\n"
    path.write_text(text, encoding="utf-8")
    key = add_tenant_key(path, "solo")
    assert changes(text, path.read_text(encoding="utf-8")) == [f"+    keys: [{hash_key(key)}]"]
    assert "# no key yet" in path.read_text(encoding="utf-8")


def test_a_flow_mapping_tenant_is_rewritten_and_still_valid(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(f"tenants:\n  acme: {{keys: [{H1}], admin: true}}\n", encoding="utf-8")
    key = add_tenant_key(path, "acme")
    tenants = load_tenants(path)
    assert tenants.by_key_hash[hash_key(key)].name == "acme" and tenants.by_key_hash[H1].admin


def test_a_new_file_and_a_file_without_a_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "new.yaml"
    first = add_tenant_key(path, "acme")
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    second = add_tenant_key(path, "acme")
    assert {hash_key(first), hash_key(second)} <= set(load_tenants(path).by_key_hash)


def test_an_invalid_file_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    bad = "tenants:\n  acme:\n    keys: [sk-in-clear]   # oops\n"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(TenantsFileError, match=r"tenants.yaml:3"):
        add_tenant_key(path, "acme")
    assert path.read_text(encoding="utf-8") == bad
