"""Zone fields for signed delegation: ``signing_key`` (zone level) and delegation records."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from semdns.errors import ZoneError
from semdns.names import Name
from semdns.protocol.signing import ZoneKey
from semdns.zone import load_zone_files

WriteZone = Callable[..., Path]


def problems(paths: list[Path]) -> list[str]:
    with pytest.raises(ZoneError) as info:
        load_zone_files(paths)
    return [str(i) for i in info.value.issues]


def test_signing_key_is_resolved_relative_to_the_zone_file(write_zone: WriteZone, tmp_path: Path) -> None:
    ZoneKey.generate().save(tmp_path / "keys" / "legal.key")
    path = write_zone("origin: legal.\nsigning_key: keys/legal.key\nnodes:\n  '@': {}\n", "legal.yaml")
    tree = load_zone_files([path])
    assert tree.signing_keys == {Name.parse("legal."): str(tmp_path / "keys" / "legal.key")}


MALFORMED = [
    pytest.param(
        "origin: .\nsigning_key: keys/missing.key\nnodes:\n  '@': {}\n",
        2,
        "key file",
        id="signing-key-missing-file",
    ),
    pytest.param(
        "origin: .\nsigning_key: '  '\nnodes:\n  '@': {}\n", 2, "signing_key is blank", id="blank-key"
    ),
    pytest.param(
        "origin: .\nsigning_key: [a]\nnodes:\n  '@': {}\n", 2, "valid string", id="key-not-a-string"
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    delegation:\n      servers: [http://127.0.0.1:1]\n      ttl: -5\n",
        6,
        "greater than or equal to 0",
        id="negative-delegation-ttl",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    delegation:\n      servers: [not-a-url]\n",
        5,
        "URL",
        id="delegation-server-not-a-url",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    delegation:\n      servers: [http://127.0.0.1:1]\n"
        "      public_key: AAAA\n",
        6,
        "32 bytes",
        id="public-key-wrong-length",
    ),
]


@pytest.mark.parametrize(("text", "line", "message"), MALFORMED)
def test_malformed_delegation_fields(write_zone: WriteZone, text: str, line: int, message: str) -> None:
    path = write_zone(text, "bad.yaml")
    found = problems([path])
    assert found[0].startswith(f"{path}:{line}:"), found[0]
    assert message in found[0], found[0]
    if "missing-file" in text or "missing.key" in text:
        assert "semdns key gen --out" in found[0]
