"""``semdns simulate -o DIR`` loses nothing when DIR cannot be a folder (a regular file there, or above
it): the file is kept byte for byte and the error names the path (exit status, not a traceback), so the
run's table is not lost in a stack trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app

_register()
runner = CliRunner()

TINY = "seed: 1\nrequests: {count: 20}\ntopology: {kinds: [flat], engines: [8]}\n"


def test_a_tiny_run_writes_its_results(tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text(TINY, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["simulate", "--config", str(config), "-o", str(out), "--no-plots", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "results.json"]


@pytest.mark.parametrize("preset", [None, "cascade"])
@pytest.mark.parametrize("where", ["under", "is"])
def test_an_out_that_cannot_be_a_folder_is_named_and_the_file_kept(
    tmp_path: Path, preset: str | None, where: str
) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text(TINY, encoding="utf-8")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    out = blocker / "out" if where == "under" else blocker
    args = ["simulate", *([preset] if preset else []), "--config", str(config), "-o", str(out)]
    result = runner.invoke(app, [*args, "--no-plots", "--no-progress"])
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0 and "error: " in result.output and str(out) in result.output
