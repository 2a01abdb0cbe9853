"""``semdns key gen | show`` through the real CLI entry point: a key file written private, its public
half printed for the parent's delegation record, and clear errors for what cannot be used."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from semdns.cli import _register, app

_register()
runner = CliRunner()


def _public(output: str) -> str:
    lines = output.splitlines()
    return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("public key:"))


def test_gen_writes_a_private_key_and_show_prints_the_same_public_half(tmp_path: Path) -> None:
    out = tmp_path / "keys" / "legal.key"
    made = runner.invoke(app, ["key", "gen", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "relative to the zone file" in made.output  # the zone file names it by its own path
    assert f"    public_key: {_public(made.output)}" in made.output  # the parent's record, ready to paste
    shown = runner.invoke(app, ["key", "show", str(out)])
    assert shown.exit_code == 0, shown.output
    assert _public(shown.output) == _public(made.output)


def test_gen_keeps_an_existing_key_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "legal.key"
    first = runner.invoke(app, ["key", "gen", "--out", str(out)])
    kept = runner.invoke(app, ["key", "gen", "--out", str(out)])
    assert kept.exit_code == 1 and "--force" in kept.output
    assert _public(runner.invoke(app, ["key", "show", str(out)]).output) == _public(first.output)
    replaced = runner.invoke(app, ["key", "gen", "--out", str(out), "--force"])
    assert replaced.exit_code == 0 and _public(replaced.output) != _public(first.output)


def test_show_refuses_a_file_that_is_not_a_key_and_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "not-a.key"
    bad.write_text("-----BEGIN NOTHING-----\nxyz\n")
    shown = runner.invoke(app, ["key", "show", str(bad)])
    assert shown.exit_code == 1
    assert shown.output.startswith("error:") and "not-a.key" in shown.output
