"""The cascade cost model: its cost identity, its limits (share 0 and 1), pool sizing and its CLI."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from semdns.cli_simulate import register
from semdns.sim import SimConfigError, parse_config
from semdns.sim.cascade import CascadeResult, run_cascade, serve, size_pool
from semdns.sim.engine import engine_model

G = 16  # offered load: 2 requests per second per engine = 32 req/s


def _run(**cascade: Any) -> dict[str, CascadeResult]:
    cfg = parse_config({"requests": {"count": 2000}, "cascade": cascade})
    return {r.strategy: r for r in run_cascade(cfg, G)}


@pytest.mark.parametrize("share", [0.1, 0.48, 0.9])
def test_cascade_costs_small_plus_the_escalated_share_of_large(share: float) -> None:
    r = _run(escalation_share=share, small_cost=1.0, large_cost=7.0)
    c = r["cascade"]
    assert c.cost_per_request == pytest.approx(1.0 + c.escalation_share * 7.0)
    sigma = math.sqrt(share * (1 - share) / c.requests)
    assert abs(c.escalation_share - share) < 4 * sigma
    assert r["always_small"].cost_per_request == 1.0 and r["always_large"].cost_per_request == 7.0
    # Compute: every request runs on the small tier, the escalated ones on the large one too.
    assert c.accelerator_s_per_request > r["always_small"].accelerator_s_per_request
    assert c.large_replicas <= r["always_large"].large_replicas


def test_no_escalation_is_always_small() -> None:
    r = _run(escalation_share=0.0)
    c, s = r["cascade"], r["always_small"]
    assert c.escalation_share == 0.0 and c.large_replicas == 0
    assert (c.small_replicas, c.accelerators, c.cost_per_request) == (s.small_replicas, s.accelerators, 1.0)
    assert c.accelerator_s_per_request == s.accelerator_s_per_request
    assert (c.e2e_p50_ms, c.e2e_p99_ms) == (s.e2e_p50_ms, s.e2e_p99_ms)
    # Deciding on the whole answer holds its first byte back until the answer ends.
    assert c.ttft_p50_ms > s.ttft_p50_ms


def test_full_escalation_pays_both_tiers_and_waits_for_both() -> None:
    r = _run(escalation_share=1.0, small_cost=1.0, large_cost=3.0)
    c, s, big = r["cascade"], r["always_small"], r["always_large"]
    assert c.escalation_share == 1.0 and c.cost_per_request == 4.0
    assert c.small_replicas == s.small_replicas
    assert abs(c.large_replicas - big.large_replicas) <= 1
    assert c.accelerators >= big.accelerators
    assert c.e2e_p50_ms > big.e2e_p50_ms and c.e2e_p50_ms > s.e2e_p50_ms


def test_more_escalation_costs_more() -> None:
    runs = [_run(escalation_share=p)["cascade"] for p in (0.1, 0.5, 0.9)]
    costs = [r.cost_per_request for r in runs]
    assert costs == sorted(costs) and costs[0] < costs[-1]
    assert runs[0].large_replicas <= runs[1].large_replicas <= runs[2].large_replicas
    assert runs[0].accelerator_s_per_request < runs[2].accelerator_s_per_request


def test_prefix_decisions_answer_streams_sooner() -> None:
    answer = _run(escalation_share=0.5)["cascade"]
    prefix = _run(escalation_share=0.5, decide="prefix", prefix_tokens=8)["cascade"]
    assert prefix.escalation_share == answer.escalation_share  # the same requests escalate
    assert prefix.ttft_p50_ms < answer.ttft_p50_ms
    assert prefix.e2e_p50_ms < answer.e2e_p50_ms


def test_a_sized_pool_is_the_smallest_that_meets_the_slo() -> None:
    cfg = parse_config({"cascade": {"slo_quantile": 0.95}})
    rng = np.random.default_rng(0)
    n = 3000
    arrival = np.cumsum(rng.exponential(1 / 200.0, n))
    prompt = np.full(n, 1024, dtype=np.int64)
    output = np.full(n, 256, dtype=np.int64)
    pool = size_pool(cfg, "primary", arrival, prompt, output)
    assert pool.replicas > 1

    def share_ok(r: int) -> float:
        p = serve(engine_model(cfg.engines, "primary"), r, arrival, prompt, output)
        ok = (p.first - arrival <= cfg.slo.ttft_s) & ((p.finish - p.first) / 255 <= cfg.slo.tpot_s)
        return float(ok.mean())

    assert share_ok(pool.replicas) >= 0.95
    assert share_ok(pool.replicas - 1) < 0.95


def test_an_unreachable_slo_is_a_clear_error() -> None:
    cfg = parse_config({"requests": {"count": 200}, "slo": {"tpot_s": 1e-5},
                        "cascade": {"max_replicas": 8}})  # fmt: skip
    with pytest.raises(SimConfigError, match=r"cascade: the task tier misses the SLO .*max_replicas=8"):
        run_cascade(cfg, G)


@pytest.mark.parametrize(
    ("cascade", "message"),
    [
        ({"escalation_share": 1.5}, "cascade.escalation_share: Input should be less than or equal to 1"),
        ({"escalation_share": -0.1}, "cascade.escalation_share: Input should be greater than or equal to 0"),
        ({"large_cost": -2}, "cascade.large_cost: Input should be greater than or equal to 0"),
        ({"small": "huge"}, "cascade.small: unknown tier 'huge'"),
        ({"small": "task", "large": "task"}, "cascade: small and large must be different tiers"),
        ({"decide": "never"}, "cascade.decide: Input should be 'answer' or 'prefix'"),
        ({"prefix_tokens": 0}, "cascade.prefix_tokens: Input should be greater than or equal to 1"),
        ({"share": 0.5}, "cascade.share: Extra inputs are not permitted"),
    ],
)
def test_malformed_cascade_config_names_the_field(cascade: dict[str, Any], message: str) -> None:
    with pytest.raises(SimConfigError) as err:
        parse_config({"cascade": cascade})
    assert message in str(err.value)


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """A group, so that ``simulate`` is a subcommand."""

    return app


def test_cli_cascade_writes_the_table(tmp_path: Path) -> None:
    args = ["--requests", "1500", "--escalation-share", "0.3", "--large-cost", "5"]
    res = CliRunner().invoke(_cli(), ["simulate", "cascade", *args, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "cascade       escalated=0.3" in res.output
    md = (tmp_path / "cascade.md").read_text()
    assert "escalation share 0.3" in md and "| cascade |" in md
    assert (tmp_path / "cascade.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--escalation-share", "1.5"], "cascade.escalation_share: Input should be less than or equal to 1"),
        (["--small-cost", "-1"], "cascade.small_cost: Input should be greater than or equal to 0"),
        (["--large-tier", "gigantic"], "cascade.large: unknown tier 'gigantic'"),
        (["--decide", "later"], "cascade.decide: Input should be 'answer' or 'prefix'"),
    ],
)
def test_cli_cascade_refuses_malformed_flags(tmp_path: Path, args: list[str], message: str) -> None:
    res = CliRunner().invoke(_cli(), ["simulate", "cascade", "--out", str(tmp_path), *args])
    assert res.exit_code == 1
    assert f"error: {message}" in res.output
    assert not (tmp_path / "cascade.md").exists()


def test_cli_cascade_names_the_config_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("cascade:\n  escalation_share: 2\n", encoding="utf-8")
    res = CliRunner().invoke(_cli(), ["simulate", "cascade", "-c", str(bad), "--out", str(tmp_path)])
    assert res.exit_code == 1
    assert f"error: {bad}:2: cascade.escalation_share" in res.output
