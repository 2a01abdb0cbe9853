"""The ``compress:`` block of zone files: off by default, zone level inherited, node fields override,
dictionary paths relative to the file, and each malformed value reported with file and line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from semdns.errors import ZoneError
from semdns.names import Name
from semdns.zone import load_zone_files
from semdns.zone.compress_spec import CompressSpec

WriteZone = Callable[..., Path]


def test_off_by_default_zone_level_inherited_node_overrides(write_zone: WriteZone) -> None:
    text = (
        "origin: .\ncompress:\n  mode: lossy\n  ratio: 5\nnodes:\n  '@': {}\n"
        "  legal:\n    compress:\n      budget_tokens: 300\n      method: hybrid\n"
        "  code:\n    compress:\n      mode: 'off'\n"
    )
    tree = load_zone_files([write_zone(text)])
    root = tree.node(Name.parse(".")).compress
    assert (root.mode, root.ratio, root.method) == ("lossy", 5.0, "lexical")
    legal = tree.node(Name.parse("legal.")).compress
    assert (legal.mode, legal.ratio, legal.budget_tokens, legal.method) == ("lossy", 5.0, 300, "hybrid")
    code = tree.node(Name.parse("code.")).compress
    assert (code.mode, code.ratio) == ("off", None)
    implied = load_zone_files([write_zone("origin: .\ncompress: {ratio: 3}\nnodes:\n  '@': {}\n", "r.yaml")])
    assert implied.node(Name.parse(".")).compress.mode == "lossy"
    plain = load_zone_files([write_zone("origin: .\nnodes:\n  '@': {}\n", "plain.yaml")])
    assert plain.node(Name.parse(".")).compress == CompressSpec()


def test_targets() -> None:
    assert CompressSpec(mode="lossy").target(2000) == 500
    assert CompressSpec(mode="lossy", ratio=2).target(2000) == 1000
    assert CompressSpec(mode="lossy", budget_tokens=300).target(2000) == 300
    assert CompressSpec(mode="lossy", ratio=2, budget_tokens=300).target(2000) == 300
    assert CompressSpec(mode="lossy", budget_tokens=3000).target(2000) == 2000
    vague = CompressSpec(mode="lossy", ratio=4, vague_ratio=2, budget_tokens=800)
    assert (vague.target(2000), vague.target(2000, vague=True), vague.target(1200, vague=True)) == (
        500,
        800,
        600,
    )
    assert CompressSpec(mode="lossy").target(2000, vague=True) == 500  # no vague_ratio: no change


def test_dictionary_path_is_relative_to_the_zone_file(write_zone: WriteZone) -> None:
    path = write_zone(
        "origin: legal.\ncompress:\n  mode: lossless\n  dictionary: d/legal.v1.zdict\nnodes:\n  '@': {}\n"
    )
    spec = load_zone_files([path]).node(Name.parse("legal.")).compress
    assert spec.dictionary == str(path.parent / "d" / "legal.v1.zdict")


def test_word_model_path_is_relative_to_the_zone_file(write_zone: WriteZone) -> None:
    path = write_zone(
        "origin: legal.\ncompress:\n  mode: lossless\n  words: d/legal.v1.words\nnodes:\n  '@': {}\n"
    )
    spec = load_zone_files([path]).node(Name.parse("legal.")).compress
    assert spec.words == str(path.parent / "d" / "legal.v1.words") and spec.dictionary is None


MALFORMED = [
    pytest.param("compress:\n  mode: maybe\n", 3, "'off', 'lossless' or 'lossy'", id="mode"),
    pytest.param("compress:\n  mode: lossy\n  ratio: 0.5\n", 4, "greater than or equal to 1", id="ratio-low"),
    pytest.param(
        "compress:\n  mode: lossy\n  budget_tokens: 3\n", 4, "greater than or equal to 16", id="budget"
    ),
    pytest.param("compress:\n  mode: lossless\n  ratio: 4\n", 2, "apply to mode: lossy", id="ratio-lossless"),
    pytest.param(
        "compress:\n  mode: lossy\n  vague_ratio: 0.5\n", 4, "greater than or equal to 1", id="vague-low"
    ),
    pytest.param(
        "compress:\n  mode: lossy\n  vague_ratio: much\n", 4, "valid number", id="vague-not-a-number"
    ),
    pytest.param(
        "compress:\n  mode: lossless\n  vague_ratio: 2\n", 2, "apply to mode: lossy", id="vague-lossless"
    ),
    pytest.param("compress:\n  method: magic\n", 3, "'lexical', 'hybrid' or 'static'", id="method"),
    pytest.param("compress:\n  dictionary: '  '\n", 2, "dictionary is blank", id="blank-dictionary"),
    pytest.param("compress:\n  words: ''\n", 2, "words is blank", id="blank-words"),
    pytest.param("compress:\n  words: [a]\n", 3, "valid string", id="words-not-a-path"),
    pytest.param("compress:\n  level: 3\n", 3, "level", id="unknown-field"),
    pytest.param("compress: yes\n", 2, "valid dictionary", id="not-a-mapping"),
]


@pytest.mark.parametrize(("block", "line", "message"), MALFORMED)
def test_malformed_compress_blocks(write_zone: WriteZone, block: str, line: int, message: str) -> None:
    path = write_zone("origin: .\n" + block + "nodes:\n  '@': {}\n")
    with pytest.raises(ZoneError) as info:
        load_zone_files([path])
    text = str(info.value)
    assert f"{path}:{line}:" in text and "compress" in text and message in text, text
