"""Stage 3, the trained classifier: one calibrated softmax over every name, read level by level.

Trained by ``semdns train`` (:mod:`semdns.resolve.training`) on the zones' example queries *and* on
labelled public corpora, so that it knows how real prompts look (pasted code, exam questions, word
problems), not only the one-line examples a zone author writes. Its input joins three views of the
prompt:

- **lexical**: TF-IDF over words and word pairs (vocabulary and IDF learned from the training text);
- **structural**: :func:`semdns.resolve.features.structural_features` (code, formulae, numbers,
  reaction arrows, lettered options...), signals that hold across domains;
- **semantic**: the MiniLM embedding the resolver computes once per request (long prompts pooled over
  windows, see :class:`semdns.resolve.encoder.MiniLMEncoder`).

A second set of models per parent, the **lexical pass**, reads the same lexical and structural views
with a static embedding (:mod:`semdns.resolve.static`: token vectors summed, no transformer) in place
of MiniLM's. It costs well under a millisecond, so the resolver asks it first and runs the transformer
only for the prompts it is not sure about (``lexical_threshold`` in the zone policy). A third set,
the **shallow pass**, reads the same views with the vector of the transformer's first layers
(:mod:`semdns.resolve.shallow`, a third of a full call), for what the lexical pass leaves.

There is one small model per parent (its classes: the children, and "stay here" when the parent has
examples of its own), all reading the same features, computed once per request. Corpus labels that
only say "somewhere in this domain" (``"subtree": true``) train the levels above the domain and never
its "stay here" class. A temperature fitted per parent on held-out data makes the probabilities
calibrated, so the zone policy's ``classifier_threshold`` means what it says and abstention (stopping
at the parent) is honest.

The artefact is a versioned ``.npz`` keyed by the digest of the namespace it was trained for
(:func:`namespace_digest`): a resolver uses it only for that exact namespace, and trains a fresh one
(from the zone examples) otherwise.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from semdns.atomic import atomic_write
from semdns.names import Name
from semdns.resolve.encoder import Vectors
from semdns.resolve.features import structural_features
from semdns.zone.tree import ZoneTree

Pass = Literal["full", "lexical", "shallow"]
"""The classifier's three sets of models: on the transformer's vector, on the static embedding, on the
vector of the transformer's first layers."""

FORMAT_VERSION = "semdns-classifier-v4"
"""Bump when the features or the file layout change: older artefacts are then ignored."""

Floats = npt.NDArray[np.float32]

_TOKEN = re.compile(r"[a-z0-9_]+")
_PAIR = "{} {}".format


def tokens(text: str) -> list[str]:
    """The lexical units of a prompt: lower-case words and adjacent word pairs."""
    words: list[str] = _TOKEN.findall(text.lower())
    return words + list(map(_PAIR, words, words[1:]))


