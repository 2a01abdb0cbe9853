"""MiniLM rebuilt from ONNX Runtime's fused transformer operators, for short prompts at line rate.

The packaged model is exported operator by operator: each attention layer is about forty small nodes
(reshapes, transposes, slices, the mask arithmetic of a ``torch.export``), and a call on a short prompt
pays mostly for running them, not for its matrix products (an ONNX Runtime profile of a 12-token call:
about 0.8 ms of 2.6 ms in the attention's small nodes; docs/routing.md). ONNX Runtime's own attention
fusion does not recognise that export's mask pattern, so this module writes the same network again
from the same weights with the operators ONNX Runtime ships for BERT: ``EmbedLayerNormalization``,
one ``Attention`` per layer (query, key and value in one product), ``BiasGelu`` (the exact, ``erf``
GELU) and plain ``LayerNormalization`` after each residual sum. Before quantisation it computes what
the export computes to float rounding (``tests/resolve/test_fused.py``); the dynamic int8 quantiser then
turns the products into ``QAttention`` and ``MatMulInteger``.

Each layer's output is a named tensor (:func:`layer_output_name`), so the shallow pass can cut the
graph after any layer, and the attention's padding mask is computed from ``attention_mask`` alone, so
the layers after a cut need only the hidden state and the mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

HIDDEN = 384
HEADS = 12
EPSILON = 1e-12  # BERT's layer-norm epsilon
_PREFIXES = ("inner.", "")  # the packaged export names its weights under "inner."; plain BERT does not
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""The model's inputs, in the export's order (every part cut from it reads a subset)."""
OUTPUT = "last_hidden_state"


def layer_output_name(layer: int) -> str:
    """The tensor that leaves encoder layer ``layer`` (1-based) in a fused graph."""
    return f"encoder.layer.{layer}.output"


class _Weights:
    """The export's weights by BERT parameter name: biases and norms are named initialisers; a
    product's weight is the initialiser that the ``MatMul`` feeding its bias's ``Add`` multiplies by."""

    def __init__(self, model: Any) -> None:
        from onnx import numpy_helper

        self.arrays: dict[str, npt.NDArray[np.float32]] = {
            init.name: numpy_helper.to_array(init) for init in model.graph.initializer
        }
        producer = {out: node for node in model.graph.node for out in node.output}
        for node in model.graph.node:
            if node.op_type != "Add" or len(node.input) != 2 or not node.input[1].endswith(".bias"):
                continue
            matmul = producer.get(node.input[0])
            if matmul is not None and matmul.op_type == "MatMul" and matmul.input[1] in self.arrays:
                self.arrays[node.input[1][: -len(".bias")] + ".weight.t"] = self.arrays[matmul.input[1]]
        prefix = next((p for p in _PREFIXES if f"{p}embeddings.word_embeddings.weight" in self.arrays), None)
        if prefix is None:
            raise ValueError("not a BERT export: no embeddings.word_embeddings.weight initialiser")
        self.prefix: str = prefix

    def __call__(self, name: str) -> npt.NDArray[np.float32]:
        try:
            return np.asarray(self.arrays[self.prefix + name], dtype=np.float32)
        except KeyError:
            raise ValueError(f"not a BERT export: no weight for {name}") from None

    def layers(self) -> int:
        count = 0
        while f"{self.prefix}encoder.layer.{count}.output.LayerNorm.weight" in self.arrays:
            count += 1
        return count


