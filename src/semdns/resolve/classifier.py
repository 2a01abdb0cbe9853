"""Stage 3, the classifier: one calibrated logistic regression per parent, trained at zone load.

Trained on the embeddings of the zone's example queries: one class per child (its whole subtree's
examples) plus, when the parent has examples of its own, a "stay here" class. Probabilities are
calibrated by temperature scaling (Guo et al., 2017): the logits of held-out folds fix one temperature
that makes the softmax honest, so the threshold in the zone policy means what it says. Prediction is a
single small matrix product in numpy (microseconds); scikit-learn is used only to train. Trained
weights are cached on disk beside the example embeddings, keyed by the training data.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from semdns.names import Name
from semdns.resolve.embedding import ExampleBank
from semdns.resolve.encoder import Vectors, cache_dir
from semdns.zone.tree import ZoneTree

_FOLDS = 3
_C = 2.0
_CLASS_WEIGHT = "balanced"
_CACHE_VERSION = b"clf-v1"

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ParentClassifier:
    """The classifier of one parent; ``candidates[i]`` is the class of probability column ``i``."""

    candidates: tuple[Name, ...]
    weights: Floats  # (classes, dim)
    bias: Floats  # (classes,)
    temperature: float

    def probabilities(self, vectors: Vectors) -> Floats:
        logits = (vectors @ self.weights.T + self.bias) / self.temperature
        logits -= logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        result: Floats = exp / exp.sum(axis=-1, keepdims=True)
        return result

    def score(self, query_vector: Vectors) -> list[float]:
        return [float(p) for p in self.probabilities(query_vector.reshape(1, -1))[0]]


def train_classifiers(
    tree: ZoneTree, bank: ExampleBank, *, use_disk_cache: bool = True
) -> dict[Name, ParentClassifier]:
    """Train one classifier for every node with at least two classes of examples."""
    result: dict[Name, ParentClassifier] = {}
    for node in tree:
        classes: list[Name] = []
        parts: list[Vectors] = []
        for child in tree.children(node.name):
            examples = bank.subtree(child)
            if len(examples):
                classes.append(child)
                parts.append(examples)
        own = bank.own(node.name)
        if classes and len(own):
            classes.append(node.name)
            parts.append(own)
        if len(classes) < 2:
            continue
        x = np.vstack(parts).astype(np.float64)
        y = np.concatenate([np.full(len(part), i) for i, part in enumerate(parts)])
        weights, bias, temperature = _fit_cached(x, y, len(classes), use_disk_cache)
        result[node.name] = ParentClassifier(tuple(classes), weights, bias, temperature)
    return result


def _fit_cached(
    x: Floats, y: npt.NDArray[np.int64], n_classes: int, use_disk: bool
) -> tuple[Floats, Floats, float]:
    digest = hashlib.sha256(_CACHE_VERSION)
    digest.update(np.ascontiguousarray(x).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    path = cache_dir() / "classifiers" / f"{digest.hexdigest()}.npz"
    if use_disk:
        try:
            with np.load(path) as stored:
                return stored["w"], stored["b"], float(stored["t"])
        except (OSError, KeyError, ValueError):
            pass
    weights, bias, temperature = _fit(x, y, n_classes)
    if use_disk:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, w=weights, b=bias, t=np.array(temperature))
            os.replace(tmp, path)
        except OSError:
            pass
    return weights, bias, temperature


def _fit(x: Floats, y: npt.NDArray[np.int64], n_classes: int) -> tuple[Floats, Floats, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    def model() -> LogisticRegression:
        return LogisticRegression(C=_C, solver="newton-cg", max_iter=500, class_weight=_CLASS_WEIGHT)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        final = model().fit(x, y)
        smallest = int(np.bincount(y, minlength=n_classes).min())
        temperature = 1.0
        if smallest >= _FOLDS:
            held_out = np.zeros((len(y), n_classes))
            for train, test in StratifiedKFold(_FOLDS, shuffle=True, random_state=0).split(x, y):
                fold = model().fit(x[train], y[train])
                held_out[test] = fold.decision_function(x[test])
            temperature = _fit_temperature(held_out, y)
    weights: Floats = np.asarray(final.coef_, dtype=np.float64)
    bias: Floats = np.asarray(final.intercept_, dtype=np.float64)
    if n_classes == 2:  # scikit-learn stores one row for binary problems
        weights = np.vstack([-weights[0] / 2, weights[0] / 2])
        bias = np.array([-bias[0] / 2, bias[0] / 2])
    return weights, bias, temperature


def _fit_temperature(logits: Floats, y: npt.NDArray[np.int64]) -> float:
    """The temperature minimising the held-out negative log-likelihood."""
    from scipy.optimize import minimize_scalar

    if logits.ndim == 1 or logits.shape[1] == 1:  # binary decision_function: one column
        flat = logits.reshape(-1)
        logits = np.stack([-flat / 2, flat / 2], axis=1)

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(y)), y].mean())

    found = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded")
    return float(found.x)
