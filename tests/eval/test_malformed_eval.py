"""``semdns eval routing | ablate`` fed malformed sets through the real CLI: exit 2 naming the file (and
the line), before any router or encoder is built."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app

SMALL_ZONE = Path(__file__).parent.parent / "data" / "zones" / "small.yaml"
_register()
runner = CliRunner()


@pytest.mark.parametrize("command", [["routing", "--router", "random"], ["ablate"]])
def test_a_set_that_is_not_utf8_is_named(tmp_path: Path, command: list[str]) -> None:
    data = tmp_path / "latin1.jsonl"
    data.write_bytes(b'{"query": "caf\xe9", "expected": "."}\n')
    result = runner.invoke(app, ["eval", *command, "--zone", str(SMALL_ZONE), "--data", str(data)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: {data}: cannot read the file" in result.stderr and "UTF-8" in result.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [('{"query": "hi", "expected": 5}', "'expected' must be a name string"), ("{oops", "")],
)
def test_ablate_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    data = tmp_path / "set.jsonl"
    data.write_text('{"query": "a puppy", "expected": "."}\n' + line + "\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", "ablate", "--zone", str(SMALL_ZONE), "--data", str(data)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: {data}:2: " in result.stderr and message in result.stderr
