"""Trained, versioned zstd dictionaries and word models for a zone (lossless compression, CCP).

A zone's built-in dictionary is trained at load from the zone's own few texts (examples,
descriptions). ``semdns compress train-dict`` trains a larger one from a corpus or from recorded
traffic (OpenAI request bodies, one JSON object a line) and writes it as ``<zone>.v<N>.zdict`` plus a
manifest ``<zone>.v<N>.json``; the version counts up per zone in the output folder, and the protocol
id ``<zone>:v<N>:<sha256-16>`` names exactly those bytes, so peers that fetched v1 keep decompressing
v1 contexts after v2 ships. A zone file names the file as ``compress: {dictionary: ...}``; the
authority then serves it at ``GET /semdns/v1/dictionaries/{id}`` with the zone's other dictionaries.
``--words`` also trains the zone's word model (:mod:`semdns.protocol.words`, for short messages) as
``<zone>.v<N>.words`` with its manifest ``<zone>.v<N>.words.json``, named as ``compress: {words: ...}``
and served the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import zstandard

from semdns.atomic import atomic_write
from semdns.protocol.ccp import ZoneDictionary, word_model
from semdns.protocol.words import WordModelError, train_word_model
from semdns.textfiles import unreadable
from semdns.zone.tree import ZoneTree

# At most: zstd's trainer returns less when the samples are few. 256 KiB beat 16 and 64 KiB on four
# of five domains' held-out prompts (bench/compress.py --lossless, docs/compression.md).
DEFAULT_DICTIONARY_BYTES = 256 * 1024
MIN_SAMPLES = 64
_VERSION_RE = re.compile(r"\.v(\d+)\.(zdict|words)$")
_SUFFIX = {"zstd": "zdict", "words": "words"}


class DictionaryError(ValueError):
    """A corpus or dictionary file that cannot be used; the message names the file and line."""


def train_zone_dictionary(
    zone: str, samples: Iterable[str], *, version: int, size: int = DEFAULT_DICTIONARY_BYTES
) -> ZoneDictionary:
    """A zstd dictionary trained on ``samples`` (at least :data:`MIN_SAMPLES` non-blank ones)."""
    encoded: list[bytes | bytearray | memoryview] = [s.encode("utf-8") for s in samples if s.strip()]
    if len(encoded) < MIN_SAMPLES:
        raise DictionaryError(f"{len(encoded)} samples for {zone}; training needs at least {MIN_SAMPLES}")
    try:
        data = zstandard.train_dictionary(size, encoded).as_bytes()
    except zstandard.ZstdError as exc:
        raise DictionaryError(f"zstd could not train a dictionary for {zone}: {exc}") from None
    return ZoneDictionary(f"{zone}:v{version}:{hashlib.sha256(data).hexdigest()[:16]}", data)


def train_zone_words(zone: str, samples: Iterable[str], *, version: int) -> ZoneDictionary:
    """A word model trained on ``samples`` (at least :data:`MIN_SAMPLES` non-blank ones), as the
    dictionary CCP's ``words`` contexts name."""
    texts = [s for s in samples if s.strip()]
    if len(texts) < MIN_SAMPLES:
        raise DictionaryError(f"{len(texts)} samples for {zone}; training needs at least {MIN_SAMPLES}")
    data = train_word_model(texts).to_bytes()
    return ZoneDictionary(f"{zone}:v{version}:{hashlib.sha256(data).hexdigest()[:16]}", data)


