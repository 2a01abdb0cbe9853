"""Config validation: each bad config is refused with a message that names the offending field."""

from __future__ import annotations

from pathlib import Path

import pytest

from semdns.sim import SimConfigError, load_config, parse_config
from semdns.sim.calibration import read_calibration, stage_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sim"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"requests": {"count": 0}}, "requests.count"),
        ({"requests": {"rate_per_s": 10, "rate_per_engine_s": 1}}, "requests"),
        ({"requests": {"arrivals": {"kind": "lumpy"}}}, "requests.arrivals.kind"),
        ({"requests": {"popularity": {"zipf_s": -1}}}, "requests.popularity.zipf_s"),
        ({"engines": {"accelerator": "tpu-v9"}}, "engines.accelerator"),
        ({"engines": {"tiers": {"huge": {"params_b": 1, "kv_bytes_per_token": 1}}}}, "engines.tiers"),
        ({"topology": {"branching": 1}}, "topology.branching"),
        ({"topology": {"engines": [8, 0]}}, "topology.engines"),
        ({"topology": {"kinds": ["mesh"]}}, "topology.kinds.0"),
        ({"resolver": {"stages": {"keyword": {"share": 0.5, "p50_us": 1, "p99_us": 2}}}}, "resolver.stages"),
        ({"resolver": {"cached": {"p50_us": 10, "p99_us": 1}}}, "resolver.cached"),
        (
            {"network": {"intra_rack": {"latency_us": 1, "bandwidth_gbps": 0}}},
            "network.intra_rack.bandwidth_gbps",
        ),
        ({"failures": {"mtbf_s": 0}}, "failures.mtbf_s"),
        ({"requests": {"cuont": 5}}, "requests.cuont"),
    ],
)
def test_bad_config_names_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(SimConfigError) as err:
        parse_config(data)
    assert str(err.value).startswith(f"{field}:") or f"; {field}:" in str(err.value), str(err.value)


def test_weights_that_do_not_fit_name_the_tier() -> None:
    from semdns.sim import simulate

    cfg = parse_config(
        {"engines": {"tiers": {"general": {"params_b": 70, "kv_bytes_per_token": 1, "tp": 1}}}}
    )
    with pytest.raises(SimConfigError, match=r"engines\.tiers\.general"):
        simulate(cfg, "flat", 8)


def test_yaml_file_errors_carry_the_path_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("topology:\n  branching: 0\n")
    with pytest.raises(SimConfigError, match=r"bad\.yaml:2: topology\.branching"):
        load_config(p)


def test_every_problem_of_a_config_file_has_its_own_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("seed: 1\ntopology:\n  brunching: 3\nrequests:\n  count: many\n")
    with pytest.raises(SimConfigError) as err:
        load_config(p)
    problems = str(err.value).splitlines()
    assert sorted(problems) == sorted(
        [
            f"{p}:3: topology.brunching: Extra inputs are not permitted",
            f"{p}:5: requests.count: Input should be a valid integer, unable to parse string as an integer",
        ]
    )


def test_a_duplicate_key_in_a_config_file_is_refused_not_overwritten(tmp_path: Path) -> None:
    p = tmp_path / "twice.yaml"
    p.write_text("seed: 1\nseed: 2\n")
    with pytest.raises(SimConfigError, match=r"twice\.yaml:2: duplicate key 'seed'"):
        load_config(p)


def test_example_config_and_sample_calibration_load() -> None:
    cfg = load_config(EXAMPLES / "small.yaml")
    model = stage_model(cfg.resolver)
    assert model.names == ("keyword", "embedding", "classifier")
    assert model.shares == (0.41, 0.45, 0.14)
    assert "resolve-sample.json" in model.source


def test_calibration_errors_name_the_key(tmp_path: Path) -> None:
    p = tmp_path / "cal.json"
    p.write_text('{"stages": {"keyword": {"share": 1.0, "p50_us": 5.0}}}')
    with pytest.raises(SimConfigError, match=r"stages\.keyword\.p99_us"):
        read_calibration(p)
