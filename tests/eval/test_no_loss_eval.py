"""``semdns eval routing --report DIR`` loses nothing when DIR cannot be a folder (a regular file there,
or above it): the file is kept byte for byte and the error names the path (exit status, not a
traceback, which also throws away the evaluation it has just run). The random router keeps it fast."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app

DATA = Path(__file__).parent.parent / "data"
SMALL_ZONE = str(DATA / "zones" / "small.yaml")
SMALL_SET = str(DATA / "eval" / "small.jsonl")
_register()
runner = CliRunner()


@pytest.mark.parametrize("where", ["under", "is"])
def test_a_report_that_cannot_be_a_folder_is_named_and_the_file_kept(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    report = blocker / "report" if where == "under" else blocker
    args = ["eval", "routing", "--zone", SMALL_ZONE, "--data", SMALL_SET, "--router", "random"]
    result = runner.invoke(app, [*args, "--report", str(report)])
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0 and "error: " in result.output and str(report) in result.output
