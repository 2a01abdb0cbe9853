"""The ``cache:`` block of zone files (zone level and per node): defaults keep old files valid, node
fields override the zone's, medical and legal ship stricter values, and each malformed value is
reported with file, line and what to change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from semdns.errors import ZoneError
from semdns.names import Name
from semdns.zone import load_default_tree, load_zone_files

WriteZone = Callable[..., Path]


def test_defaults_zone_level_and_node_override(write_zone: WriteZone) -> None:
    text = (
        "origin: .\ncache:\n  similarity: 0.95\n  ttl: 60\nnodes:\n  '@': {}\n"
        "  legal:\n    cache:\n      ttl: 10\n      shadow: true\n  code: {}\n"
    )
    tree = load_zone_files([write_zone(text)])
    legal = tree.node(Name.parse("legal."))
    assert (legal.cache.similarity, legal.cache.ttl, legal.cache.shadow) == (0.95, 10, True)
    code = tree.node(Name.parse("code."))
    assert (code.cache.similarity, code.cache.ttl, code.cache.shadow) == (0.95, 60, False)
    plain = load_zone_files([write_zone("origin: .\nnodes:\n  '@': {}\n", "plain.yaml")])
    assert plain.node(Name.parse(".")).cache.similarity == 0.70
    assert plain.node(Name.parse(".")).cache.judge == 0.01


def test_default_namespace_is_stricter_for_medical_and_legal() -> None:
    tree = load_default_tree()
    for name in ("medical.", "pharmacology.medical.", "legal.", "contracts.legal."):
        spec = tree.node(Name.parse(name)).cache
        assert spec.judge is not None and spec.judge <= 0.005 and spec.error_bound <= 0.005, name
    code = tree.node(Name.parse("code.")).cache
    assert (code.similarity, code.judge, code.error_bound) == (0.70, 0.01, 0.02)


MALFORMED = [
    pytest.param("cache:\n  similarity: 1.5\n", 3, "less than or equal to 1", id="similarity-high"),
    pytest.param("cache:\n  similarity: 0.2\n", 3, "greater than or equal to 0.5", id="similarity-low"),
    pytest.param("cache:\n  error_bound: 0\n", 3, "greater than 0", id="error-bound-zero"),
    pytest.param("cache:\n  error_bound: 0.9\n", 3, "less than or equal to 0.5", id="error-bound-high"),
    pytest.param("cache:\n  ttl: -1\n", 3, "greater than or equal to 0", id="ttl-negative"),
    pytest.param("cache:\n  stale_ttl: 99999999\n", 3, "less than or equal to", id="stale-ttl-long"),
    pytest.param("cache:\n  shadow: maybe\n", 3, "valid boolean", id="shadow-not-bool"),
    pytest.param("cache:\n  max_entries: 0\n", 3, "greater than or equal to 1", id="max-entries-zero"),
    pytest.param("cache:\n  threshold: 0.9\n", 3, "threshold", id="unknown-field"),
    pytest.param("cache: yes\n", 2, "valid dictionary", id="not-a-mapping"),
]


@pytest.mark.parametrize(("block", "line", "message"), MALFORMED)
def test_malformed_cache_blocks(write_zone: WriteZone, block: str, line: int, message: str) -> None:
    path = write_zone("origin: .\n" + block + "nodes:\n  '@': {}\n")
    with pytest.raises(ZoneError) as info:
        load_zone_files([path])
    text = str(info.value)
    assert f"{path}:{line}:" in text and "cache" in text and message in text, text


def test_malformed_node_cache(write_zone: WriteZone) -> None:
    path = write_zone("origin: .\nnodes:\n  '@':\n    cache:\n      similarity: 2\n")
    with pytest.raises(ZoneError, match=r":5: nodes\.@\.cache\.similarity"):
        load_zone_files([path])
