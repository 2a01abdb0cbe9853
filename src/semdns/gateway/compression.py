"""The compression step of the request path: the name's ``compress`` policy applied to the body.

Runs after the routing decision (the policy belongs to the name that will serve) and the response
cache (a hit needs no engine, and the cache keys on what the client sent), before dispatch. The
client may opt out with ``x-semdns-compress: off``. What was done is told three ways: the
``x-semdns-compression`` header (``lossy; method=lexical; ratio=4.02; tokens=2093->521``), the
``compression`` object of the ``semdns`` body field, and the ``semdns_compression_*`` metrics.
Lossy work runs off the event loop; a failure of the compressor never fails the request (the
original body goes to the engine and the answer says ``error``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from semdns.compress.boilerplate import BoilerplateMiner
from semdns.compress.dictionaries import load
from semdns.compress.lossy import QueryAwareCompressor
from semdns.compress.request import compress_body, split_request
from semdns.gateway.parse import ParsedRequest
from semdns.names import Name
from semdns.protocol.ccp import ZoneDictionary, pick_dictionary, stream_chunks, train_dictionary
from semdns.resolve.encoder import Encoder
from semdns.zone.compress_spec import CompressSpec
from semdns.zone.tree import ZoneNode, ZoneTree

log = logging.getLogger(__name__)

OPT_OUT_HEADER = "x-semdns-compress"
REPORT_HEADER = "x-semdns-compression"
_OFF_VALUES = frozenset({"off", "no", "none", "false", "0"})


@dataclass(frozen=True)
class CompressionNote:
    """What the step did to one request (``mode`` ``off`` with a ``reason`` when it did nothing)."""

    mode: str
    reason: str | None = None
    method: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    ratio: float | None = None
    boilerplate_dropped: int = 0
    ms: float | None = None
    dictionary: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self) -> str:
        parts = [self.mode]
        if self.method:
            parts.append(f"method={self.method}")
        if self.ratio is not None:
            parts.append(f"ratio={self.ratio:.2f}")
        if self.tokens_in is not None and self.tokens_out is not None:
            parts.append(f"tokens={self.tokens_in}->{self.tokens_out}")
        if self.reason:
            parts.append(f"reason={self.reason}")
        return "; ".join(parts)

    def field(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mode": self.mode}
        for key in ("reason", "method", "tokens_in", "tokens_out", "ratio", "ms", "dictionary"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 4) if isinstance(value, float) else value
        if self.mode == "lossy":
            out["boilerplate_dropped"] = self.boilerplate_dropped
        return out


class CompressionStep:
    """Applies each name's policy; holds the per-zone boilerplate miners and dictionaries."""

    def __init__(self, encoder: Encoder | None, registry: CollectorRegistry | None = None) -> None:
        self.compressor = QueryAwareCompressor(encoder)
        self._miners: dict[Name, BoilerplateMiner] = {}
        self._dictionaries: dict[Name, ZoneDictionary] = {}
        self._word_models: dict[Name, ZoneDictionary] = {}
        self.requests = Counter(
            "semdns_compression_requests_total",
            "Requests by name, compression mode and outcome (compressed, short, opt_out, error, ...)",
            ["name", "mode", "outcome"],
            registry=registry,
        )
        self.tokens = Counter(
            "semdns_compression_tokens_total",
            "Context tokens before and after lossy compression",
            ["name", "stage"],
            registry=registry,
        )
        self.seconds = Histogram(
            "semdns_compression_seconds",
            "Time spent compressing one request",
            ["method"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5),
            registry=registry,
        )

    async def apply(
        self, parsed: ParsedRequest, tree: ZoneTree, name: Name, headers: Mapping[str, str]
    ) -> CompressionNote | None:
        """Compress ``parsed.body`` in place (the field is replaced by a new dict) per ``name``'s
        policy; the note to report, or None when the name's policy is off and the client said nothing."""
        node = tree.nodes.get(name)
        spec = node.compress if node is not None else CompressSpec()
        if headers.get(OPT_OUT_HEADER, "").strip().lower() in _OFF_VALUES:
            if spec.mode == "off":
                return None
            self.requests.labels(str(name), spec.mode, "opt_out").inc()
            return CompressionNote("off", reason="client")
        if spec.mode == "off" or node is None:
            return None
        if spec.mode == "lossless":
            return self._lossless(parsed, tree, node)
        try:
            return await asyncio.to_thread(self._lossy, parsed, node)
        except Exception:
            log.exception("compressing a request for %s failed; sending it uncompressed", name)
            self.requests.labels(str(name), "lossy", "error").inc()
            return CompressionNote("off", reason="error")

    def _lossy(self, parsed: ParsedRequest, node: ZoneNode) -> CompressionNote:
        spec = node.compress
        miner = self._miners.setdefault(node.zone_origin, BoilerplateMiner()) if spec.boilerplate else None
        done = compress_body(
            self.compressor,
            parsed.endpoint,
            parsed.body,
            spec.target,
            min_tokens=spec.min_tokens,
            method=spec.method,
            is_boilerplate=miner.is_boilerplate if miner is not None else None,
            vague_target=partial(spec.target, vague=True) if spec.vague_ratio is not None else None,
        )
        name = str(node.name)
        if done is None:
            self.requests.labels(name, "lossy", "short").inc()
            return CompressionNote("off", reason="short")
        body, result, documents = done
        if miner is not None:
            miner.observe_all(documents)
        parsed.body = body
        self.requests.labels(name, "lossy", "compressed").inc()
        self.tokens.labels(name, "in").inc(result.tokens_in)
        self.tokens.labels(name, "out").inc(result.tokens_out)
        self.seconds.labels(result.method).observe(result.seconds)
        return CompressionNote(
            "lossy",
            method=result.method,
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            ratio=result.ratio,
            boilerplate_dropped=result.boilerplate_dropped,
            ms=result.seconds * 1000,
            reason="vague_question" if result.widened else None,  # the zone's vague_ratio applied
        )

    def _lossless(self, parsed: ParsedRequest, tree: ZoneTree, node: ZoneNode) -> CompressionNote:
        """Nothing is dropped: the engine gets the prompt as sent. The note gives the ratio CCP
        reaches on this request's context with the zone's dictionary, or with its word model when the
        zone has one and the context is short (what a delegation hop carries)."""
        split = split_request(parsed.endpoint, parsed.body)
        text = "\n\n".join(split.documents) if split is not None else ""
        zstd = self._dictionary(tree, node)
        dictionary = pick_dictionary(text, zstd, self._word_model(node)) or zstd
        raw = text.encode("utf-8")
        self.requests.labels(str(node.name), "lossless", "compressed" if raw else "short").inc()
        if not raw:
            return CompressionNote("lossless", reason="short", method="zstd", dictionary=zstd.id)
        # The chunks alone: the note needs their sizes, not the envelope's SHA-256 of the whole text.
        packed = sum(len(chunk.data) for chunk in stream_chunks(text, dictionary=dictionary))
        return CompressionNote(
            "lossless", method=dictionary.kind, ratio=len(raw) / packed, dictionary=dictionary.id
        )

    def _word_model(self, node: ZoneNode) -> ZoneDictionary | None:
        """The zone's word model when its zone file names one (``compress.words``)."""
        if not node.compress.words:
            return None
        zone = node.zone_origin
        found = self._word_models.get(zone)
        if found is None:
            found = self._word_models[zone] = load(Path(node.compress.words), str(zone))
        return found

    def _dictionary(self, tree: ZoneTree, node: ZoneNode) -> ZoneDictionary:
        """The zone's trained dictionary when its zone file names one, else the built-in one trained
        on the zone's own texts (as the authority serves it)."""
        zone = node.zone_origin
        found = self._dictionaries.get(zone)
        if found is None:
            if node.compress.dictionary:
                found = load(Path(node.compress.dictionary), str(zone))
            else:
                texts = [t for n in tree if n.zone_origin == zone for t in (n.description, *n.examples)]
                found = train_dictionary(str(zone), texts)
            self._dictionaries[zone] = found
        return found
