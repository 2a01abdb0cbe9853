"""``semdns key gen --out`` loses nothing: ``--force`` over an existing key must not leave a readable
private key (0600 whatever the old file's mode) nor, when the write fails, destroy the old key; a new
key cut short must not be left half-written (it would block the next ``key gen`` without --force).

A full disk is real here: ``RLIMIT_FSIZE`` makes writes past the limit fail with EFBIG (also as root)."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from disk_full import disk_full_after
from semdns.cli import _register, app

_register()
runner = CliRunner()


def gen(out: Path, *flags: str) -> object:
    return runner.invoke(app, ["key", "gen", "--out", str(out), *flags])


def test_force_over_a_readable_file_leaves_a_private_key(tmp_path: Path) -> None:
    out = tmp_path / "zone.key"
    out.write_text("an old, readable file\n", encoding="utf-8")
    out.chmod(0o644)
    result = gen(out, "--force")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_force_cut_short_by_a_full_disk_keeps_the_old_key(tmp_path: Path) -> None:
    out = tmp_path / "zone.key"
    assert gen(out).exit_code == 0
    before = out.read_bytes()
    with disk_full_after(40):  # a PEM Ed25519 key is 119 bytes
        result = gen(out, "--force")
    assert result.exit_code == 1 and f"error: cannot write {out}" in result.output
    assert isinstance(result.exception, SystemExit)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zone.key"]


def test_a_new_key_cut_short_leaves_no_half_written_file(tmp_path: Path) -> None:
    out = tmp_path / "zone.key"
    with disk_full_after(40):
        result = gen(out)
    assert result.exit_code == 1 and f"error: cannot write {out}" in result.output
    assert isinstance(result.exception, SystemExit)
    assert list(tmp_path.iterdir()) == []


def test_force_onto_a_folder_names_it_and_keeps_what_is_inside(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    out.mkdir()
    (out / "legal.key").write_bytes(b"kept\n")
    result = gen(out, "--force")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: cannot write {out}" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["legal.key"]
    assert (out / "legal.key").read_bytes() == b"kept\n"


def test_without_force_an_existing_private_key_is_kept_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "zone.key"
    assert gen(out).exit_code == 0
    before, mode = out.read_bytes(), stat.S_IMODE(out.stat().st_mode)
    result = gen(out)
    assert result.exit_code == 1 and str(out) in result.output and "--force" in result.output
    assert out.read_bytes() == before and stat.S_IMODE(out.stat().st_mode) == mode == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zone.key"]
