"""Whole runs: determinism, the cache model, failures and fallback, and the paper-table preset."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from semdns.cli_simulate import register
from semdns.sim import parse_config, simulate
from semdns.sim.paper import paper_config, render_markdown, run_paper

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sim"


def _strip_wall(r: object) -> dict[str, object]:
    d = dataclasses.asdict(r)  # type: ignore[call-overload]
    d.pop("wall_s")
    d.pop("simulated_rps_per_wall_s")
    return d  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", ["flat", "hierarchical"])
def test_same_seed_same_result_other_seed_other_result(kind: str) -> None:
    data = {
        "requests": {"count": 3000, "arrivals": {"kind": "bursty"}},
        "failures": {"enabled": True, "mtbf_s": 50},
    }
    a = simulate(parse_config({**data, "seed": 1}), kind, 32)  # type: ignore[arg-type]
    b = simulate(parse_config({**data, "seed": 1}), kind, 32)  # type: ignore[arg-type]
    c = simulate(parse_config({**data, "seed": 2}), kind, 32)  # type: ignore[arg-type]
    assert _strip_wall(a) == _strip_wall(b)
    assert _strip_wall(a) != _strip_wall(c)


def test_simulated_cache_hit_ratio_follows_the_ttl_model() -> None:
    for ttl in (1.0, 10.0, 3600.0):
        cfg = parse_config({"requests": {"count": 30000, "popularity": {"distinct_queries": 5000}},
                            "resolver": {"cache_ttl_s": ttl}})  # fmt: skip
        r = simulate(cfg, "flat", 16)
        assert r.cache_hit_ratio == pytest.approx(r.cache_hit_ratio_model, abs=0.03), ttl


def test_failures_fall_back_to_the_parent_and_lose_nothing_silently() -> None:
    cfg = parse_config(
        {"requests": {"count": 5000}, "failures": {"enabled": True, "mtbf_s": 20, "mttr_s": 5}}
    )
    r = simulate(cfg, "hierarchical", 32)
    assert r.outages > 0
    assert r.fallback_share > 0
    assert r.completed + r.failed == r.requests
    calm = simulate(parse_config({"requests": {"count": 5000}}), "hierarchical", 32)
    assert calm.fallback_share == 0 and calm.failed == 0 and calm.outages == 0


def test_faster_accelerator_lowers_ttft() -> None:
    slow = simulate(
        parse_config({"requests": {"count": 3000}, "engines": {"accelerator": "a100-80g"}}), "flat", 16
    )
    fast = simulate(
        parse_config({"requests": {"count": 3000}, "engines": {"accelerator": "b200"}}), "flat", 16
    )
    assert fast.ttft_p50_ms < slow.ttft_p50_ms
    assert fast.e2e_p50_ms < slow.e2e_p50_ms


def test_paper_table_numbers_come_from_the_model() -> None:
    small = {"requests": {"count": 1500}, "topology": {"engines": [8, 64]}}
    b4 = paper_config(small)
    t4 = run_paper(b4)
    md4 = render_markdown(b4, t4)
    assert "| 8 | 64 | 59.0 |" in md4  # all-to-all: 3 + 8 * 7
    assert "| 64 | 4096 | 4,035.0 |" in md4
    b2 = paper_config({**small, "topology": {**small["topology"], "branching": 2}})
    t2 = run_paper(b2)
    # a narrower tree is deeper, so the hierarchy sends more messages per query, and the table says so
    assert t2[64]["hierarchical"].messages_per_query > t4[64]["hierarchical"].messages_per_query
    assert render_markdown(b2, t2) != md4
    assert "b = 2" in render_markdown(b2, t2)


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:
        """Keeps typer in multi-command mode, as in the real ``semdns`` app."""

    return app


def test_cli_config_writes_csv_json_and_plots(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        _app(),
        ["simulate", "--config", str(EXAMPLES / "small.yaml"), "--out", str(tmp_path), "--seed", "3",
         "--requests", "1500", "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    for name in ("results.csv", "results.json", "messages_vs_G.png", "latency_vs_G.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "messages_vs_G.png").read_bytes()[:4] == b"\x89PNG"
    header = (tmp_path / "results.csv").read_text().splitlines()[0]
    assert "messages_per_query" in header and "goodput_rps" in header


def test_cli_paper_table_preset(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        _app(), ["simulate", "paper-table", "--out", str(tmp_path), "--requests", "800", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    md = (tmp_path / "paper-table.md").read_text()
    assert "| 1024 |" in md and "## Note" in md


def test_cli_refuses_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("engines:\n  accelerator: abacus\n")
    res = CliRunner().invoke(_app(), ["simulate", "--config", str(bad), "--out", str(tmp_path)])
    assert res.exit_code == 1
    assert "engines.accelerator" in res.output
