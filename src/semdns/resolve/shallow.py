"""The shallow pass: MiniLM's first layers, for the prompts the lexical pass cannot settle.

A transformer call costs in proportion to the layers it runs (one intra-op thread, a one-off
measurement on 2 cores: 1.5 ms of CPU for 8 tokens and 22 ms for 128 through all six layers, 0.8 ms
and 11 ms through the first three; docs/routing.md). The early layers already carry most of what
tells a domain apart: a logistic model on the masked mean of the first three layers' output named
the top-level domain of 794 held-out training items as often as one on the full model's sentence
vector (a one-off probe, docs/routing.md). So the resolver's second pass reads the first
:data:`SHALLOW_LAYERS` layers only, with the classifier's words and structure, and the full model runs
only for what that pass is not sure about, from where the shallow pass stopped.

The two parts are cut from the quantised model once per machine (:mod:`semdns.resolve.parts`), and
the full encoder itself runs as those two parts. Vectors are pooled like the full model's (one call
per text over the same windows, masked mean, unit length: :meth:`MiniLMEncoder.embed_with`), so a
text's shallow vector is a function of its text alone.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from semdns.resolve.encoder import MiniLMEncoder, Vectors, open_session
from semdns.resolve.parts import SHALLOW_LAYERS as SHALLOW_LAYERS
from semdns.resolve.parts import TwoParts
from semdns.resolve.parts import layer_output as layer_output
from semdns.resolve.parts import shallow_model as shallow_model


@dataclass(frozen=True, slots=True)
class ShallowStart:
    """A text's pass through the first layers: its shallow vector, and what the rest of the model
    needs to finish the full vector without running those layers again."""

    vector: Vectors
    hidden: tuple[npt.NDArray[np.float32], ...]  # per window, (1, tokens, dim): the first layers' output
    feeds: tuple[dict[str, npt.NDArray[np.int64]], ...]  # per window: its ids, mask and token types


class ShallowEncoder:
    """Sentence vectors from the first :data:`SHALLOW_LAYERS` layers of a :class:`MiniLMEncoder`
    (its tokenizer, windows and pooling), and the full vector of the same text from where they stopped
    (:meth:`start`, :meth:`finish`). At the encoder's own split (:data:`SHALLOW_LAYERS`) it runs the
    encoder's two sessions, so the process holds the model once; at another depth, its own."""

    def __init__(self, full: MiniLMEncoder, layers: int = SHALLOW_LAYERS) -> None:
        self.full = full
        self.layers = layers
        self._lock = threading.Lock()
        self._parts: TwoParts | None = None

    @property
    def model_id(self) -> str:
        return f"{self.full.model_id}/layers{self.layers}"

    @property
    def dim(self) -> int:
        return self.full.dim

    def _load(self) -> TwoParts:
        with self._lock:
            if self._parts is None:
                if self.layers == SHALLOW_LAYERS:
                    self._parts = self.full.parts()
                else:
                    self._parts = TwoParts(self._open(rest=False), self._open(rest=True))
            return self._parts

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
        parts = self._parts if self._parts is not None else self._load()
        return self.full.embed_with(parts.first, token_ids)

    def start(self, text_ids: list[int]) -> ShallowStart:
        """One text's shallow vector, keeping the first layers' output for :meth:`finish`."""
        parts = self._parts if self._parts is not None else self._load()
        feeds = tuple(self.full.window_feeds(text_ids))
        hidden = tuple(parts.first.run(None, window)[0] for window in feeds)
        return ShallowStart(self.full.pool(hidden), hidden, feeds)

    def finish(self, started: ShallowStart) -> Vectors:
        """The full model's vector of the text ``started`` began: the remaining layers only, the same
        numbers as :meth:`MiniLMEncoder.encode_ids` gives (tests/resolve/test_shallow.py)."""
        parts = self._parts if self._parts is not None else self._load()
        windows = zip(started.hidden, started.feeds, strict=True)
        return self.full.pool([parts.finish(hidden, feeds) for hidden, feeds in windows])


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
