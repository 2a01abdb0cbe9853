"""bench/routing_passes.py's per-corpus held-out sets: each corpus's items apart, none lost."""

from __future__ import annotations

import pytest

from bench_scripts import load_bench
from semdns.eval.dataset import EvalItem
from semdns.names import Name

passes = load_bench("routing_passes")


def _item(text: str, source: str) -> EvalItem:
    return EvalItem(text, Name.parse("math."), (), source, 0)


def test_items_are_grouped_by_the_folder_of_their_corpus_file() -> None:
    items = [
        _item("a", "corpora/routing/mmlu/train.jsonl"),
        _item("b", "corpora/routing/arc/train.jsonl"),
        _item("c", "corpora/routing/mmlu/train.jsonl"),
        _item("d", "zone examples"),
    ]
    groups = passes.by_corpus(items)
    assert list(groups) == ["arc", "mmlu", "zone examples"]
    assert [i.query for i in groups["mmlu"]] == ["a", "c"]
    assert sum(len(g) for g in groups.values()) == len(items)


def test_no_items_make_no_groups() -> None:
    assert passes.by_corpus([]) == {}


def test_only_picks_the_named_evaluation_corpora_in_the_order_given() -> None:
    every = passes.evaluation_splits()
    assert {p.parent.name for p in every} >= {"sharegpt", "sharegpt_turns", "mmlu"}
    picked = passes.evaluation_splits("sharegpt_turns, mmlu")
    assert [p.parent.name for p in picked] == ["sharegpt_turns", "mmlu"]
    assert all(p.name == "eval.jsonl" and p.is_file() for p in picked)


def test_only_with_an_unknown_corpus_names_it_and_the_known_ones() -> None:
    with pytest.raises(
        SystemExit, match=r"--only nosuch: no such evaluation corpus \(known: .*sharegpt_turns"
    ):
        passes.evaluation_splits("mmlu,nosuch")
