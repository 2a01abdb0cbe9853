"""Distilling the full classifier into the fast passes: "settled cheaply" should mean "the transformer
would have said the same".

The lexical pass (:mod:`semdns.resolve.static`, the classifier on words, structure and a static token
embedding) decides a prompt alone when its calibrated probability clears ``lexical_threshold``, and the
shallow pass (:mod:`semdns.resolve.shallow`, the same views with the vector of the transformer's first
layers) above ``shallow_threshold``; both are fitted here, each on its own view. Trained
on the corpus labels only, that probability says "this label is right", which differs from what the
resolver needs where the transformer-fed classifier would decide otherwise. Here the full classifier of
the same training run is the teacher:

- **soft targets.** Each labelled text's target at a parent blends its label with the teacher's
  calibrated probabilities there (:func:`blend`). Cross-entropy against soft targets is a weighted sum
  of hard-label terms, so scikit-learn's weighted logistic regression fits it on rows repeated once per
  class with the target as weight (:func:`soft_rows`);
- **unlabelled texts.** Texts without a label in this taxonomy (trivia questions, whose datasets label
  them after another one) are routed by the teacher from the apex down (:func:`teacher_descent`) and
  taught at every parent it reaches, with its probabilities as targets;
- **calibrated on agreement.** The temperature of each fast pass's model is fitted on the held-out rows
  against the teacher's choice (:func:`agreement_labels`), not the label, so a calibrated 0.9 reads "the
  transformer's classifier picks the same child nine times in ten".

What it bought (fewer prompts sent to the transformer at the same accuracy, chosen on tuning data only)
is measured in ``docs/routing.md`` with ``bench/routing_passes.py``. The shallow pass was fitted on the
labels alone until 2026-12-01, and sure of itself on real prompts it got wrong (its temperature at
``code.`` was 0.05). With both passes distilled, real prompts among the unlabelled texts, the shipped
resolver answers 194 of ShareGPT's 1,800 tuning prompts differently from the full path, against 624
before (docs/routing.md, "Both fast passes distilled on real prompts").
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semdns.names import Name
from semdns.resolve.trained import ParentModel

Floats = npt.NDArray[np.float32]
HARD_WEIGHT = 0.5
"""A labelled text's target: this much of its label, the rest the teacher's probabilities."""
SOFT_FLOOR = 0.01
"""Target probabilities below this are dropped (and the rest renormalised): they change the fit by
nothing measurable and would multiply the rows by the number of classes."""
DESCENT_CONFIDENCE = 0.5
"""An unlabelled text is taught below a parent only when the teacher picks that child above this: the
resolver descends only on a clear choice, so a lexical model is never asked about texts that would not
reach it."""


class UnlabelledError(ValueError):
    """An unlabelled corpus that cannot be read; the message names the file and line."""


def load_unlabelled(path: Path) -> list[str]:
    """The ``"query"`` of each line of a JSON-lines file (other fields, labels included, are ignored)."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnlabelledError(f"{path}: cannot read the unlabelled corpus ({exc})") from exc
    texts: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UnlabelledError(
                f"{path}:{number}: not JSON ({exc.msg}); each line is one JSON object"
            ) from exc
        if not isinstance(row, dict) or not isinstance(row.get("query"), str) or not row["query"].strip():
            raise UnlabelledError(f'{path}:{number}: each line needs a non-empty "query" string')
        texts.append(row["query"])
    if not texts:
        raise UnlabelledError(f"{path}: the unlabelled corpus is empty")
    return texts


def teacher_probabilities(
    model: ParentModel, lexical_rows: Any, dense: Floats, vocabulary_size: int
) -> Floats:
    """The teacher's calibrated probabilities over ``model.candidates`` for each row: ``lexical_rows``
    (sparse TF-IDF, ``vocabulary_size`` columns) and ``dense`` (structure and MiniLM embedding), the
    same arithmetic as :meth:`semdns.resolve.trained.TrainedClassifier.score`."""
    if dense.shape[0] != lexical_rows.shape[0]:
        raise ValueError(f"{lexical_rows.shape[0]} lexical rows but {dense.shape[0]} dense rows")
    if model.weights.shape[1] != vocabulary_size + dense.shape[1]:
        raise ValueError(
            f"the teacher reads {model.weights.shape[1]} features, the rows have "
            f"{vocabulary_size} + {dense.shape[1]}"
        )
    logits = np.asarray(lexical_rows @ model.weights[:, :vocabulary_size].T)
    logits = (logits + dense @ model.weights[:, vocabulary_size:].T + model.bias) / model.temperature
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    result: Floats = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return result


