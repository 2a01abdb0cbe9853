"""``semdns dig`` and ``semdns zone check`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app

SMALL = Path(__file__).parent / "data" / "zones" / "small.yaml"
_register()
runner = CliRunner()


def test_dig_text_output_has_dig_sections() -> None:
    result = runner.invoke(app, ["dig", "--zone", str(SMALL), "my puppy chews the leash of my other dog"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "; <<>> semdns dig" in out
    assert ";; QUESTION SECTION:" in out and ";; ANSWER SECTION:" in out and ";; TRACE SECTION:" in out
    answer = out.split(";; ANSWER SECTION:")[1].splitlines()[1]
    assert answer.startswith("dogs.animals.") and "CN=dogs,OU=animals" in answer and "IN  CONF" in answer
    assert ";  .  " in out and "-> animals." in out and "keyword" in out
    assert ";; Query time:" in out


def test_dig_json_keys() -> None:
    result = runner.invoke(
        app, ["dig", "--json", "--zone", str(SMALL), "is catnip safe for kittens and cats"]
    )
    assert result.exit_code == 0, result.output
    obj = json.loads(result.output.strip().splitlines()[-1])
    for key in ("query", "names", "confidence", "trace", "cache", "elapsed_us"):
        assert key in obj
    assert obj["names"] == ["cats.animals."]
    assert obj["trace"][0]["outcome"] == "keyword"
    assert obj["cache"] == "miss"


def test_dig_batch_mode_from_file_and_stdin(tmp_path: Path) -> None:
    batch = tmp_path / "queries.txt"
    batch.write_text(
        "# comment\nmy puppy chews the leash of my dog\n\nhow do I adjust the derailleur on my bike pedal\n"
    )
    result = runner.invoke(app, ["dig", "--json", "--zone", str(SMALL), "-f", str(batch)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.strip().splitlines()]
    assert [x["names"][0] for x in lines] == ["dogs.animals.", "bikes.vehicles."]
    piped = runner.invoke(
        app,
        ["dig", "--json", "--zone", str(SMALL), "-f", "-"],
        input="my puppy chews the leash of my dog\n" * 2,
    )
    caches = [json.loads(x)["cache"] for x in piped.output.strip().splitlines()]
    assert caches == ["miss", "hit"], "one process, one cache: the repeat is a hit"


def test_dig_errors(tmp_path: Path) -> None:
    nothing = runner.invoke(app, ["dig", "--zone", str(SMALL)])
    assert nothing.exit_code == 2 and "give a query" in nothing.output
    missing = runner.invoke(app, ["dig", "--zone", str(SMALL), "-f", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 1 and "cannot read" in missing.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("origin: .\nnodes:\n  '@':\n    colour: red\n")
    broken = runner.invoke(app, ["dig", "--zone", str(bad), "hello"])
    assert broken.exit_code == 1 and f"{bad}:4: nodes.@.colour: unknown field 'colour'" in broken.output


@pytest.mark.parametrize("files", [[SMALL]])
def test_zone_check_ok(files: list[Path]) -> None:
    result = runner.invoke(app, ["zone", "check", *map(str, files)])
    assert result.exit_code == 0, result.output
    assert "ok: 7 names under ." in result.output


def test_zone_check_reports_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("origin: .\nttl: soon\nnodes:\n  '@':\n    keywrods: [x]\n")
    result = runner.invoke(app, ["zone", "check", str(bad)])
    assert result.exit_code == 1
    assert f"error: {bad}:2: ttl:" in result.output
    assert f"error: {bad}:5: nodes.@.keywrods: unknown field 'keywrods'" in result.output
    assert "2 problem(s) found" in result.output


# -- malformed input ----------------------------------------------------------------------------------


def test_a_batch_file_that_is_a_folder_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["dig", "--zone", str(SMALL), "-f", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: cannot read {tmp_path}" in result.output


@pytest.mark.parametrize("flags", [["--trace"], ["--trust-key", "ed25519:abc"], ["--within", "legal."]])
def test_remote_only_flags_without_server_are_refused(flags: list[str]) -> None:
    result = runner.invoke(app, ["dig", "--zone", str(SMALL), *flags, "hello"])
    assert result.exit_code == 2 and "need --server URL" in result.output


def test_a_batch_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    batch = tmp_path / "queries.txt"
    batch.write_bytes(b"my puppy chews the leash\ncaf\xe9 au lait\n")
    result = runner.invoke(app, ["dig", "--zone", str(SMALL), "--json", "-f", str(batch)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1 and f"error: cannot read {batch}" in result.output


def test_zone_check_names_a_file_it_cannot_read(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"origin: .\nnodes:\n  '@':\n    description: caf\xe9\n")
    missing = tmp_path / "missing.yaml"
    result = runner.invoke(app, ["zone", "check", str(latin1), str(missing), str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: {latin1}: cannot read the file: 'utf-8' codec can't decode" in result.output
    assert f"error: {missing}: cannot read the file" in result.output
    assert f"error: {tmp_path}: cannot read the file" in result.output
    assert "3 problem(s) found" in result.output
