"""bench/routing_passes.py's per-corpus held-out sets: each corpus's items apart, none lost."""

from __future__ import annotations

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
