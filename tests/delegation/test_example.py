"""The delegation example stays what the default namespace is, split across three resolvers."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml

from semdns.names import Name
from semdns.zone import load_default_tree, load_zone_files

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "delegation"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("delegation_generate", EXAMPLE / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_example_is_regenerated_from_the_default_zones() -> None:
    for name, text in _generator().render().items():
        published = yaml.safe_load((EXAMPLE / name).read_text(encoding="utf-8"))
        assert published == yaml.safe_load(text), (
            f"examples/delegation/{name} is stale: run python examples/delegation/generate.py"
        )


def test_example_holds_the_default_names_and_examples() -> None:
    default = load_default_tree()
    parts = {stem: load_zone_files([EXAMPLE / f"{stem}.yaml"]) for stem in ("root", "legal", "code")}
    names = set(parts["root"].nodes) | set(parts["legal"].nodes) | set(parts["code"].nodes)
    assert names == set(default.nodes)
    for stem in ("legal", "code"):
        for node in parts[stem]:
            assert node.examples == default.node(node.name).examples
            assert node.keywords == default.node(node.name).keywords
    for node in parts["root"]:
        if node.delegation is None:
            assert node.examples == default.node(node.name).examples
        else:  # glue: the whole child subtree's examples, in tree order
            subtree = [e for n in default.subtree(node.name) for e in n.examples]
            assert list(node.examples) == subtree
            assert parts["root"].children(node.name) == ()
    delegated = {n.name for n in parts["root"] if n.delegation is not None}
    assert delegated == {Name.parse("legal."), Name.parse("code.")}
