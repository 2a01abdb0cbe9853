"""bench/routing_passes.py --zones: a folder of zone files is scored exactly as its policies say, and a
folder that is not the shipped namespace, or not a zone file at all, is refused with its name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench_scripts import load_bench
from semdns.errors import ZoneError
from semdns.names import Name
from semdns.zone import load_default_tree
from semdns.zone.loader import default_zone_paths

passes = load_bench("routing_passes")


def _shipped_copy(folder: Path) -> Path:
    folder.mkdir()
    for path in default_zone_paths():
        shutil.copy(path, folder / Path(path).name)
    return folder


def test_the_shipped_folder_is_scored_with_the_shipped_policies(tmp_path: Path) -> None:
    tree = load_default_tree()
    label, variant = passes._variant(tree, _shipped_copy(tmp_path / "zones"))
    assert label == f"zones: {tmp_path / 'zones'}"
    assert {n.name: n.policy for n in variant} == {n.name: n.policy for n in tree}


def test_one_zone_edited_changes_that_zone_alone(tmp_path: Path) -> None:
    folder = _shipped_copy(tmp_path / "zones")
    legal = folder / "legal.yaml"
    text = legal.read_text(encoding="utf-8")
    shipped = load_default_tree().node(Name.parse("legal.")).policy.shallow_threshold
    legal.write_text(
        text.replace(f"  shallow_threshold: {shipped}\n", "  shallow_threshold: 0.93\n"), encoding="utf-8"
    )
    tree = load_default_tree()
    _, variant = passes._variant(tree, folder)
    assert variant.node(Name.parse("legal.")).policy.shallow_threshold == 0.93
    for node in variant:
        if not node.name.is_under(Name.parse("legal.")):
            assert node.policy == tree.node(node.name).policy


def test_a_folder_of_another_namespace_is_refused_by_name(tmp_path: Path) -> None:
    folder = _shipped_copy(tmp_path / "fewer")
    (folder / "finance.yaml").unlink()
    with pytest.raises(SystemExit, match="fewer"):
        passes._variant(load_default_tree(), folder)


def test_a_malformed_zone_file_names_the_file(tmp_path: Path) -> None:
    folder = _shipped_copy(tmp_path / "broken")
    (folder / "legal.yaml").write_text("origin: legal.\npolicy: [not, a, mapping\n", encoding="utf-8")
    with pytest.raises(ZoneError, match=r"legal\.yaml"):
        passes._variant(load_default_tree(), folder)


def test_a_folder_without_zone_files_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no \.yaml zone files"):
        passes._variant(load_default_tree(), tmp_path)
