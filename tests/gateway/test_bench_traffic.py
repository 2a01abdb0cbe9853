"""bench/gateway.py --corpus: an --auto-unique run's prompts from a JSON-lines corpus, each level and
the warm-up fresh ones, and a corpus too small for the run refused before anything starts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench_scripts import load_bench

gateway = load_bench("gateway")
common = load_bench("_common")


def _corpus(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "traffic.jsonl"
    path.write_text(
        "".join(json.dumps({"query": f"prompt {i}"}) + "\n" for i in range(count)), encoding="utf-8"
    )
    return path


def test_the_mix_by_default_and_a_corpus_when_given(tmp_path: Path) -> None:
    assert gateway.run_prompts(None, 40) == common.public_prompts(40)
    prompts = gateway.run_prompts(_corpus(tmp_path, 50), 40)
    assert prompts == [f"prompt {i}" for i in range(40)]


def test_a_corpus_too_small_for_the_run_says_what_it_needs(tmp_path: Path) -> None:
    with pytest.raises(
        SystemExit, match=r"traffic.jsonl: 50 unique prompts, the run needs 60 .*lower --auto-unique"
    ):
        gateway.run_prompts(_corpus(tmp_path, 50), 60)
    with pytest.raises(SystemExit, match=r"the run needs 1300"):  # 3 wrk levels of 400 and a warm-up of 100
        gateway._auto_main(400, wrk_seconds=3.0, corpus=_corpus(tmp_path, 1000))
