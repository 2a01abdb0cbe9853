"""``semdns simulate`` fed malformed configs through the real CLI: exit 1 (2 for misuse) with a message
naming the file and the field, and no results written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app

_register()
runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("topology:\n  branching: [\n", "YAML syntax error"),
        ("- a\n- b\n", "(top level): the config must be a mapping"),
        ("topology:\n  brunching: 3\n", "topology.brunching: Extra inputs are not permitted"),
        ("requests:\n  count: many\n", "requests.count"),
    ],
)
@pytest.mark.parametrize("preset", [None, "cascade"])
def test_a_malformed_config_names_the_file_and_field(
    tmp_path: Path, text: str, message: str, preset: str | None
) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    args = ["simulate", *([preset] if preset else []), "--config", str(config), "-o", str(out)]
    result = runner.invoke(app, [*args, "--no-plots", "--no-progress"] if preset is None else args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: {config}:" in result.output and message in result.output
    assert not out.exists()


def test_a_bad_cascade_flag_names_the_field(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["simulate", "cascade", "--escalation-share", "7", "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "error: cascade.escalation_share: Input should be less than or equal to 1" in result.output
    assert not out.exists()


def test_misuse_is_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "sim.yaml"
    config.write_text("seed: 1\n", encoding="utf-8")
    both = runner.invoke(app, ["simulate", "paper-table", "--config", str(config), "-o", str(tmp_path / "o")])
    assert both.exit_code == 2 and "not both" in both.output
    unknown = runner.invoke(app, ["simulate", "fancy", "-o", str(tmp_path / "o")])
    assert unknown.exit_code == 2 and "unknown preset 'fancy'" in unknown.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("preset", [None, "cascade"])
def test_a_config_that_is_not_utf8_names_the_file(tmp_path: Path, preset: str | None) -> None:
    config = tmp_path / "sim.yaml"
    config.write_bytes(b"seed: 1\n# caf\xe9\n")
    out = tmp_path / "out"
    args = ["simulate", *([preset] if preset else []), "--config", str(config), "-o", str(out), "--no-plots"]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1 and f"error: {config}" in result.output
    assert not out.exists()
