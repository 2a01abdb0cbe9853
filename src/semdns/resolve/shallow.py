"""The shallow pass: MiniLM's first layers, for the prompts the lexical pass cannot settle.

A transformer call costs in proportion to the layers it runs (one intra-op thread, a one-off
measurement on 2 cores: 1.5 ms of CPU for 8 tokens and 22 ms for 128 through all six layers, 0.8 ms
and 11 ms through the first three; docs/routing.md). The early layers already carry most of what
tells a domain apart: a logistic model on the masked mean of the first three layers' output named
the top-level domain of 794 held-out training items as often as one on the full model's sentence
vector (a one-off probe, docs/routing.md). So the resolver's second pass reads the first
:data:`SHALLOW_LAYERS` layers only, with the classifier's words and structure, and the full model runs
only for what that pass is not sure about, from where the shallow pass stopped.

Both parts are cut from the same quantised file (:func:`semdns.resolve.quantize.quantized_model`) with
the ``onnx`` package's extractor, so the first part computes exactly what the full model's first
layers compute and the second finishes the full vector bit for bit (``tests/resolve/test_shallow.py``);
they are cut once per machine and cached beside the full model, and cut again when a cached file is
unreadable. Vectors are pooled like the full model's (one call per text over the same windows,
masked mean, unit length: :meth:`MiniLMEncoder.embed_with`), so a text's shallow vector is a function
of its text alone.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from semdns.resolve.encoder import MiniLMEncoder, Vectors, open_session
from semdns.resolve.fused import layer_output_name
from semdns.resolve.quantize import cached_model

_log = logging.getLogger(__name__)

SHALLOW_LAYERS = 3
"""Encoder layers the shallow pass runs (of MiniLM's six): half a call's cost."""


def layer_output(model: Any, layers: int) -> str:
    """The name of the tensor that leaves encoder layer ``layers`` (1-based) in ``model`` (an
    ``onnx.ModelProto`` written by :func:`semdns.resolve.fused.fused_model`, whose layer outputs are
    named). ``ValueError`` when the graph has no such layers or not that many."""
    produced = {out for node in model.graph.node for out in node.output}
    depth = 0
    while layer_output_name(depth + 1) in produced:
        depth += 1
    if depth == 0:
        raise ValueError("not a fused encoder: no named encoder layers in the graph")
    if not 1 <= layers <= depth:
        raise ValueError(f"the model has {depth} layers; cannot stop after {layers}")
    return layer_output_name(layers)


_INPUTS = ["input_ids", "attention_mask", "token_type_ids"]


def shallow_model(full: Path, layers: int, *, rest: bool = False, rebuild: bool = False) -> Path:
    """The first ``layers`` layers of the model in ``full`` (``rest``: the layers after them, reading
    their output), cut out once and cached beside it."""
    target = full.with_name(f"{full.stem}-{'after' if rest else 'layers'}{layers}.onnx")
    return cached_model(target, lambda to: _cut(full, layers, to, rest), rebuild)


def _cut(full: Path, layers: int, target: Path, rest: bool) -> Path:
    import onnx
    from onnx.utils import Extractor

    _log.info("cutting the encoder after layer %d for the shallow pass (once): %s", layers, target)
    model = onnx.load(str(full), load_external_data=False)
    cut = layer_output(model, layers)
    inputs, outputs = ([cut, *_INPUTS], [model.graph.output[0].name]) if rest else (_INPUTS, [cut])
    partial = target.with_name(f"{target.stem}.{os.getpid()}.tmp.onnx")
    try:
        # Extractor directly: onnx's extract_model checks the whole file first, and the checker wants
        # shapes on the contrib operators' outputs that the quantiser leaves untyped.
        onnx.save(Extractor(model).extract_model(inputs, outputs), str(partial))
        os.replace(partial, target)  # atomic: concurrent workers cut the same bytes
    finally:
        partial.unlink(missing_ok=True)
    return target


@dataclass(frozen=True, slots=True)
class ShallowStart:
    """A text's pass through the first layers: its shallow vector, and what the rest of the model
    needs to finish the full vector without running those layers again."""

    vector: Vectors
    hidden: npt.NDArray[np.float32]  # (windows, width, dim): the first layers' output
    feeds: dict[str, npt.NDArray[np.int64]]  # the windows' ids, mask and token types


class ShallowEncoder:
    """Sentence vectors from the first :data:`SHALLOW_LAYERS` layers of a :class:`MiniLMEncoder`
    (its tokenizer, windows and pooling; its own, smaller model session), and the full vector of the
    same text from where they stopped (:meth:`start`, :meth:`finish`)."""

    def __init__(self, full: MiniLMEncoder, layers: int = SHALLOW_LAYERS) -> None:
        self.full = full
        self.layers = layers
        self._lock = threading.Lock()
        self._session: Any = None
        self._rest: Any = None
        self._rest_hidden = ""  # the rest's input that takes the first layers' output
        self._rest_feeds: frozenset[str] = frozenset()  # the model inputs it reads as well

    @property
    def model_id(self) -> str:
        return f"{self.full.model_id}/layers{self.layers}"

    @property
    def dim(self) -> int:
        return self.full.dim

    def _load(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = self._open(rest=False)
                self._rest = self._open(rest=True)
                inputs = [i.name for i in self._rest.get_inputs()]
                self._rest_hidden, self._rest_feeds = inputs[0], frozenset(inputs[1:])
            return self._session

    def _open(self, *, rest: bool) -> Any:
        full = self.full.model_path()
        session, _ = open_session(
            lambda rebuild: shallow_model(full, self.layers, rest=rest, rebuild=rebuild), self.full.threads
        )
        return session

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_ids(self.full.token_ids_batch(texts))

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors:
        """Shallow vectors of texts tokenised by the full encoder's :meth:`~MiniLMEncoder.token_ids`."""
        session = self._session if self._session is not None else self._load()
        return self.full.embed_with(session, token_ids)

    def start(self, text_ids: list[int]) -> ShallowStart:
        """One text's shallow vector, keeping the first layers' output for :meth:`finish`."""
        session = self._session if self._session is not None else self._load()
        feeds = self.full.window_feeds(text_ids)
        hidden = session.run(None, feeds)[0]
        return ShallowStart(self.full.pool(hidden, feeds["attention_mask"]), hidden, feeds)

    def finish(self, started: ShallowStart) -> Vectors:
        """The full model's vector of the text ``started`` began: the remaining layers only, the same
        numbers as :meth:`MiniLMEncoder.encode_ids` gives (tests/resolve/test_shallow.py)."""
        if self._rest is None:
            self._load()
        feeds: dict[str, Any] = {k: v for k, v in started.feeds.items() if k in self._rest_feeds}
        feeds[self._rest_hidden] = started.hidden
        hidden = self._rest.run(None, feeds)[0]
        return self.full.pool(hidden, started.feeds["attention_mask"])


@runtime_checkable
class IdsEncoder(Protocol):
    """What the resolver and training need of a shallow encoder (:class:`ShallowEncoder` is one; the
    evaluation's memoising wrapper is another)."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors: ...


@runtime_checkable
class HasShallow(Protocol):
    """An encoder wrapper that provides its own shallow encoder (the evaluation's memo)."""

    def shallow_encoder(self, layers: int) -> IdsEncoder | None: ...


_SHALLOW: weakref.WeakKeyDictionary[MiniLMEncoder, dict[int, ShallowEncoder]] = weakref.WeakKeyDictionary()


def shallow_encoder(encoder: object, layers: int = SHALLOW_LAYERS) -> IdsEncoder | None:
    """The shallow encoder of ``encoder`` (one per encoder and depth, so resolvers of hot reloads share
    its session), or None when ``encoder`` is not a transformer that can be cut (a test double)."""
    if isinstance(encoder, HasShallow):
        return encoder.shallow_encoder(layers)
    if not isinstance(encoder, MiniLMEncoder):
        return None
    by_depth = _SHALLOW.setdefault(encoder, {})
    if layers not in by_depth:
        by_depth[layers] = ShallowEncoder(encoder, layers)
    return by_depth[layers]