def read_samples(path: Path) -> Iterator[str]:
    """Training texts from ``path``: a ``.jsonl`` file (each line an object with ``text``, ``query``,
    ``prompt`` or ``messages``: a corpus or recorded OpenAI request bodies) or plain text (one sample
    a paragraph, paragraphs separated by a blank line)."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DictionaryError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        try:
            yield from _samples(path, handle)
        except UnicodeDecodeError as exc:
            raise DictionaryError(f"{path}: {unreadable(exc)}") from None


def _samples(path: Path, handle: TextIO) -> Iterator[str]:
    """:func:`read_samples` over the open ``handle``."""
    if path.suffix != ".jsonl":
        paragraph: list[str] = []
        for line in handle:
            if line.strip():
                paragraph.append(line.rstrip("\n"))
            elif paragraph:
                yield "\n".join(paragraph)
                paragraph = []
        if paragraph:
            yield "\n".join(paragraph)
        return
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DictionaryError(f"{path}:{number}: not JSON: {exc.msg}") from None
        texts = _texts(record)
        if texts is None:
            raise DictionaryError(
                f"{path}:{number}: expected an object with 'text', 'query', 'prompt' or 'messages'"
            )
        yield from texts


def _texts(record: Any) -> list[str] | None:
    if not isinstance(record, dict):
        return None
    for key in ("text", "query", "prompt"):
        value = record.get(key)
        if isinstance(value, str):
            return [value]
    messages = record.get("messages")
    if isinstance(messages, list):
        return [m["content"] for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)]
    return None


@dataclass(frozen=True)
class SavedDictionary:
    dictionary: ZoneDictionary
    path: Path
    manifest: Path


def next_version(folder: Path, zone: str) -> int:
    """One more than the highest version of ``zone``'s dictionaries and word models in ``folder``
    (1 when none)."""
    versions = [
        int(m.group(1))
        for p in folder.glob(f"{_file_stem(zone)}.v*.*")
        if (m := _VERSION_RE.search(p.name)) is not None
    ]
    return max(versions, default=0) + 1


def _file_stem(zone: str) -> str:
    return "root" if zone == "." else zone.rstrip(".")


def save(dictionary: ZoneDictionary, folder: Path, *, samples: int, sources: list[str]) -> SavedDictionary:
    """Write ``dictionary`` (or word model) and its manifest into ``folder`` (named by zone, version
    and kind: ``<zone>.v<N>.zdict`` and ``.json``, ``<zone>.v<N>.words`` and ``.words.json``)."""
    zone, version, _ = dictionary.id.rsplit(":", 2)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{_file_stem(zone)}.{version}"
    path = folder / f"{stem}.{_SUFFIX[dictionary.kind]}"
    manifest = folder / (f"{stem}.json" if dictionary.kind == "zstd" else f"{stem}.words.json")
    # The manifest first and the dictionary last, each whole or not at all: a failed write leaves no
    # dictionary file, so the version number stays free; a manifest without its dictionary is removed.
    record = (
        json.dumps(
            {
                "id": dictionary.id,
                "kind": dictionary.kind,
                "zone": zone,
                "version": int(version[1:]),
                "bytes": len(dictionary.data),
                "samples": samples,
                "sources": sources,
                "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            indent=2,
        )
        + "\n"
    ).encode()
    atomic_write(manifest, record)
    try:
        atomic_write(path, dictionary.data)
    except BaseException:
        with contextlib.suppress(OSError):
            manifest.unlink()
        raise
    return SavedDictionary(dictionary, path, manifest)


def load(path: Path, zone: str) -> ZoneDictionary:
    """A dictionary file written by :func:`save`, its id rebuilt from the file name and bytes (the
    manifest is for people; the bytes decide the id)."""
    match = _VERSION_RE.search(path.name)
    if match is None:
        raise DictionaryError(f"{path}: not a versioned dictionary file (<zone>.v<N>.zdict or .words)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DictionaryError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if match.group(2) == "words":
        try:
            word_model(data)  # parsed once: the coders that use it later find it built
        except WordModelError as exc:
            hint = "train one with semdns compress train-dict --words"
            raise DictionaryError(f"{path}: {exc}; {hint}") from None
    elif zstandard.ZstdCompressionDict(data).dict_id() == 0:
        # zstd would accept any bytes as "raw content"; a trained dictionary has a header and an id.
        raise DictionaryError(
            f"{path}: not a zstd dictionary (no dictionary header); train one with semdns compress train-dict"
        )
    return ZoneDictionary(f"{zone}:v{match.group(1)}:{hashlib.sha256(data).hexdigest()[:16]}", data)


def trained_dictionaries(tree: ZoneTree) -> list[ZoneDictionary]:
    """The dictionaries and word models the zone files of ``tree`` name (``compress.dictionary``,
    ``compress.words``), each once, under its zone (a file that cannot be read raises
    :class:`DictionaryError` naming it)."""
    found: dict[str, ZoneDictionary] = {}
    for node in tree:
        for path in (node.compress.dictionary, node.compress.words):
            if path and path not in found:
                found[path] = load(Path(path), str(node.zone_origin))
    return list(found.values())
