"""``semdns compress train-dict`` fed malformed corpora through the real CLI: exit 1 with ``file:line``
and no dictionary written (a bad option is exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app

_register()
runner = CliRunner()
GOOD = "".join(json.dumps({"text": f"clause {i}: the lessee shall pay the rent"}) + "\n" for i in range(40))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected an object with 'text', 'query', 'prompt' or 'messages'"),
        ('{"text": 5}', "expected an object"),
        ('{"messages": "hi"}', "expected an object"),
    ],
)
def test_a_malformed_corpus_line_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(GOOD + line + "\n", encoding="utf-8")
    out = tmp_path / "dicts"
    result = runner.invoke(app, ["compress", "train-dict", "legal.", str(corpus), "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: {corpus}:41: " in result.output and message in result.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("size", ["10", "2000000", "-1"])
def test_a_size_out_of_range_is_refused(tmp_path: Path, size: str) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(GOOD, encoding="utf-8")
    out = tmp_path / "dicts"
    result = runner.invoke(
        app, ["compress", "train-dict", "legal.", str(corpus), "--out", str(out), "--size", size]
    )
    assert result.exit_code == 2 and "--size must be between 1024 and 1048576" in result.output
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".txt"])
def test_a_corpus_that_is_not_utf8_is_named(tmp_path: Path, suffix: str) -> None:
    corpus = tmp_path / f"corpus{suffix}"
    corpus.write_bytes(b'{"text": "caf\xe9"}\n')
    out = tmp_path / "dicts"
    result = runner.invoke(app, ["compress", "train-dict", "legal.", str(corpus), "--out", str(out)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1 and f"error: {corpus}" in result.output
    assert not out.exists()