def namespace_digest(tree: ZoneTree) -> str:
    """What a classifier artefact was trained for: the names and their example queries.

    Keywords, engines and policies do not change what the classifier learns, so editing them keeps
    the artefact valid; adding a name or changing an example does not.
    """
    digest = hashlib.sha256(FORMAT_VERSION.encode())
    for node in sorted(tree, key=lambda n: str(n.name)):
        digest.update(b"\x00" + str(node.name).encode())
        for example in node.examples:
            digest.update(b"\x01" + example.encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class BaseFeatures:
    """The views of a prompt that need no embedding: sparse TF-IDF and the scaled structural block."""

    columns: npt.NDArray[np.intp]
    values: Floats
    structural: Floats


@dataclass(frozen=True, slots=True)
class QueryFeatures:
    """One prompt's input to every level: sparse TF-IDF columns and values, and the dense block."""

    columns: npt.NDArray[np.intp]
    values: Floats
    dense: Floats


@dataclass(frozen=True)
class ParentModel:
    """The classifier of one parent: ``candidates[i]`` is the class of row ``i`` of ``weights``."""

    candidates: tuple[Name, ...]
    weights: Floats  # (classes, V + structural + embedding)
    bias: Floats  # (classes,)
    temperature: float
    _dense: dict[int, Floats] = field(default_factory=dict, init=False, repr=False, compare=False)

    def dense_weights(self, vocabulary_size: int) -> Floats:
        """``weights[:, vocabulary_size:]`` (the dense block's columns) as one contiguous array, made
        once: every prediction multiplies it, and a product over the strided view of rows 60,000
        floats apart costs more than the product itself."""
        block = self._dense.get(vocabulary_size)
        if block is None:
            block = self._dense[vocabulary_size] = np.ascontiguousarray(self.weights[:, vocabulary_size:])
        return block


@dataclass(frozen=True)
class TrainedClassifier:
    """The weights of one namespace's classifier stage: shared features, one model per parent."""

    vocabulary: dict[str, int]
    idf: Floats  # (V,)
    parents: dict[Name, ParentModel]
    structural_scale: float
    embedding_scale: float
    meta: dict[str, Any] = field(default_factory=dict)
    lexical_parents: dict[Name, ParentModel] = field(default_factory=dict)
    """The lexical pass: one model per parent over TF-IDF, structure and the static embedding."""
    token_idf: Floats | None = None
    """The static embedding's token weights (:func:`semdns.resolve.static.token_idf`), or None when
    this classifier has no lexical pass."""
    shallow_parents: dict[Name, ParentModel] = field(default_factory=dict)
    """The shallow pass: one model per parent over TF-IDF, structure and the vector of the encoder's
    first ``shallow_layers`` layers (:mod:`semdns.resolve.shallow`)."""
    shallow_layers: int = 0
    """How many encoder layers the shallow pass reads (0: this classifier has no shallow pass)."""

    @property
    def vocabulary_size(self) -> int:
        return len(self.idf)

    # -- features -----------------------------------------------------------------------------

    def lexical(self, text: str) -> tuple[npt.NDArray[np.intp], Floats]:
        """Sparse TF-IDF of ``text``: column indices and values (sublinear tf, L2-normalised), the
        same numbers scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` gives at training."""
        # Count every unit first (in C), then look up only the distinct ones in the vocabulary.
        counted = Counter(tokens(text))
        column = self.vocabulary.get
        found: list[int] = []
        times: list[int] = []
        for unit, count in counted.items():
            index = column(unit)
            if index is not None:
                found.append(index)
                times.append(count)
        if not found:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        columns = np.array(found, dtype=np.intp)
        counts = np.array(times, dtype=np.float32)
        tf = 1.0 + np.log(counts)
        values = tf * self.idf[columns]
        norm = math.sqrt(float(values @ values))  # np.linalg.norm's arithmetic, without its checks
        return columns, (values / norm if norm > 0 else values).astype(np.float32)

    def base(self, text: str) -> BaseFeatures:
        """The embedding-free views, computed once per request and shared by both passes."""
        columns, values = self.lexical(text)
        structural = (structural_features(text) * self.structural_scale).astype(np.float32)
        return BaseFeatures(columns, values, structural)

    def with_embedding(self, base: BaseFeatures, embedding: Vectors) -> QueryFeatures:
        """One pass's input: the shared views and an embedding (MiniLM's, or the static one)."""
        dense = np.concatenate([base.structural, embedding.astype(np.float32) * self.embedding_scale])
        return QueryFeatures(base.columns, base.values, dense.astype(np.float32))

    def features(self, text: str, embedding: Vectors) -> QueryFeatures:
        """Everything every level reads, computed once per request."""
        return self.with_embedding(self.base(text), embedding)

    # -- prediction ---------------------------------------------------------------------------

    def models(self, which: Pass = "full") -> dict[Name, ParentModel]:
        """The per-parent models of one pass: the full classifier, its lexical pass or its shallow pass."""
        if which == "lexical":
            return self.lexical_parents
        return self.shallow_parents if which == "shallow" else self.parents

    def candidates(self, parent: Name, which: Pass = "full") -> tuple[Name, ...]:
        """The classes of pass ``which`` at ``parent`` (empty when it has no model there)."""
        model = self.models(which).get(parent)
        return model.candidates if model is not None else ()

    def score(self, parent: Name, features: QueryFeatures, which: Pass = "full") -> list[float]:
        """Calibrated probability of each of ``candidates(parent, which)``, in that order."""
        model = self.models(which)[parent]
        logits = model.dense_weights(self.vocabulary_size) @ features.dense + model.bias
        if len(features.columns):
            logits = logits + model.weights[:, features.columns] @ features.values
        # A handful of classes: the softmax in plain floats costs a third of numpy's calls on arrays.
        scaled = (logits / model.temperature).tolist()
        top = max(scaled)
        exp = [math.exp(x - top) for x in scaled]
        total = sum(exp)
        return [x / total for x in exp]

    # -- persistence --------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the artefact (compressed npz; weights as float16, which loses nothing measurable)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        words = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        meta = {**self.meta, "format": FORMAT_VERSION}
        arrays: dict[str, Any] = {
            "vocabulary": np.array(words),
            "idf": self.idf.astype(np.float32),
            "scales": np.array([self.structural_scale, self.embedding_scale]),
            "meta": np.array(json.dumps(meta, sort_keys=True)),
        }
        for prefix, models in (
            ("", self.parents),
            ("lexical_", self.lexical_parents),
            ("shallow_", self.shallow_parents),
        ):
            arrays[f"{prefix}parents"] = np.array([str(p) for p in models])
            arrays[f"{prefix}temperatures"] = np.array([m.temperature for m in models.values()])
            for i, model in enumerate(models.values()):
                arrays[f"{prefix}candidates_{i}"] = np.array([str(c) for c in model.candidates])
                arrays[f"{prefix}weights_{i}"] = model.weights.astype(np.float16)
                arrays[f"{prefix}bias_{i}"] = model.bias.astype(np.float32)
        if self.token_idf is not None:
            arrays["token_idf"] = self.token_idf.astype(np.float16)
        if self.shallow_parents:
            arrays["shallow_layers"] = np.array(self.shallow_layers)
        # Whole or not at all: a failed write keeps the artefact that was there (the shipped one, in
        # a development checkout), and a reader never sees half a file.
        atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))

    @classmethod
    def load(cls, path: Path) -> TrainedClassifier:
        """Read an artefact written by :meth:`save`; ``ValueError`` when it is of another format, or
        damaged (cut short, emptied), which every caller then treats as no artefact."""
        try:
            return cls._read(path)
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise ValueError(
                f"{path}: not a readable classifier artefact (damaged or cut short: {exc})"
            ) from None

    @classmethod
    def _read(cls, path: Path) -> TrainedClassifier:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                found = meta.get("format")
                raise ValueError(f"{path}: classifier format {found!r}, expected {FORMAT_VERSION!r}")
            structural_scale, embedding_scale = (float(x) for x in data["scales"])
            token_idf = data["token_idf"].astype(np.float32) if "token_idf" in data.files else None
            shallow_parents = _load_models(data, "shallow_")
            shallow_layers = int(data["shallow_layers"]) if "shallow_layers" in data.files else 0
            if shallow_parents and shallow_layers < 1:
                raise ValueError(f"{path}: a shallow pass without its layer count")
            loaded = cls(
                vocabulary={str(w): i for i, w in enumerate(data["vocabulary"])},
                idf=data["idf"].astype(np.float32),
                parents=_load_models(data, ""),
                structural_scale=structural_scale,
                embedding_scale=embedding_scale,
                meta=meta,
                lexical_parents=_load_models(data, "lexical_"),
                token_idf=token_idf,
                shallow_parents=shallow_parents,
                shallow_layers=shallow_layers,
            )
        problem = _inconsistency(loaded)
        if problem is not None:
            raise ValueError(f"{path}: {problem}")
        return loaded