class _Graph:
    """Nodes and initialisers being written, with short helpers for the ones a layer needs."""

    def __init__(self, weights: _Weights) -> None:
        self.weights = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def constant(self, name: str, array: npt.NDArray[Any]) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def weight(self, name: str) -> str:
        return self.constant(name, self.weights(name))

    def node(self, op: str, inputs: list[str], output: str, *unused: str, **attributes: Any) -> str:
        """Add an ``op`` node; ``unused`` names outputs the operator must declare but nothing reads."""
        from onnx import helper

        domain = "com.microsoft" if op in {"EmbedLayerNormalization", "Attention", "BiasGelu"} else ""
        outputs = [output, *unused]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=output, domain=domain, **attributes))
        return output

    def residual_norm(self, product: str, bias: str, skip: str, norm: str, output: str) -> str:
        """``LayerNorm(product + bias + skip)``, left unfused: ONNX Runtime's ``SkipLayerNormalization``
        kernel cost three times the plain norm's on short prompts (docs/routing.md)."""
        biased = self.node("Add", [product, self.weight(bias)], f"{output}.biased")
        summed = self.node("Add", [biased, skip], f"{output}.sum")
        gamma, beta = self.weight(f"{norm}.weight"), self.weight(f"{norm}.bias")
        return self.node("LayerNormalization", [summed, gamma, beta], output, axis=-1, epsilon=EPSILON)

    def layer(self, index: int, hidden: str, mask_index: str) -> str:
        """BERT encoder layer ``index`` (0-based) on ``hidden``."""
        name = f"encoder.layer.{index}."
        self_attention = [
            self.weights(f"{name}attention.self.{p}.weight.t") for p in ("query", "key", "value")
        ]
        biases = [self.weights(f"{name}attention.self.{p}.bias") for p in ("query", "key", "value")]
        qkv = self.constant(f"{name}attention.qkv.weight", np.concatenate(self_attention, axis=1))
        qkv_bias = self.constant(f"{name}attention.qkv.bias", np.concatenate(biases))
        attended = self.node(
            "Attention", [hidden, qkv, qkv_bias, mask_index], f"{name}attention", num_heads=HEADS
        )
        projected = self.node(
            "MatMul",
            [attended, self.weight(f"{name}attention.output.dense.weight.t")],
            f"{name}attention.dense",
        )
        after_attention = self.residual_norm(
            projected,
            f"{name}attention.output.dense.bias",
            hidden,
            f"{name}attention.output.LayerNorm",
            f"{name}attention.norm",
        )
        widened = self.node(
            "MatMul",
            [after_attention, self.weight(f"{name}intermediate.dense.weight.t")],
            f"{name}intermediate",
        )
        activated = self.node(
            "BiasGelu", [widened, self.weight(f"{name}intermediate.dense.bias")], f"{name}gelu"
        )
        narrowed = self.node(
            "MatMul", [activated, self.weight(f"{name}output.dense.weight.t")], f"{name}dense"
        )
        return self.residual_norm(
            narrowed,
            f"{name}output.dense.bias",
            after_attention,
            f"{name}output.LayerNorm",
            layer_output_name(index + 1),
        )


def fused_model(export: Any) -> Any:
    """The fused equivalent (an ``onnx.ModelProto``) of ``export``, a float BERT-style encoder with
    inputs ``input_ids``, ``attention_mask``, ``token_type_ids`` and the last hidden state as output.
    ``ValueError`` names what is missing when ``export`` is not shaped like that."""
    from onnx import TensorProto, helper

    weights = _Weights(export)
    depth = weights.layers()
    if depth == 0:
        raise ValueError("not a BERT export: no encoder layers")
    graph = _Graph(weights)
    as_int32 = {name: graph.node("Cast", [name], f"{name}.int32", to=TensorProto.INT32) for name in INPUTS}
    # Right-padded windows: the mask index is each row's length, computed from the mask alone so that
    # a graph cut after any layer needs no embedding to rebuild it.
    axis = graph.constant("mask_index.axis", np.array([1], dtype=np.int64))
    mask_index = graph.node("ReduceSum", [as_int32["attention_mask"], axis], "mask_index", keepdims=0)
    embeddings = [
        graph.weight(f"embeddings.{kind}_embeddings.weight") for kind in ("word", "position", "token_type")
    ]
    norm = [graph.weight("embeddings.LayerNorm.weight"), graph.weight("embeddings.LayerNorm.bias")]
    hidden = graph.node(
        "EmbedLayerNormalization",
        [as_int32["input_ids"], as_int32["token_type_ids"], *embeddings, *norm],
        "embeddings",
        "embeddings.mask_index",  # its own mask index needs the mask; ours is above
        epsilon=EPSILON,
    )
    for index in range(depth):
        hidden = graph.layer(index, hidden, mask_index)
    graph.node("Identity", [hidden], OUTPUT)
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in INPUTS
    ]
    output = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", "sequence", HIDDEN])
    # Typed layer outputs: shape inference stops at the contrib operators, and a cut after a layer
    # (onnx's extractor) needs its tensor's type.
    layer_types = [
        helper.make_tensor_value_info(layer_output_name(k), TensorProto.FLOAT, ["batch", "sequence", HIDDEN])
        for k in range(1, depth + 1)
    ]
    fused = helper.make_graph(
        graph.nodes, "minilm-fused", inputs, [output], graph.initializers, value_info=layer_types
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(fused, opset_imports=opsets, producer_name="semdns")
    model.ir_version = min(int(export.ir_version), 9) or 9
    return model
