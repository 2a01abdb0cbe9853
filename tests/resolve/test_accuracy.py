"""Routing accuracy of the default namespace on the labelled queries in bench/data/queries.

The labelled queries were written apart from the zones' examples (a test checks they do not overlap).
The floors below sit a few points under what bench/resolve.py measures (README, "Accuracy"), so a change
that makes routing clearly worse fails here; they are not the figures we quote.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from semdns.eval.routing import load_labelled, score_multi, score_single
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder
from semdns.resolve.text import cache_key
from semdns.zone import load_default_tree

QUERIES = Path(__file__).parent.parent.parent / "bench" / "data" / "queries"


@pytest.fixture(scope="module")
def default_resolver(encoder: MiniLMEncoder) -> Resolver:
    return Resolver(load_default_tree(), encoder)


def single_files() -> list[Path]:
    return sorted(p for p in QUERIES.glob("*.yaml") if p.name != "multi.yaml")


def test_labelled_set_is_separate_from_examples_and_large_enough() -> None:
    items = load_labelled(single_files())
    examples = {cache_key(e) for node in load_default_tree() for e in node.examples}
    overlap = [i.text for i in items if cache_key(i.text) in examples]
    assert overlap == []
    assert len(items) >= 500
    names = {str(n.name) for n in load_default_tree()}
    assert {str(i.expected[0]) for i in items} == names, "every name has labelled queries"


def test_default_namespace_accuracy_floor(default_resolver: Resolver) -> None:
    items = load_labelled(single_files())
    report = score_single(items, lambda q: default_resolver.resolve(q, use_cache=False).names)
    figures = report.to_json()
    assert figures["level1"] >= 0.88, figures
    assert figures["exact"] >= 0.83, figures
    assert figures["safe_or_exact"] >= 0.93, figures
    assert figures["wrong"] <= 0.06, figures


def test_multi_domain_queries_reach_their_domains(default_resolver: Resolver) -> None:
    items = load_labelled([QUERIES / "multi.yaml"])
    figures = score_multi(items, lambda q: default_resolver.resolve(q, use_cache=False).names)
    assert figures["domain_recall"] >= 0.65, figures
