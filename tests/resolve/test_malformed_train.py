"""``semdns train`` fed malformed corpus lists and artefacts through the real CLI (nothing is trained:
every case stops before the encoder is used)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from semdns.cli import _register, app

SMALL = Path(__file__).parent.parent / "data" / "zones" / "small.yaml"
_register()
runner = CliRunner()


def test_a_corpus_list_naming_a_missing_file_is_refused(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("# corpora\nnot/there.jsonl  # typo\n", encoding="utf-8")
    out = tmp_path / "clf.npz"
    result = runner.invoke(app, ["train", "--zone", str(SMALL), "--corpus", f"@{listing}", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "error: not/there.jsonl: no such corpus file" in result.output
    assert not out.exists()


def test_check_names_an_artefact_it_cannot_read(tmp_path: Path) -> None:
    junk = tmp_path / "clf.npz"
    junk.write_bytes(b"not an npz at all")
    result = runner.invoke(app, ["train", "--zone", str(SMALL), "--check", "-o", str(junk)])
    assert result.exit_code == 1, result.output
    assert f"{junk}: stale: cannot read it" in result.output
    assert junk.read_bytes() == b"not an npz at all"


def test_a_corpus_list_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"corpora/caf\xe9.jsonl\n")
    result = runner.invoke(app, ["train", "--zone", str(SMALL), "--corpus", f"@{listing}", "--check"])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and f"error: {listing}: cannot read the corpus list" in result.output
