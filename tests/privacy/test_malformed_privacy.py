"""``semdns eval privacy`` fed malformed sets through the real CLI: exit 2 with ``file:line``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app

_register()
runner = CliRunner()
GOOD = json.dumps({"text": "write to a@b.io", "spans": [{"kind": "email", "start": 9, "end": 15}]})


def _good_set(tmp_path: Path) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text(GOOD + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", ":2:"),
        ("[1, 2]", ":2:"),
        ('{"other": 1}', 'no "query" or "text"'),
        ('{"query": 5}', ":2:"),
    ],
)
def test_a_malformed_negatives_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    negatives = tmp_path / "negatives.jsonl"
    negatives.write_text('{"query": "what is 2+2?"}\n' + line + "\n", encoding="utf-8")
    result = runner.invoke(
        app, ["eval", "privacy", "--data", str(_good_set(tmp_path)), "--negatives", str(negatives)]
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: {negatives}:2" in result.output and message in result.output


def test_a_missing_negatives_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "none.jsonl"
    result = runner.invoke(
        app, ["eval", "privacy", "--data", str(_good_set(tmp_path)), "--negatives", str(missing)]
    )
    assert result.exit_code == 2 and f"error: {missing}: cannot read" in result.output


def test_an_unknown_match_mode_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "privacy", "--data", str(_good_set(tmp_path)), "--match", "fuzzy"])
    assert result.exit_code == 2 and "--match must be overlap or exact, not 'fuzzy'" in result.output


def test_a_set_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "caf\xe9", "spans": []}\n')
    result = runner.invoke(app, ["eval", "privacy", "--data", str(path)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and f"error: {path}" in result.output


def test_negatives_that_are_not_utf8_are_named(tmp_path: Path) -> None:
    negatives = tmp_path / "latin1.jsonl"
    negatives.write_bytes(b'{"query": "caf\xe9"}\n')
    result = runner.invoke(
        app, ["eval", "privacy", "--data", str(_good_set(tmp_path)), "--negatives", str(negatives)]
    )
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and f"error: {negatives}" in result.output