def blend(y: npt.NDArray[np.int64], teacher: Floats, hard_weight: float = HARD_WEIGHT) -> Floats:
    """Soft targets: ``hard_weight`` of the one-hot label ``y`` plus the rest of ``teacher``'s row."""
    if not 0.0 <= hard_weight <= 1.0:
        raise ValueError(f"hard_weight must be within [0, 1], not {hard_weight}")
    if len(y) != len(teacher):
        raise ValueError(f"{len(y)} labels but {len(teacher)} teacher rows")
    onehot = np.eye(teacher.shape[1], dtype=np.float32)[y]
    result: Floats = (hard_weight * onehot + (1.0 - hard_weight) * teacher).astype(np.float32)
    return result


def soft_rows(
    targets: Floats, floor: float = SOFT_FLOOR
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The soft-target fit as a weighted hard-label one: for each target row and each class with at
    least ``floor`` of its probability, (row, class, weight); weights of a row sum to 1."""
    kept = np.where(targets >= floor, targets, 0.0).astype(np.float64)
    totals = kept.sum(axis=1, keepdims=True)
    if (totals <= 0).any():
        raise ValueError(f"a target row has no class at or above {floor}")
    rows, classes = np.nonzero(kept)
    return rows.astype(np.intp), classes.astype(np.int64), (kept / totals)[rows, classes]


def agreement_labels(teacher: Floats) -> npt.NDArray[np.int64]:
    """The class the teacher picks for each row: what the lexical pass is calibrated to agree with."""
    return np.asarray(teacher.argmax(axis=1), dtype=np.int64)


def teacher_descent(
    apex: Name,
    parents: dict[Name, ParentModel],
    lexical_rows: Any,
    dense: Floats,
    vocabulary_size: int,
    *,
    confidence: float = DESCENT_CONFIDENCE,
) -> dict[Name, tuple[npt.NDArray[np.intp], Floats]]:
    """Route unlabelled rows down the teacher's models: per parent reached, the rows that reach it and
    the teacher's probabilities there. A row goes below a parent to the child the teacher picks above
    ``confidence``; "stay here", or no clear child, ends its descent."""
    reached: dict[Name, tuple[npt.NDArray[np.intp], Floats]] = {}
    frontier: list[tuple[Name, npt.NDArray[np.intp]]] = [(apex, np.arange(dense.shape[0], dtype=np.intp))]
    while frontier:
        parent, rows = frontier.pop()
        model = parents.get(parent)
        if model is None or not len(rows):
            continue
        probabilities = teacher_probabilities(model, lexical_rows[rows], dense[rows], vocabulary_size)
        reached[parent] = (rows, probabilities)
        chosen = probabilities.argmax(axis=1)
        clear = probabilities.max(axis=1) > confidence
        for index, child in enumerate(model.candidates):
            if child != parent:
                frontier.append((child, rows[(chosen == index) & clear]))
    return reached


def soft_fit(
    x: Any, targets: Floats, weights: npt.NDArray[np.float64], c: float, n_classes: int
) -> tuple[Floats, Floats]:
    """Weights and bias (one row per class) of a multinomial logistic regression fitted to soft
    ``targets``, each row weighted by ``weights``; a class with no target mass gets a bias of -1e4."""
    import warnings

    from sklearn.linear_model import LogisticRegression

    rows, classes, share = soft_rows(targets)
    if len(set(classes.tolist())) < 2:
        raise ValueError("soft targets put all their mass on one class: nothing to separate")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(C=c, max_iter=300, solver="lbfgs").fit(
            x[rows], classes, sample_weight=weights[rows] * share
        )
    coef = np.zeros((n_classes, x.shape[1]), dtype=np.float32)
    bias = np.full(n_classes, -1e4, dtype=np.float32)
    if len(model.classes_) == 2:  # scikit-learn keeps one row for two classes
        first, second = model.classes_
        coef[first], coef[second] = -model.coef_[0] / 2, model.coef_[0] / 2
        bias[first], bias[second] = -model.intercept_[0] / 2, model.intercept_[0] / 2
    else:
        coef[model.classes_] = model.coef_
        bias[model.classes_] = model.intercept_
    return coef, bias


def stack_rows(parts: Sequence[Any]) -> Any:
    """Sparse rows of several blocks as one CSR matrix."""
    from scipy import sparse

    return sparse.vstack(list(parts), format="csr")
