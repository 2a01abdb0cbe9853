"""bench/decision_cost.py: prompts grouped by the encoder's token count, the transformer's CPU shared out
by group, and a zone folder that holds no zone file refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench_scripts import load_bench

cost = load_bench("decision_cost")


@pytest.mark.parametrize(
    ("tokens", "group"),
    [
        (3, "up to 32 tokens"),
        (32, "up to 32 tokens"),
        (33, "33-64 tokens"),
        (128, "65-128 tokens"),
        (129, cost.LONG),
    ],
)
def test_length_groups_follow_the_token_count(tokens: int, group: str) -> None:
    assert cost.length_group(tokens) == group


def test_the_transformers_cpu_is_shared_out_by_stage_and_length() -> None:
    rows = [
        {"stage": "lexical", "tokens": 20, "whole_ms": 0.5, "inline_ms": 0.5},
        {"stage": "shallow", "tokens": 20, "whole_ms": 1.5, "inline_ms": 0.5},
        {"stage": "classifier", "tokens": 200, "whole_ms": 3.5, "inline_ms": 0.5},
    ]
    out = cost.summarise(rows, 2.0)
    assert out["cpu_ms_per_decision"] == pytest.approx(5.5 / 3, abs=1e-3)
    assert out["model_ms_per_decision"] == pytest.approx(4.0 / 3, abs=1e-3)
    assert out["decisions_per_s_at_cores"] == {"2.0": pytest.approx(2000 / (5.5 / 3), abs=0.1)}
    assert out["by_stage"]["classifier"]["share_of_model_cpu"] == pytest.approx(0.75)
    assert out["by_stage"]["lexical"]["share_of_model_cpu"] == 0.0
    assert out["by_length"][cost.LONG] == {
        "share_of_prompts": 0.3333,
        "model_ms_mean": 3.0,
        "share_of_model_cpu": 0.75,
    }
    assert sum(g["share_of_model_cpu"] for g in out["by_length"].values()) == pytest.approx(1.0)


def test_an_inline_time_above_the_whole_counts_as_no_model_work() -> None:
    """Timer noise can make the second, model-free call of a lexical decision the slower one."""
    out = cost.summarise([{"stage": "lexical", "tokens": 5, "whole_ms": 0.4, "inline_ms": 0.45}], 2.0)
    assert out["by_stage"]["lexical"]["model_ms_mean"] == 0.0


def test_a_zone_folder_without_zone_files_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="empty-zones"):
        cost.tree_for(tmp_path / "empty-zones")


def test_nonsense_counts_are_refused() -> None:
    with pytest.raises(SystemExit) as raised:
        cost.main(["--prompts", "0"])
    assert raised.value.code == 2
