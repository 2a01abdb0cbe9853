"""ZoneTree.with_policies: the one way evaluations and benchmarks vary a namespace's policies."""

from __future__ import annotations

import pydantic
import pytest

from semdns.names import Name
from semdns.zone import load_default_tree


def test_values_and_functions_of_the_old_policy_change_every_node_and_nothing_else() -> None:
    tree = load_default_tree()
    changed = tree.with_policies(
        lexical_threshold=0.95, stages=lambda policy: tuple(s for s in policy.stages if s != "lexical")
    )
    for name, node in changed.nodes.items():
        before = tree.nodes[name].policy
        assert node.policy.lexical_threshold == 0.95
        assert node.policy.stages == tuple(s for s in before.stages if s != "lexical")
        assert node.policy.classifier_threshold == before.classifier_threshold
        assert node.examples == tree.nodes[name].examples
    assert "lexical" in tree.nodes[Name.parse(".")].policy.stages  # the original is untouched
    assert changed.serials == tree.serials and changed.signing_keys == tree.signing_keys
    assert changed.children(Name.parse(".")) == tree.children(Name.parse("."))


def test_a_change_a_zone_file_could_not_make_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="lexical_threshold"):
        load_default_tree().with_policies(lexical_threshold=1.5)
    for field in ("lexical_long_threshold", "shallow_threshold"):
        with pytest.raises(pydantic.ValidationError, match=field):
            load_default_tree().with_policies(**{field: -0.1})
    with pytest.raises(pydantic.ValidationError, match="stage"):
        load_default_tree().with_policies(stages=("keyword", "keyword"))
