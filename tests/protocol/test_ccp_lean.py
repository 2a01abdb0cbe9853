"""CCP ``zstd-lean`` frames and the per-thread cached codecs: smaller, still checked, still versioned."""

from __future__ import annotations

import threading

import msgspec
import pytest
import zstandard

from semdns.compress.dictionaries import train_zone_dictionary
from semdns.errors import ContextCorrupt, ProtocolError
from semdns.protocol.ccp import (
    DictionaryStore,
    compress_context,
    decompress_context,
    frame_compressor,
    frame_decompressor,
)
from semdns.protocol.codec import decode, encode
from semdns.protocol.messages import CompressedContext

SAMPLES = [
    f"Question {i}: which clause of lease {i % 7} governs the deposit of tenant {i % 13} in state {i % 5}?"
    for i in range(400)
]
MESSAGE = "Question 9999: which clause of lease 3 governs the deposit of tenant 11 in state 2?"


@pytest.fixture(scope="module")
def store() -> DictionaryStore:
    return DictionaryStore([train_zone_dictionary("legal.", SAMPLES, version=1, size=4096)])


def test_lean_frames_round_trip_and_are_smaller(store: DictionaryStore) -> None:
    (dictionary,) = [store.get(i) for i in store.ids()]
    lean = compress_context(MESSAGE, dictionary=dictionary, lean=True)
    plain = compress_context(MESSAGE, dictionary=dictionary)
    assert lean.algorithm == "zstd-lean" and plain.algorithm == "zstd"
    assert decompress_context(lean, store) == MESSAGE == decompress_context(plain, store)
    saved = len(plain.chunks[0].data) - len(lean.chunks[0].data)
    assert saved >= 6  # magic (4) + dictionary id + content size; what the envelope already says
    assert not lean.chunks[0].data.startswith(b"\x28\xb5\x2f\xfd")
    # Through the wire codec too (both encodings), many chunks.
    long = compress_context(MESSAGE * 50, dictionary=dictionary, chunk_size=300, lean=True)
    for kind in ("msgpack", "json"):
        again = decode(encode(long, kind), CompressedContext, kind)  # type: ignore[arg-type]
        assert decompress_context(again, store) == MESSAGE * 50


def test_lean_without_a_dictionary() -> None:
    packed = compress_context("plain text " * 40, lean=True, chunk_size=128)
    assert len(packed.chunks) > 1
    assert decompress_context(packed) == "plain text " * 40


def test_a_lean_chunk_that_lies_about_its_size_is_corrupt(store: DictionaryStore) -> None:
    (dictionary,) = [store.get(i) for i in store.ids()]
    packed = compress_context(MESSAGE, dictionary=dictionary, lean=True)
    for size in (len(MESSAGE) - 1, len(MESSAGE) + 1, 0):
        chunk = msgspec.structs.replace(packed.chunks[0], size=size)
        forged = msgspec.structs.replace(packed, chunks=[chunk])
        with pytest.raises(ContextCorrupt):
            decompress_context(forged, store)
    garbage = msgspec.structs.replace(packed.chunks[0], data=b"\x00\x01garbage")
    with pytest.raises(ContextCorrupt):
        decompress_context(msgspec.structs.replace(packed, chunks=[garbage]), store)


def test_standard_frames_are_not_read_as_lean_and_vice_versa(store: DictionaryStore) -> None:
    (dictionary,) = [store.get(i) for i in store.ids()]
    lean = compress_context(MESSAGE, dictionary=dictionary, lean=True)
    plain = compress_context(MESSAGE, dictionary=dictionary)
    with pytest.raises(ContextCorrupt):
        decompress_context(msgspec.structs.replace(lean, algorithm="zstd"), store)
    with pytest.raises(ContextCorrupt):
        decompress_context(msgspec.structs.replace(plain, algorithm="zstd-lean"), store)


def test_an_unknown_algorithm_is_refused_by_the_decoder() -> None:
    fields = msgspec.json.decode(encode(compress_context("x" * 100, lean=True), "json"))
    assert fields["algorithm"] == "zstd-lean"
    fields["algorithm"] = "zstd9"
    with pytest.raises(ProtocolError, match="algorithm"):
        decode(msgspec.json.encode(fields), CompressedContext, "json")


def test_codecs_are_cached_per_thread_and_per_frame_kind(store: DictionaryStore) -> None:
    (dictionary,) = [store.get(i) for i in store.ids()]
    assert frame_compressor(dictionary, lean=True) is frame_compressor(dictionary, lean=True)
    assert frame_compressor(dictionary, lean=True) is not frame_compressor(dictionary)
    assert frame_compressor(dictionary, level=1) is not frame_compressor(dictionary, level=3)
    assert frame_decompressor(dictionary, lean=True) is not frame_decompressor(dictionary)
    mine = frame_compressor(dictionary)
    other: list[zstandard.ZstdCompressor] = []
    worker = threading.Thread(target=lambda: other.append(frame_compressor(dictionary)))
    worker.start()
    worker.join()
    assert other[0] is not mine


def test_concurrent_threads_compress_correctly(store: DictionaryStore) -> None:
    (dictionary,) = [store.get(i) for i in store.ids()]
    texts = [f"{MESSAGE} {i} " * (1 + i % 5) for i in range(200)]
    failures: list[str] = []

    def work(offset: int) -> None:
        for text in texts[offset::4]:
            packed = compress_context(text, dictionary=dictionary, lean=True)
            if decompress_context(packed, store) != text:
                failures.append(text)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
