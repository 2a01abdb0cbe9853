"""The embedding cache (``SEMDNS_CACHE_DIR/embeddings``) loses nothing and trusts nothing damaged: an
entry cut short, emptied or of another shape is computed again and replaced; a write that fails (full
disk, a cache folder that is a file) still returns the vectors and leaves nothing behind. The encoder is
a stand-in that counts its calls, so no model runs. (The token table, ``static/``, is read and written
by the same two functions.)

A full disk is real here: ``RLIMIT_FSIZE`` makes writes past the limit fail with EFBIG (also as root)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from disk_full import disk_full_after
from semdns.resolve.encoder import encode_cached

TEXTS = ["the kitten scratches the door", "a contract for the sale of goods"]


class CountingEncoder:
    model_id = "no-loss-counting-encoder"
    dim = 8

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.arange(len(texts) * self.dim, dtype=np.float32).reshape(len(texts), self.dim) / 10


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEMDNS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "embeddings"


def entry(cache: Path) -> Path:
    """The one cache entry, written by a first call."""
    encoder = CountingEncoder()
    encode_cached(encoder, TEXTS)  # type: ignore[arg-type]
    (found,) = cache.iterdir()
    return found


def again(cache: Path, path: Path) -> None:
    """A second call computes the vectors again, returns them right and repairs the entry."""
    encoder = CountingEncoder()
    vectors = encode_cached(encoder, TEXTS)  # type: ignore[arg-type]
    assert encoder.calls == 1
    np.testing.assert_array_equal(vectors, CountingEncoder().encode(TEXTS))
    np.testing.assert_array_equal(np.load(path), vectors)
    assert list(cache.iterdir()) == [path]


def test_an_entry_is_read_back_without_encoding(cache: Path) -> None:
    entry(cache)
    encoder = CountingEncoder()
    encode_cached(encoder, TEXTS)  # type: ignore[arg-type]
    assert encoder.calls == 0


def test_an_entry_cut_short_is_computed_again_and_replaced(cache: Path) -> None:
    path = entry(cache)
    path.write_bytes(path.read_bytes()[:-20])
    again(cache, path)


def test_an_entry_of_another_shape_is_computed_again_and_replaced(cache: Path) -> None:
    path = entry(cache)
    np.save(path, np.zeros((3, 5), dtype=np.float32))
    again(cache, path)


def test_an_empty_entry_is_computed_again_and_replaced(cache: Path) -> None:
    path = entry(cache)
    path.write_bytes(b"")
    again(cache, path)


def test_a_write_cut_short_still_returns_the_vectors_and_leaves_no_entry(cache: Path) -> None:
    encoder = CountingEncoder()
    with disk_full_after(100):  # past the .npy header, inside the data
        vectors = encode_cached(encoder, TEXTS)  # type: ignore[arg-type]
    np.testing.assert_array_equal(vectors, CountingEncoder().encode(TEXTS))
    assert not [p for p in cache.iterdir() if ".tmp" not in p.name]  # no entry half-written
    second = CountingEncoder()
    encode_cached(second, TEXTS)  # type: ignore[arg-type]
    assert second.calls == 1
    (path,) = [p for p in cache.iterdir() if ".tmp" not in p.name]
    np.testing.assert_array_equal(np.load(path), vectors)


def test_a_write_cut_short_leaves_no_temporary_file(cache: Path) -> None:
    with disk_full_after(100):
        encode_cached(CountingEncoder(), TEXTS)  # type: ignore[arg-type]
    assert list(cache.iterdir()) == []


def test_a_cache_folder_that_is_a_file_is_not_an_error_and_the_file_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    monkeypatch.setenv("SEMDNS_CACHE_DIR", str(blocker))
    encoder = CountingEncoder()
    vectors = encode_cached(encoder, TEXTS)  # type: ignore[arg-type]
    assert encoder.calls == 1 and vectors.shape == (2, CountingEncoder.dim)
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
