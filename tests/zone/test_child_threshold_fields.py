"""``fast_pass_child_thresholds``: written as a mapping, checked label by label, and a label that names
no child is an error with its file and line (a typo must not silently turn the setting off)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from semdns.errors import ZoneError
from semdns.names import Name
from semdns.zone import load_zone_files
from semdns.zone.schema import Policy, PolicyOverride

WriteZone = Callable[..., Path]

ROOT = """\
origin: .
policy:
  fast_pass_child_thresholds: {ZONE}
nodes:
  "@":
    description: general
  legal:
    description: law
    policy:
      fast_pass_child_thresholds: {NODE}
  contracts.legal:
    description: contracts
  creative:
    description: writing
"""


def _root(zone: str = "{}", node: str = "{}") -> str:
    return ROOT.replace("{ZONE}", zone).replace("{NODE}", node)


def _problems(path: Path) -> list[str]:
    with pytest.raises(ZoneError) as info:
        load_zone_files([path])
    return [str(issue) for issue in info.value.issues]


def test_a_mapping_is_held_as_sorted_lower_case_pairs() -> None:
    policy = Policy(fast_pass_child_thresholds={"creative": 0.9, "Code.": 0.8})
    assert policy.fast_pass_child_thresholds == (("code", 0.8), ("creative", 0.9))
    assert Policy().fast_pass_child_thresholds == ()
    hash(policy)  # a policy stays hashable
    assert Policy.model_validate(policy.model_dump()) == policy  # round trip, as with_policies does
    assert PolicyOverride(fast_pass_child_thresholds={"creative": 0.9}).apply(Policy()) == Policy(
        fast_pass_child_thresholds={"creative": 0.9}
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"fiction.creative": 0.9}, "not one child's label"),
        ({"cre ative": 0.9}, "may hold only"),
        ({"creative": 0.9, "Creative": 0.8}, "given more than once"),
        ({"creative": 1.5}, "less than or equal to 1"),
        ({"creative": "high"}, "valid number"),
        ("creative", "valid tuple"),
    ],
)
def test_malformed_thresholds_are_refused_with_the_reason(value: object, message: str) -> None:
    with pytest.raises(ValidationError, match="fast_pass_child_thresholds") as info:
        Policy(fast_pass_child_thresholds=value)
    assert message in str(info.value)


def test_zone_and_node_settings_reach_the_nodes(write_zone: WriteZone) -> None:
    tree = load_zone_files([write_zone(_root(zone="{creative: 0.9}", node="{contracts: 0.7}"), "root.yaml")])
    assert tree.node(Name.parse(".")).policy.fast_pass_child_thresholds == (("creative", 0.9),)
    # A node's own policy replaces the zone's mapping as a whole, like any other field.
    assert tree.node(Name.parse("legal.")).policy.fast_pass_child_thresholds == (("contracts", 0.7),)


def test_a_label_that_names_no_child_is_an_error_with_file_and_line(write_zone: WriteZone) -> None:
    path = write_zone(_root(node="{contrcts: 0.7}"), "root.yaml")
    found = _problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:10: nodes.legal.policy.fast_pass_child_thresholds:"), found[0]
    assert "'contrcts' is not a child of legal. (children: contracts)" in found[0]
    # Set for the whole file, it must name a child of some node of the file that chooses among children.
    path = write_zone(_root(zone="{poetry: 0.9}", node="{contracts: 0.7}"), "zone.yaml")
    found = _problems(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:3: policy.fast_pass_child_thresholds:"), found[0]
    assert "'poetry' is not a child of . (children: creative, legal)" in found[0]


def test_a_file_wide_setting_applies_where_the_child_exists(write_zone: WriteZone) -> None:
    """A file's setting reaches every node of it; a node without that child has nothing to choose and
    is not an error (the delegation example's root file holds the root and `creative.` alike)."""
    text = _root(zone="{contracts: 0.7, creative: 0.9}").replace(
        "    policy:\n      fast_pass_child_thresholds: {}\n", "    policy:\n      keyword_threshold: 0.5\n"
    )
    tree = load_zone_files([write_zone(text, "root.yaml")])
    both = (("contracts", 0.7), ("creative", 0.9))
    assert tree.node(Name.parse(".")).policy.fast_pass_child_thresholds == both
    assert tree.node(Name.parse("legal.")).policy.fast_pass_child_thresholds == both


def test_a_malformed_value_in_a_file_names_its_line(write_zone: WriteZone) -> None:
    path = write_zone(_root(node="{contracts: 2}"), "root.yaml")
    found = _problems(path)
    assert found[0].startswith(f"{path}:10:"), found[0]
    assert "fast_pass_child_thresholds" in found[0]
