"""``semdns key gen | show`` with paths that cannot be written or read: exit 1 naming the path."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from semdns.cli import _register, app

_register()
runner = CliRunner()


def test_gen_under_a_file_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    out = tmp_path / "a-file" / "zone.key"
    result = runner.invoke(app, ["key", "gen", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: cannot write {out}" in result.output
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a folder\n"


def test_show_names_a_missing_file_and_a_binary_one(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    gone = runner.invoke(app, ["key", "show", str(missing)])
    assert gone.exit_code == 1 and gone.output.startswith("error:") and "missing.key" in gone.output
    binary = tmp_path / "binary.key"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    shown = runner.invoke(app, ["key", "show", str(binary)])
    assert shown.exit_code == 1, shown.output
    assert isinstance(shown.exception, SystemExit)
    assert shown.output.startswith("error:") and "binary.key" in shown.output
