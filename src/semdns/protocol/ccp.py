"""CCP, the context compression protocol: zstd with per-zone dictionaries, in independent chunks.

A zone may also have a word model (``words``, :mod:`semdns.protocol.words`), served and fetched the
same way as a dictionary: short messages, which zstd cannot shrink much, are coded with it
(:func:`pick_dictionary` is the senders' rule).

A context (earlier turns, retrieved documents) is split into chunks of at most ``chunk_size`` bytes
(never inside a UTF-8 character) and each chunk is compressed on its own, so a large context can be
streamed chunk by chunk and a receiver can decompress only the chunks it needs. A zone trains a zstd
dictionary on its own text (examples, descriptions, prompts): short domain texts compress far better
with it (docs/protocol.md has the figures). The dictionary is named ``zone:id``; a receiver that does
not have it fetches it once from its owner (``GET /semdns/v1/dictionaries/{id}``) and caches it.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import zstandard

from semdns.errors import ContextCorrupt, MessageTooLarge, UnknownDictionary
from semdns.protocol import words
from semdns.protocol.codec import check_version
from semdns.protocol.messages import (
    MAX_CHUNK_BYTES,
    MAX_CHUNKS,
    MAX_CONTEXT_BYTES,
    Chunk,
    CompressedContext,
)
from semdns.zone.tree import ZoneTree

DEFAULT_CHUNK_SIZE = 64 * 1024
DEFAULT_LEVEL = 3
DICTIONARY_BYTES = 4096
_MIN_TRAINING_SAMPLES = 32


@dataclass(frozen=True)
class ZoneDictionary:
    """A zstd dictionary and its protocol id (``zone:hex``)."""

    id: str
    data: bytes

    @property
    def kind(self) -> Literal["zstd", "words"]:
        """``words`` for a word model (its file magic), ``zstd`` for anything else."""
        return "words" if self.data.startswith(words.MAGIC) else "zstd"

    def compression_dict(self) -> zstandard.ZstdCompressionDict:
        return zstandard.ZstdCompressionDict(self.data)


@functools.lru_cache(maxsize=16)
def word_model(data: bytes) -> words.WordModel:
    """The parsed word model of a dictionary's bytes, built once (parsing builds its code tables)."""
    return words.WordModel.from_bytes(data)


def pick_dictionary(
    text: str, dictionary: ZoneDictionary | None, word_dictionary: ZoneDictionary | None
) -> ZoneDictionary | None:
    """The senders' rule: the word model for a short message (at most
    :data:`~semdns.protocol.words.SHORT_MESSAGE_BYTES` of UTF-8), the zstd dictionary otherwise."""
    short = len(text) <= words.SHORT_MESSAGE_BYTES and len(text.encode("utf-8")) <= words.SHORT_MESSAGE_BYTES
    return word_dictionary if word_dictionary is not None and short else dictionary


def train_dictionary(zone: str, samples: Sequence[str], *, size: int = DICTIONARY_BYTES) -> ZoneDictionary:
    """Train a dictionary on ``samples``; with too few samples for zstd's trainer, use them as raw
    content (zstd then matches against them directly, which is still a large gain for short texts)."""
    encoded: list[bytes | bytearray | memoryview] = [s.encode("utf-8") for s in samples if s.strip()]
    data: bytes
    try:
        if len(encoded) < _MIN_TRAINING_SAMPLES:
            raise zstandard.ZstdError("too few samples")
        data = zstandard.train_dictionary(size, encoded).as_bytes()
    except zstandard.ZstdError:
        data = b"\n".join(encoded)[-size:]
    digest = hashlib.sha256(data).hexdigest()[:16]
    return ZoneDictionary(f"{zone}:{digest}", data)


def zone_dictionaries(tree: ZoneTree) -> dict[str, ZoneDictionary]:
    """One dictionary per zone of ``tree`` (by origin), trained on that zone's own text."""
    texts: dict[str, list[str]] = {}
    for node in tree:
        bucket = texts.setdefault(str(node.zone_origin), [])
        bucket.extend(node.examples)
        bucket.append(node.description)
        if node.system_prompt:
            bucket.append(node.system_prompt)
    result: dict[str, ZoneDictionary] = {}
    for zone, samples in texts.items():
        dictionary = train_dictionary(zone, samples)
        result[dictionary.id] = dictionary
    return result


