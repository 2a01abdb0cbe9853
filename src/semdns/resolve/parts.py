"""The encoder in two parts: its first layers, and the layers after them.

The shallow pass reads the vector of MiniLM's first :data:`SHALLOW_LAYERS` layers and, when it is not
sure, the full model finishes from where those layers stopped (:mod:`semdns.resolve.shallow`). Both
parts are cut from the same quantised file (:func:`semdns.resolve.quantize.quantized_model`) with the
``onnx`` package's extractor, so the first part computes exactly what the full model's first layers
compute and the second finishes the full vector bit for bit (``tests/resolve/test_shallow.py``); they
are cut once per machine and cached beside the full model, and cut again when a cached file is
unreadable.

The full encoder runs the same two parts one after the other (:class:`TwoParts`) instead of a session
of its own: the first part holds the embedding tables (47 MB of float32), so a third session on the
whole file would hold them twice, for the same numbers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from semdns.resolve.fused import INPUTS, layer_output_name
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
    inputs, outputs = ([cut, *INPUTS], [model.graph.output[0].name]) if rest else (list(INPUTS), [cut])
    partial = target.with_name(f"{target.stem}.{os.getpid()}.tmp.onnx")
    try:
        # Extractor directly: onnx's extract_model checks the whole file first, and the checker wants
        # shapes on the contrib operators' outputs that the quantiser leaves untyped.
        onnx.save(Extractor(model).extract_model(inputs, outputs), str(partial))
        os.replace(partial, target)  # atomic: concurrent workers cut the same bytes
    finally:
        partial.unlink(missing_ok=True)
    return target


class TwoParts:
    """The full model as two sessions run one after the other: ``first`` (the first layers, from the
    model's inputs) and ``rest`` (the layers after them, from the first part's output and the inputs it
    reads). :meth:`run` takes and gives what a session on the whole model would."""

    def __init__(self, first: Any, rest: Any) -> None:
        self.first = first
        self.rest = rest
        inputs = [i.name for i in rest.get_inputs()]
        self.rest_hidden = inputs[0]  # the rest's input that takes the first layers' output
        self.rest_feeds = frozenset(inputs[1:])  # the model inputs it reads as well

    def finish(self, hidden: Any, feeds: dict[str, Any]) -> Any:
        """The last hidden state, from the first part's output ``hidden`` for the inputs ``feeds``."""
        rest_feeds = {k: v for k, v in feeds.items() if k in self.rest_feeds}
        rest_feeds[self.rest_hidden] = hidden
        return self.rest.run(None, rest_feeds)[0]

    def run(self, output_names: Sequence[str] | None, feeds: dict[str, Any]) -> list[Any]:
        """As ``InferenceSession.run`` on the whole model (its one output)."""
        return [self.finish(self.first.run(None, feeds)[0], feeds)]
