"""Shared fixtures: the real encoder (loaded once per session) and zone-file helpers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from semdns.resolve.encoder import MiniLMEncoder, cache_dir

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent


@pytest.fixture(scope="session")
def encoder() -> MiniLMEncoder:
    """The packaged all-MiniLM-L6-v2 (int8 ONNX): a real model, loaded once."""
    enc = MiniLMEncoder()
    enc.encode(["warm-up"])
    return enc


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the embedding/classifier disk cache of the test run away from the user's."""
    old = os.environ.get("SEMDNS_CACHE_DIR")
    isolated = tmp_path_factory.mktemp("semdns-cache")
    # The quantised encoder and the token table (the lexical stage's static embedding) depend on the
    # packaged model alone and take seconds to build: reuse the user's when there are some; a fresh
    # machine builds them once.
    for shared in ("models", "static"):
        if (cache_dir() / shared).is_dir():
            (isolated / shared).symlink_to(cache_dir() / shared, target_is_directory=True)
    os.environ["SEMDNS_CACHE_DIR"] = str(isolated)
    yield
    if old is None:
        os.environ.pop("SEMDNS_CACHE_DIR", None)
    else:
        os.environ["SEMDNS_CACHE_DIR"] = old


@pytest.fixture
def write_zone(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a zone file into a temporary folder and return its path."""

    def write(text: str, name: str = "zone.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
