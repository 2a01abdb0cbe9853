"""``semdns compress train-dict --out`` loses nothing: the versions already in the folder survive byte
for byte whatever happens to the new one, a folder that cannot be made is named, and a version whose
write failed is not left half-written (it would take the next version number, and a zone file naming
it would load a dictionary cut short).

A full disk is real here: ``RLIMIT_FSIZE`` makes writes past the limit fail with EFBIG (also as root)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from disk_full import disk_full_after
from semdns.cli import _register, app
from semdns.compress.dictionaries import next_version

_register()
runner = CliRunner()

SAMPLES = [
    f"Clause {i}. The lessee shall pay the rent of {100 + i} euros on the first day of each month, "
    f"subject to the terms and conditions herein; late payment incurs interest of {i % 7} percent."
    for i in range(200)
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"text": s}) + "\n" for s in SAMPLES), encoding="utf-8")
    return path


def train(corpus: Path, out: Path) -> object:
    return runner.invoke(
        app, ["compress", "train-dict", "legal.", str(corpus), "--out", str(out), "--size", "4096"]
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_an_out_folder_under_a_regular_file_is_named_and_the_file_kept(tmp_path: Path, corpus: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    out = blocker / "dicts"
    result = train(corpus, out)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: cannot write into {out}" in result.output
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"


def test_a_full_disk_keeps_the_earlier_versions_and_is_named(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "dicts"
    assert train(corpus, out).exit_code == 0
    before = snapshot(out)
    assert sorted(before) == ["legal.v1.json", "legal.v1.zdict"]
    with disk_full_after(1000):  # the 4 KiB dictionary is cut in its first kilobyte
        result = train(corpus, out)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: cannot write into {out}" in result.output
    after = snapshot(out)
    assert {name: after.get(name) for name in before} == before


def test_a_full_disk_leaves_no_half_written_version(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "dicts"
    assert train(corpus, out).exit_code == 0
    with disk_full_after(1000):
        train(corpus, out)
    assert sorted(p.name for p in out.iterdir()) == ["legal.v1.json", "legal.v1.zdict"]
    assert next_version(out, "legal.") == 2