# -- frames ------------------------------------------------------------------------------------------
# Building a zstd compressor with a dictionary digests the dictionary (tens of microseconds for a
# 64 KiB one), which is more than compressing a short message takes. So each thread keeps its
# compressors and decompressors, built once per (dictionary bytes, level, frame kind) from a
# dictionary precomputed for that level (python-zstandard's objects are not thread-safe).
_CACHE_ENTRIES = 64
_local = threading.local()


def _lean_params(level: int) -> zstandard.ZstdCompressionParameters:
    return zstandard.ZstdCompressionParameters.from_level(
        level,
        format=zstandard.FORMAT_ZSTD1_MAGICLESS,
        write_content_size=False,
        write_dict_id=False,
        write_checksum=False,
    )


def _cache() -> dict[tuple[bytes | None, int, bool, bool], object]:
    cache: dict[tuple[bytes | None, int, bool, bool], object] | None = getattr(_local, "codecs", None)
    if cache is None or len(cache) >= _CACHE_ENTRIES:
        cache = _local.codecs = {}
    return cache


def frame_compressor(
    dictionary: ZoneDictionary | None, *, level: int = DEFAULT_LEVEL, lean: bool = False
) -> zstandard.ZstdCompressor:
    """This thread's compressor for ``dictionary`` at ``level``: standard zstd frames, or lean ones
    (``zstd-lean``: no magic number, content size, dictionary id or checksum)."""
    cache = _cache()
    key = (dictionary.data if dictionary else None, level, lean, True)
    found = cache.get(key)
    if found is None:
        dict_data = None
        if dictionary is not None:
            dict_data = zstandard.ZstdCompressionDict(dictionary.data)
            dict_data.precompute_compress(level=level)
        if lean:
            found = zstandard.ZstdCompressor(dict_data=dict_data, compression_params=_lean_params(level))
        else:
            found = zstandard.ZstdCompressor(level=level, dict_data=dict_data)
        cache[key] = found
    assert isinstance(found, zstandard.ZstdCompressor)
    return found


def frame_decompressor(
    dictionary: ZoneDictionary | None, *, lean: bool = False
) -> zstandard.ZstdDecompressor:
    """This thread's decompressor for ``dictionary`` and frame kind (see :func:`frame_compressor`)."""
    cache = _cache()
    key = (dictionary.data if dictionary else None, 0, lean, False)
    found = cache.get(key)
    if found is None:
        fmt = zstandard.FORMAT_ZSTD1_MAGICLESS if lean else zstandard.FORMAT_ZSTD1
        dict_data = zstandard.ZstdCompressionDict(dictionary.data) if dictionary else None
        found = cache[key] = zstandard.ZstdDecompressor(dict_data=dict_data, format=fmt)
    assert isinstance(found, zstandard.ZstdDecompressor)
    return found


def _split(data: bytes, chunk_size: int) -> Iterator[tuple[int, bytes]]:
    """Offsets and pieces of at most ``chunk_size`` bytes, never splitting a UTF-8 sequence."""
    offset = 0
    while offset < len(data):
        end = min(offset + chunk_size, len(data))
        if end < len(data):
            cut = end
            while cut > offset and (data[cut] & 0xC0) == 0x80:
                cut -= 1
            end = cut if cut > offset else end
        yield offset, data[offset:end]
        offset = end


def compress_context(
    text: str,
    *,
    dictionary: ZoneDictionary | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    level: int = DEFAULT_LEVEL,
    lean: bool = False,
) -> CompressedContext:
    """Compress ``text`` into independent chunks (zstd, with ``dictionary`` when given; ``lean``:
    the ``zstd-lean`` frames, for a receiver that reads them; a word model as ``dictionary``: the
    ``words`` coder, ``level`` and ``lean`` then unused)."""
    algorithm: Literal["zstd", "zstd-lean", "words"] = "zstd-lean" if lean else "zstd"
    if dictionary is not None and dictionary.kind == "words":
        algorithm = "words"
    return CompressedContext(
        algorithm=algorithm,
        dictionary=dictionary.id if dictionary else None,
        original_size=len(text.encode("utf-8")),
        checksum="sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest(),
        chunk_size=chunk_size,
        chunks=list(
            stream_chunks(text, dictionary=dictionary, chunk_size=chunk_size, level=level, lean=lean)
        ),
    )


