"""Malformed ``SEMDNS_*`` settings read at start-up (:meth:`GatewaySettings.from_env`) and their path
through ``semdns serve``: a clear error naming the variable, before anything is built."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app
from semdns.gateway import GatewaySettings

SMALL = Path(__file__).parent.parent / "data" / "zones" / "small.yaml"
runner = CliRunner()


@pytest.mark.parametrize(
    ("variable", "value", "kind"),
    [
        ("SEMDNS_MAX_BODY_BYTES", "abc", "int"),
        ("SEMDNS_MAX_BODY_BYTES", "1e6", "int"),
        ("SEMDNS_MAX_BODY_BYTES", "", "int"),
        ("SEMDNS_LOCAL_MAX_QUEUE", "8.5", "int"),
        ("SEMDNS_ADMIN_RESOLVE_PER_MIN", "lots", "int"),
        ("SEMDNS_BODY_TIMEOUT_S", "30s", "float"),
        ("SEMDNS_RETRY_BUDGET_RATIO", "20%", "float"),
    ],
)
def test_a_malformed_number_names_the_variable(variable: str, value: str, kind: str) -> None:
    with pytest.raises(ValueError) as caught:
        GatewaySettings.from_env({variable: value})
    assert str(caught.value) == f"{variable}={value!r} is not a valid {kind}"


def test_serve_refuses_a_malformed_setting_before_building_anything() -> None:
    _register()
    result = runner.invoke(
        app, ["serve", "--zone", str(SMALL), "--port", "1"], env={"SEMDNS_BODY_TIMEOUT_S": "soon"}
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "error: SEMDNS_BODY_TIMEOUT_S='soon' is not a valid float" in result.output
    assert "building the resolver" not in result.output


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_true_spellings(value: str) -> None:
    assert GatewaySettings.from_env({"SEMDNS_CACHE_SHADOW": value}).cache_shadow is True


@pytest.mark.parametrize("value", ["ture", "enabled", "2"])
def test_a_malformed_boolean_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="SEMDNS_PROBES"):
        GatewaySettings.from_env({"SEMDNS_PROBES": value})


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SEMDNS_MAX_BODY_BYTES", "-5"), ("SEMDNS_BODY_TIMEOUT_S", "nan")],
)
def test_an_out_of_range_number_is_refused(variable: str, value: str) -> None:
    with pytest.raises(ValueError, match=variable):
        GatewaySettings.from_env({variable: value})


@pytest.mark.parametrize("value", ["0", "false", "No", " off ", ""])
def test_false_spellings(value: str) -> None:
    assert GatewaySettings.from_env({"SEMDNS_PROBES": value}).probes is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_body_bytes", 0, "max_body_bytes must be at least 1, got 0"),
        ("local_threads", -1, "local_threads must be at least 0, got -1"),
        ("body_timeout_s", 0.0, "body_timeout_s must be above 0 seconds, got 0"),
        ("retry_budget_ratio", float("inf"), "retry_budget_ratio must be a finite number, got inf"),
    ],
)
def test_settings_out_of_range_are_refused_however_they_are_given(
    field: str, value: float, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        GatewaySettings(**{field: value})  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_serve_refuses_an_out_of_range_option_before_building_anything() -> None:
    _register()
    result = runner.invoke(app, ["serve", "--zone", str(SMALL), "--port", "1", "--max-body-bytes", "-5"])
    assert result.exit_code == 2, result.output
    assert "error: max_body_bytes must be at least 1, got -5" in result.output
    assert "building the resolver" not in result.output