def _inconsistency(classifier: TrainedClassifier) -> str | None:
    """What makes a loaded artefact unusable (a model that does not read the shared features, a lexical
    pass without its token weights), so that it fails at load and not on the first request."""
    width: int | None = None
    sections = (
        ("", classifier.parents),
        ("lexical ", classifier.lexical_parents),
        ("shallow ", classifier.shallow_parents),
    )
    for section, models in sections:
        for parent, model in models.items():
            rows, columns = model.weights.shape
            if width is None:
                width = columns
            which = f"the {section}model of {parent}"
            if rows != len(model.candidates) or model.bias.shape != (rows,):
                classes, biases = len(model.candidates), len(model.bias)
                return f"{which} has {rows} weight rows and {biases} biases for {classes} classes"
            if columns != width or columns <= classifier.vocabulary_size:
                vocabulary = classifier.vocabulary_size
                return f"{which} reads {columns} features, not {width} (vocabulary {vocabulary} + dense)"
            if not (np.isfinite(model.temperature) and model.temperature > 0):
                return f"{which} has temperature {model.temperature}"
    if classifier.lexical_parents and classifier.token_idf is None:
        return "it has lexical models but no token weights (token_idf)"
    return None


def _load_models(data: Any, prefix: str) -> dict[Name, ParentModel]:
    """The per-parent models stored under ``prefix`` (none when the artefact has no such section)."""
    if f"{prefix}parents" not in data.files:
        return {}
    models: dict[Name, ParentModel] = {}
    for i, (parent, temperature) in enumerate(
        zip(data[f"{prefix}parents"], data[f"{prefix}temperatures"], strict=True)
    ):
        models[Name.parse(str(parent))] = ParentModel(
            candidates=tuple(Name.parse(str(c)) for c in data[f"{prefix}candidates_{i}"]),
            weights=data[f"{prefix}weights_{i}"].astype(np.float32),
            bias=data[f"{prefix}bias_{i}"].astype(np.float32),
            temperature=float(temperature),
        )
    return models