def stream_chunks(
    text: str,
    *,
    dictionary: ZoneDictionary | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    level: int = DEFAULT_LEVEL,
    lean: bool = False,
) -> Iterator[Chunk]:
    """The chunks of ``text`` one at a time, for a sender that streams a large context."""
    data = text.encode("utf-8")
    if len(data) > MAX_CONTEXT_BYTES:
        raise MessageTooLarge(f"context of {len(data)} bytes exceeds the limit of {MAX_CONTEXT_BYTES}")
    if not 1 <= chunk_size <= MAX_CHUNK_BYTES:
        raise ValueError(f"chunk_size must be 1..{MAX_CHUNK_BYTES}")
    if -(-len(data) // chunk_size) > MAX_CHUNKS:
        raise MessageTooLarge(f"context needs more than {MAX_CHUNKS} chunks; raise chunk_size")
    compress: Callable[[bytes], bytes]
    if dictionary is not None and dictionary.kind == "words":
        if len(data) > words.MAX_WORDS_CONTEXT_BYTES:
            raise MessageTooLarge(
                f"a words context holds at most {words.MAX_WORDS_CONTEXT_BYTES} bytes ({len(data)} "
                "given); compress a long text with the zone's zstd dictionary"
            )
        model = word_model(dictionary.data)

        def compress(piece: bytes) -> bytes:
            return model.encode(piece.decode("utf-8"))  # chunks never split a character
    else:
        compress = frame_compressor(dictionary, level=level, lean=lean).compress
    for index, (offset, piece) in enumerate(_split(data, chunk_size)):
        yield Chunk(
            index=index,
            offset=offset,
            size=len(piece),
            crc32=zlib.crc32(piece),
            data=compress(piece),
        )


class DictionaryStore:
    """Dictionaries by id: the local zones' own, and others fetched once from their owner and cached.

    ``fetch`` is called with an unknown id (at most once per id, even under concurrency) and returns
    the dictionary bytes or raises :class:`UnknownDictionary`.
    """

    def __init__(
        self,
        own: Iterable[ZoneDictionary] = (),
        fetch: Callable[[str], bytes] | None = None,
    ) -> None:
        self._known: dict[str, ZoneDictionary] = {d.id: d for d in own}
        self._fetch = fetch
        self._lock = threading.Lock()
        self.fetches = 0

    def __contains__(self, dictionary_id: object) -> bool:
        return dictionary_id in self._known

    def ids(self) -> list[str]:
        return list(self._known)

    def add(self, dictionary: ZoneDictionary) -> None:
        self._known[dictionary.id] = dictionary

    def get(self, dictionary_id: str) -> ZoneDictionary:
        found = self._known.get(dictionary_id)
        if found is not None:
            return found
        if self._fetch is None:
            raise UnknownDictionary(f"dictionary {dictionary_id!r} is unknown here and cannot be fetched")
        with self._lock:
            found = self._known.get(dictionary_id)
            if found is None:
                data = self._fetch(dictionary_id)
                self.fetches += 1
                if hashlib.sha256(data).hexdigest()[:16] != dictionary_id.rpartition(":")[2]:
                    raise ContextCorrupt(
                        f"dictionary {dictionary_id!r} fetched from its owner has other bytes"
                    )
                found = ZoneDictionary(dictionary_id, data)
                self._known[dictionary_id] = found
        return found

    def for_zone(self, zone: str, kind: Literal["zstd", "words"] = "zstd") -> ZoneDictionary | None:
        """This store's dictionary (or word model) for ``zone``, the compressor's choice, if any."""
        prefix = zone + ":"
        mine = [d for d in self._known.values() if d.id.startswith(prefix) and d.kind == kind]
        # A trained dictionary (``zone:vN:hash``, semdns compress train-dict) wins over the built-in
        # one (``zone:hash``), and the highest version over older ones.
        return max(mine, key=lambda d: _version(d.id, prefix), default=None)


def _version(dictionary_id: str, prefix: str) -> int:
    middle = dictionary_id[len(prefix) :].rpartition(":")[0]
    return int(middle[1:]) if middle.startswith("v") and middle[1:].isdigit() else 0


def decompress_chunks(
    context: CompressedContext, store: DictionaryStore | None = None, indices: Iterable[int] | None = None
) -> Iterator[tuple[Chunk, bytes]]:
    """Decompress only the chunks ``indices`` (all when None), each checked against its CRC."""
    check_version(context.v)
    decompressor: zstandard.ZstdDecompressor | None = None
    model: words.WordModel | None = None
    lean = context.algorithm == "zstd-lean"
    if context.algorithm != "none":
        dictionary = None
        if context.dictionary:
            if store is None:
                raise UnknownDictionary(f"context uses dictionary {context.dictionary!r}; no store given")
            dictionary = store.get(context.dictionary)
        if context.algorithm == "words":
            if context.original_size > words.MAX_WORDS_CONTEXT_BYTES:
                raise MessageTooLarge(
                    f"a words context holds at most {words.MAX_WORDS_CONTEXT_BYTES} bytes "
                    f"({context.original_size} declared)"
                )
            model = _word_model_of(dictionary)
        else:
            decompressor = frame_decompressor(dictionary, lean=lean)
    wanted = None if indices is None else set(indices)
    for position, chunk in enumerate(context.chunks):
        if chunk.index != position:
            raise ContextCorrupt(f"chunk #{position} carries index {chunk.index}; chunks out of order")
        if wanted is not None and chunk.index not in wanted:
            continue
        # A lean frame declares no size: the decompressor is bounded by the envelope's instead.
        if decompressor is not None and not lean and _declared_size(chunk.data) not in (chunk.size, None):
            raise ContextCorrupt(f"chunk #{chunk.index} declares another size than its header ({chunk.size})")
        try:
            if model is not None:
                raw = model.decode(chunk.data, chunk.size)
            elif decompressor is not None:
                raw = decompressor.decompress(chunk.data, max_output_size=chunk.size)
            else:
                raw = bytes(chunk.data)
        except (zstandard.ZstdError, words.WordModelError) as exc:
            raise ContextCorrupt(f"chunk #{chunk.index} does not decompress: {exc}") from None
        if len(raw) != chunk.size or zlib.crc32(raw) != chunk.crc32:
            raise ContextCorrupt(f"chunk #{chunk.index} fails its size or CRC-32 check")
        yield chunk, raw


def _word_model_of(dictionary: ZoneDictionary | None) -> words.WordModel:
    """The word model a ``words`` context names (:class:`ContextCorrupt` when it names none, or a
    dictionary that is not a word model)."""
    if dictionary is None:
        raise ContextCorrupt("a words context names no word model")
    try:
        return word_model(dictionary.data)
    except words.WordModelError as exc:
        raise ContextCorrupt(f"{dictionary.id} is not a usable word model: {exc}") from None


def _declared_size(data: bytes) -> int | None:
    """The content size a zstd frame declares (checked before decompressing: a forged frame must not
    make us allocate what it claims)."""
    try:
        size = zstandard.frame_content_size(data)
    except zstandard.ZstdError:
        return None  # not a frame header: decompression reports it
    return None if size < 0 else int(size)


def decompress_context(context: CompressedContext, store: DictionaryStore | None = None) -> str:
    """The whole original text, every chunk and the overall SHA-256 checked."""
    parts: list[bytes] = []
    offset = 0
    for chunk, raw in decompress_chunks(context, store):
        if chunk.offset != offset:
            raise ContextCorrupt(f"chunk #{chunk.index} starts at {chunk.offset}, expected {offset}")
        parts.append(raw)
        offset += len(raw)
    data = b"".join(parts)
    if len(data) != context.original_size:
        raise ContextCorrupt(f"context is {len(data)} bytes, its header says {context.original_size}")
    if "sha256:" + hashlib.sha256(data).hexdigest() != context.checksum:
        raise ContextCorrupt("context fails its SHA-256 checksum")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContextCorrupt(f"context is not UTF-8: {exc}") from None
