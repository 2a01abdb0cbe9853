"""CCP: compressed contexts with zone dictionaries, chunked, partially decompressible, checked."""

from __future__ import annotations

import msgspec
import pytest
import zstandard

from semdns.errors import ContextCorrupt, MessageTooLarge, UnknownDictionary
from semdns.protocol.ccp import (
    DictionaryStore,
    compress_context,
    decompress_chunks,
    decompress_context,
    stream_chunks,
    train_dictionary,
    zone_dictionaries,
)
from semdns.protocol.codec import decode, encode
from semdns.protocol.messages import CompressedContext
from semdns.zone import load_default_tree

CONTEXT = (
    "User: my landlord kept my whole security deposit and says the carpet was worn. "
    "Assistant: In many states a landlord may only deduct for damage beyond normal wear and tear. "
    "User: what if the lease says the deposit is non-refundable? ü€"
)


@pytest.fixture(scope="module")
def legal_dictionary() -> DictionaryStore:
    return DictionaryStore(zone_dictionaries(load_default_tree()).values())


def test_round_trip_without_dictionary() -> None:
    packed = compress_context(CONTEXT * 20, chunk_size=256)
    assert len(packed.chunks) > 1
    assert decompress_context(packed) == CONTEXT * 20


def test_zone_dictionary_compresses_short_domain_text_better(legal_dictionary: DictionaryStore) -> None:
    dictionary = legal_dictionary.for_zone("legal.")
    assert dictionary is not None
    plain = compress_context(CONTEXT)
    with_dict = compress_context(CONTEXT, dictionary=dictionary)
    assert sum(len(c.data) for c in with_dict.chunks) < sum(len(c.data) for c in plain.chunks)
    assert decompress_context(with_dict, legal_dictionary) == CONTEXT


def test_partial_decompression_and_streaming() -> None:
    text = "".join(f"turn {i}: " + "x" * 90 + "\n" for i in range(50))
    packed = compress_context(text, chunk_size=1000)
    ((chunk, raw),) = decompress_chunks(packed, indices=[3])
    assert raw == text.encode()[chunk.offset : chunk.offset + chunk.size]
    streamed = list(stream_chunks(text, chunk_size=1000))
    assert [c.crc32 for c in streamed] == [c.crc32 for c in packed.chunks]


def test_chunks_never_split_a_utf8_character() -> None:
    text = "€" * 1000  # 3 bytes each
    packed = compress_context(text, chunk_size=100)
    for chunk, raw in decompress_chunks(packed):
        raw.decode("utf-8")  # each chunk decodes on its own
        assert chunk.size <= 100
    assert decompress_context(packed) == text


def test_dictionary_fetched_once_from_its_owner() -> None:
    owner = train_dictionary("legal.", [f"sample legal text number {i} about contracts" for i in range(60)])
    calls: list[str] = []

    def fetch(dictionary_id: str) -> bytes:
        calls.append(dictionary_id)
        return owner.data

    receiver = DictionaryStore(fetch=fetch)
    packed = compress_context(CONTEXT, dictionary=owner)
    for _ in range(3):
        assert decompress_context(packed, receiver) == CONTEXT
    assert calls == [owner.id]
    assert receiver.fetches == 1


def test_fetched_dictionary_with_other_bytes_is_refused() -> None:
    owner = train_dictionary("legal.", ["a", "b"])
    receiver = DictionaryStore(fetch=lambda _id: b"something else")
    with pytest.raises(ContextCorrupt, match="other bytes"):
        receiver.get(owner.id)


def test_unknown_dictionary_without_fetcher() -> None:
    owner = train_dictionary("code.", ["x"])
    with pytest.raises(UnknownDictionary, match="cannot be fetched"):
        decompress_context(compress_context(CONTEXT, dictionary=owner), DictionaryStore())


def test_corrupt_contexts_are_reported() -> None:
    packed = compress_context(CONTEXT * 5, chunk_size=128)
    bad_crc = msgspec.structs.replace(
        packed, chunks=[msgspec.structs.replace(packed.chunks[0], crc32=1), *packed.chunks[1:]]
    )
    with pytest.raises(ContextCorrupt, match="CRC-32"):
        decompress_context(bad_crc)
    bad_sum = msgspec.structs.replace(packed, checksum="sha256:" + "0" * 64)
    with pytest.raises(ContextCorrupt, match="SHA-256"):
        decompress_context(bad_sum)
    garbage = msgspec.structs.replace(
        packed, chunks=[msgspec.structs.replace(packed.chunks[0], data=b"\x00garbage"), *packed.chunks[1:]]
    )
    with pytest.raises(ContextCorrupt, match="does not decompress"):
        decompress_context(garbage)
    shuffled = msgspec.structs.replace(packed, chunks=list(reversed(packed.chunks)))
    with pytest.raises(ContextCorrupt, match="out of order"):
        decompress_context(shuffled)


def test_forged_frame_cannot_claim_a_huge_size() -> None:
    bomb = zstandard.ZstdCompressor().compress(b"\x00" * 5_000_000)
    packed = compress_context("small")
    forged = msgspec.structs.replace(
        packed, chunks=[msgspec.structs.replace(packed.chunks[0], data=bomb, size=5)]
    )
    with pytest.raises(ContextCorrupt, match="declares another size"):
        decompress_context(forged)


def test_limits() -> None:
    with pytest.raises(MessageTooLarge, match="more than 256 chunks"):
        compress_context("x" * 3000, chunk_size=10)


def test_compressed_context_survives_the_codec() -> None:
    packed = compress_context(CONTEXT)
    for form in ("msgpack", "json"):
        again = decode(encode(packed, form), CompressedContext, form)  # type: ignore[arg-type]
        assert decompress_context(again) == CONTEXT
