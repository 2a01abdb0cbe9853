"""Training the classifier stage: zone examples plus labelled corpora, one calibrated model.

``semdns train`` calls :func:`train`; a :class:`semdns.resolve.Resolver` calls it too (on the zone
examples alone, cached on disk) when no artefact matches its namespace. scikit-learn is imported here
only: prediction (:mod:`semdns.resolve.trained`) is numpy.

Choices, and why:

- **Held-out temperature.** A fraction of the corpus items (chosen by a hash of the text, so the split
  is the same on every machine) is kept out of the fit; the temperature that minimises their negative
  log-likelihood is the one shipped, after a final fit on everything. The zone examples always train.
- **Class weights between balanced and natural** (inverse square root of the class size): corpora are
  large for some names (exam subjects, word problems) and absent for others (poetry, devops), and fully
  balanced weights would let fifty one-line examples outweigh thousands of real prompts.
- **Zone examples weigh six times a corpus item.** They say what a name *means* to the operator (what
  ``biology.`` is for); corpora bring breadth and real prompt shapes, and their labels follow another
  taxonomy (a trivia question about the heart is "general knowledge" to TriviaQA). Chosen on the team's
  labelled set and the held-out part of the training corpora, never on an evaluation split.
- **Scaled views.** Lexical TF-IDF rows have unit norm, embeddings too; the structural block is scaled
  so that no view dominates the shared L2 penalty.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from semdns.errors import SemdnsError
from semdns.names import InvalidName, Name
from semdns.resolve.distill import (
    Floats,
    agreement_labels,
    blend,
    load_unlabelled,
    soft_fit,
    stack_rows,
    teacher_descent,
    teacher_probabilities,
)
from semdns.resolve.encoder import Encoder, Vectors, encode_cached
from semdns.resolve.features import DIM as STRUCTURAL_DIM
from semdns.resolve.features import structural_features
from semdns.resolve.shallow import SHALLOW_LAYERS, IdsEncoder, shallow_encoder
from semdns.resolve.static import StaticEmbedding, TokenEncoder, token_idf
from semdns.resolve.trained import FORMAT_VERSION, ParentModel, TrainedClassifier, namespace_digest, tokens
from semdns.zone.tree import ZoneTree

DEV_FRACTION = 0.15
MAX_VOCABULARY = 60_000
STRUCTURAL_SCALE = 0.5
EMBEDDING_SCALE = 1.5
C = 8.0
LEXICAL_C = 32.0
"""The lexical pass's inverse regularisation: weaker than the full models' (``C``). Its static view is a
blunter signal than MiniLM's, and with less shrinkage its calibrated probabilities spread further from
the middle, so more prompts clear the threshold at the same accuracy (bench/routing_passes.py, tuning
sets only: docs/routing.md)."""
ZONE_WEIGHT = 6.0

Progress = Callable[[str], None]


class CorpusError(SemdnsError):
    """A labelled corpus line that cannot be used; the message names the file, the line and the fix."""

    http_status = 400
    code = "invalid_corpus"


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One training or evaluation item: a prompt and the name it should resolve to."""

    text: str
    name: Name
    source: str
    subtree: bool = False
    """The label says only "somewhere under ``name``": it trains the levels above, never "stay"."""


def zone_examples(tree: ZoneTree) -> list[LabelledText]:
    """Every example query of the namespace, labelled with its own node."""
    return [LabelledText(example, node.name, "zone") for node in tree for example in node.examples]


def load_corpus(path: Path, tree: ZoneTree | None = None) -> list[LabelledText]:
    """Read a JSON-lines corpus (``{"query": ..., "expected": "physics.science."}`` a line).

    Every bad line is reported with ``file:line`` and what to change; names are checked against
    ``tree`` when given.
    """
    items: list[LabelledText] = []
    try:
        # Split on newlines only: str.splitlines() also splits inside JSON strings at U+0085, U+2028...
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path}: cannot read the corpus ({exc})") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{where}: not JSON ({exc.msg}); each line is one JSON object") from exc
        if not isinstance(row, dict) or not isinstance(row.get("query"), str) or not row["query"].strip():
            raise CorpusError(f'{where}: each line needs a non-empty "query" string')
        if not isinstance(row.get("expected"), str):
            raise CorpusError(f'{where}: each line needs an "expected" name, e.g. "python.code."')
        try:
            name = Name.parse(row["expected"])
        except InvalidName as exc:
            raise CorpusError(f"{where}: expected {row['expected']!r} is not a name ({exc})") from exc
        if tree is not None and name not in tree.nodes:
            raise CorpusError(f"{where}: expected {str(name)!r} is not a name of this namespace")
        subtree = row.get("subtree", False)
        if not isinstance(subtree, bool):
            raise CorpusError(f'{where}: "subtree" must be true or false')
        items.append(LabelledText(row["query"], name, str(path), subtree))
    if not items:
        raise CorpusError(f"{path}: the corpus is empty")
    return items


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_dev(text: str) -> bool:
    return hashlib.sha256(text.encode()).digest()[0] < int(256 * DEV_FRACTION)


def _first_occurrences(items: Sequence[LabelledText]) -> list[int]:
    """Indices of the first item of each text (the first label wins), so that a prompt never lands on
    both sides of the calibration split nor counts twice."""
    seen: set[str] = set()
    keep: list[int] = []
    for index, item in enumerate(items):
        if item.text not in seen:
            seen.add(item.text)
            keep.append(index)
    return keep


def train(
    tree: ZoneTree,
    encoder: Encoder,
    corpora: Sequence[Path] = (),
    *,
    progress: Progress | None = None,
    use_disk_cache: bool = True,
    c: float = C,
    lexical_c: float = LEXICAL_C,
    zone_weight: float = ZONE_WEIGHT,
    example_vectors: Vectors | None = None,
    unlabelled: Sequence[Path] = (),
    shallow_layers: int = SHALLOW_LAYERS,
) -> TrainedClassifier:
    """Train the classifier of ``tree`` on its examples and the labelled ``corpora``.

    ``example_vectors``: the zone examples' embeddings in tree order, when the caller already has them
    (a resolver's :class:`~semdns.resolve.embedding.ExampleBank`), so they are not computed twice.
    ``unlabelled``: JSON-lines files whose queries (labels ignored) teach the fast passes what the full
    classifier does with them (:mod:`semdns.resolve.distill`); the full classifier never reads them.
    ``shallow_layers``: the depth of the shallow pass (0: none; an encoder that cannot be cut has none)."""
    say = progress or (lambda _message: None)
    per_corpus = [load_corpus(path, tree) for path in corpora]
    per_unlabelled = [load_unlabelled(path) for path in unlabelled]
    corpus_items = [item for items in per_corpus for item in items]
    examples = zone_examples(tree)
    if not examples and not corpus_items:
        return _empty(tree, encoder)
    say("embedding the training texts (cached on disk by content)")
    if example_vectors is None or len(example_vectors) != len(examples):
        # The same list the resolver's centroids embed: its disk cache entry is shared.
        example_vectors = encode_cached(encoder, [e.text for e in examples], use_disk=use_disk_cache)
    keep = _first_occurrences([*examples, *corpus_items])
    items = [[*examples, *corpus_items][i] for i in keep]
    embeddings = _embed_all(encoder, example_vectors, per_corpus, keep, use_disk_cache)
    texts = [item.text for item in items]
    dev = np.array([item.source != "zone" and _is_dev(item.text) for item in items])
    if dev.sum() < 50:  # too few corpus items to calibrate on: hold out a share of the examples
        dev = np.array([_is_dev(item.text) for item in items])
    say(f"{len(items)} labelled texts ({int(dev.sum())} held out for calibration)")
    extra = _unlabelled_rows(encoder, per_unlabelled, set(texts), use_disk_cache)
    fit_texts = [t for t, d in zip(texts, dev, strict=True) if not d]
    vocabulary, idf, every_row = _lexical(fit_texts, [*texts, *extra.texts])
    lexical, extra.lexical = every_row[: len(texts)], every_row[len(texts) :]
    dense = np.hstack(
        [
            np.vstack([structural_features(t) for t in texts]) * STRUCTURAL_SCALE,
            embeddings * EMBEDDING_SCALE,
        ]
    ).astype(np.float32)
    parents = _fit_parents(tree, items, lexical, dense, dev, c, zone_weight, say)
    lexical_parents: dict[Name, ParentModel] = {}
    idf_of_tokens: npt.NDArray[np.float32] | None = None
    reached = (
        teacher_descent(tree.apex, parents, extra.lexical, extra.dense, lexical.shape[1])
        if extra.texts
        else {}
    )
    if isinstance(encoder, TokenEncoder):
        say("the lexical pass: the same views with a static embedding (token table, no transformer)")
        token_ids = encoder.token_ids_batch(texts)
        table = encoder.token_table(use_disk=use_disk_cache)
        idf_of_tokens = token_idf([ids for ids, d in zip(token_ids, dev, strict=True) if not d], len(table))
        static = StaticEmbedding(table, idf_of_tokens)
        student = _Views(lexical, dense, _with_embedding(dense, static.vectors(token_ids)), dev)
        if extra.texts:
            say(f"{len(extra.texts)} unlabelled texts, routed by the full classifier")
        extra_static = replace(
            extra,
            student_dense=_with_embedding(extra.dense, static.vectors(encoder.token_ids_batch(extra.texts))),
        )
        lexical_parents = _fit_distilled_parents(
            tree, items, student, extra_static, reached, parents, lexical_c, zone_weight, say, "lexical"
        )
    shallow_parents: dict[Name, ParentModel] = {}
    shallow = shallow_encoder(encoder, shallow_layers) if shallow_layers else None
    if shallow is not None:
        say(f"the shallow pass: the same views with the vector of the first {shallow_layers} layers")
        shallow_examples = (
            encode_cached(shallow, [e.text for e in examples], use_disk=use_disk_cache) if examples else None
        )
        shallow_vectors = _embed_all(shallow, shallow_examples, per_corpus, keep, use_disk_cache)
        student = _Views(lexical, dense, _with_embedding(dense, shallow_vectors), dev)
        # One disk-cache entry for every unlabelled text, as for their full vectors.
        unlabelled_view = (
            _with_embedding(extra.dense, encode_cached(shallow, list(extra.texts), use_disk=use_disk_cache))
            if extra.texts
            else extra.dense
        )
        extra_shallow = replace(extra, student_dense=unlabelled_view)
        shallow_parents = _fit_distilled_parents(
            tree, items, student, extra_shallow, reached, parents, c, zone_weight, say, "shallow"
        )
    counts = Counter(str(item.name) for item in items)
    meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "namespace": namespace_digest(tree),
        "encoder": encoder.model_id,
        "corpora": {str(p): file_digest(p) for p in corpora},
        "unlabelled": {str(p): file_digest(p) for p in unlabelled},
        "unlabelled_texts": len(extra.texts),
        "items": len(items),
        "held_out": int(dev.sum()),
        "per_name": dict(sorted(counts.items())),
        "temperatures": {str(p): round(m.temperature, 4) for p, m in parents.items()},
        "lexical_temperatures": {str(p): round(m.temperature, 4) for p, m in lexical_parents.items()},
        "shallow_temperatures": {str(p): round(m.temperature, 4) for p, m in shallow_parents.items()},
        "shallow_encoder": shallow.model_id if shallow is not None else None,
        "c": c,
        "lexical_c": lexical_c,
        "zone_weight": zone_weight,
    }
    return TrainedClassifier(
        vocabulary=vocabulary,
        idf=idf,
        parents=parents,
        structural_scale=STRUCTURAL_SCALE,
        embedding_scale=EMBEDDING_SCALE,
        meta=meta,
        lexical_parents=lexical_parents,
        token_idf=idf_of_tokens,
        shallow_parents=shallow_parents,
        shallow_layers=shallow_layers if shallow_parents else 0,
    )


def _embed_all(
    encoder: Encoder | IdsEncoder,
    example_vectors: Vectors | None,
    per_corpus: Sequence[Sequence[LabelledText]],
    keep: Sequence[int],
    use_disk_cache: bool,
) -> Vectors:
    """The vectors of the zone examples then of every corpus (one disk-cache entry per corpus file, so
    that adding or dropping a corpus re-embeds only that one), at the kept positions."""
    parts = [example_vectors] if example_vectors is not None and len(example_vectors) else []
    for group in per_corpus:
        parts.append(encode_cached(encoder, [c.text for c in group], use_disk=use_disk_cache))
    stacked: Vectors = np.vstack(parts)[list(keep)]
    return stacked


def _with_embedding(dense: npt.NDArray[np.float32], vectors: Vectors) -> npt.NDArray[np.float32]:
    """The dense block of ``dense`` (structure, then MiniLM's vector) with ``vectors`` in place of
    MiniLM's: what the lexical and shallow passes read, scaled like the full classifier's."""
    block: npt.NDArray[np.float32] = np.hstack([dense[:, :STRUCTURAL_DIM], vectors * EMBEDDING_SCALE]).astype(
        np.float32
    )
    return block


def _zone_boost(items: Sequence[LabelledText], rows: Any, zone_weight: float) -> npt.NDArray[np.float64]:
    """Each row's sample weight: ``zone_weight`` for a zone example (what the zone author wrote, few but
    authoritative), 1 for a corpus item."""
    return np.array([zone_weight if items[r].source == "zone" else 1.0 for r in rows])


def _fit_parents(
    tree: ZoneTree,
    items: Sequence[LabelledText],
    lexical: Any,
    dense: npt.NDArray[np.float32],
    dev: npt.NDArray[np.bool_],
    c: float,
    zone_weight: float,
    say: Progress,
) -> dict[Name, ParentModel]:
    """One calibrated model per parent over the sparse ``lexical`` rows and the ``dense`` block."""
    parents: dict[Name, ParentModel] = {}
    for parent, candidates, y, rows in _problems(tree, items):
        say(f"{parent}: {len(rows)} texts over {len(candidates)} classes")
        boost = _zone_boost(items, rows, zone_weight)
        parents[parent] = _fit_parent(candidates, y, rows, lexical, dense, dev, c, boost)
    return parents


@dataclass
class _Views:
    """Rows of texts as the full classifier and one of its students read them: sparse TF-IDF, the full
    classifier's dense block (structure and MiniLM) and the student pass's (structure and the static
    embedding for the lexical pass, the first layers' vector for the shallow pass)."""

    lexical: Any
    dense: npt.NDArray[np.float32]
    student_dense: npt.NDArray[np.float32]
    dev: npt.NDArray[np.bool_]
    texts: Sequence[str] = ()


def _unlabelled_rows(
    encoder: Encoder, per_file: Sequence[Sequence[str]], labelled: set[str], use_disk_cache: bool
) -> _Views:
    """The unlabelled texts not already labelled (each once), their MiniLM dense block and their
    held-out flags; the TF-IDF and static blocks are filled in by the caller."""
    texts: list[str] = []
    vectors: list[Vectors] = []
    seen = set(labelled)
    for group in per_file:
        # The whole file is one disk-cache entry, as for the labelled corpora.
        embedded = encode_cached(encoder, list(group), use_disk=use_disk_cache)
        for text, vector in zip(group, embedded, strict=True):
            if text not in seen:
                seen.add(text)
                texts.append(text)
                vectors.append(vector)
    if not texts:
        empty = np.zeros((0, STRUCTURAL_DIM + encoder.dim), dtype=np.float32)
        return _Views(None, empty, empty, np.zeros(0, dtype=bool))
    dense = np.hstack(
        [
            np.vstack([structural_features(t) for t in texts]) * STRUCTURAL_SCALE,
            np.vstack(vectors) * EMBEDDING_SCALE,
        ]
    ).astype(np.float32)
    return _Views(None, dense, dense, np.array([_is_dev(t) for t in texts]), texts)


def _fit_distilled_parents(
    tree: ZoneTree,
    items: Sequence[LabelledText],
    student: _Views,
    extra: _Views,
    reached: dict[Name, tuple[npt.NDArray[np.intp], Floats]],
    teachers: dict[Name, ParentModel],
    c: float,
    zone_weight: float,
    say: Progress,
    pass_name: str,
) -> dict[Name, ParentModel]:
    """A fast pass (the lexical or the shallow one: ``student.student_dense`` is what it reads in place
    of MiniLM's vector) distilled from the full models ``teachers`` (:mod:`semdns.resolve.distill`): per
    parent, soft targets on the labelled rows, the teacher's probabilities on the unlabelled rows that
    reach it (``reached``: :func:`teacher_descent`'s answer, computed once for both passes), and a
    temperature calibrated on agreement with the teacher's choice, so that its threshold reads "the
    full classifier would say the same" on the kind of text it is given."""
    from scipy import sparse

    vocabulary = student.lexical.shape[1]
    models: dict[Name, ParentModel] = {}
    for parent, candidates, y, rows in _problems(tree, items):
        teacher = teachers[parent]
        if teacher.candidates != candidates:  # pragma: no cover - both come from _classes_at
            raise RuntimeError(f"{parent}: the full and lexical models have different classes")
        probabilities = teacher_probabilities(teacher, student.lexical[rows], student.dense[rows], vocabulary)
        boost = _zone_boost(items, rows, zone_weight)
        x = sparse.hstack(
            [student.lexical[rows], sparse.csr_matrix(student.student_dense[rows])], format="csr"
        )
        targets = blend(y, probabilities)
        weights = _class_weights(y, len(candidates)) * boost
        agree = agreement_labels(probabilities)
        held = student.dev[rows]
        calibrate = held.sum() >= 10 and len(set(y[~held])) == len(candidates)
        if parent in reached:
            more, more_probabilities = reached[parent]
            more_x = sparse.hstack(
                [extra.lexical[more], sparse.csr_matrix(extra.student_dense[more])], format="csr"
            )
            x = stack_rows([x, more_x])
            targets = np.vstack([targets, more_probabilities])
            weights = np.concatenate([weights, np.ones(len(more))])
            agree = np.concatenate([agree, agreement_labels(more_probabilities)])
            held = np.concatenate([held, extra.dev[more]])
        say(f"{parent}: {pass_name} pass on {x.shape[0]} texts ({x.shape[0] - len(rows)} unlabelled)")
        fit = ~held if calibrate else np.ones(len(held), dtype=bool)
        weights_, bias = soft_fit(x[fit], targets[fit], weights[fit], c, len(candidates))
        temperature = 1.0
        if calibrate:
            logits = np.asarray(x[held] @ weights_.T + bias, dtype=np.float64)
            temperature = _fit_temperature(logits, agree[held])
        models[parent] = ParentModel(candidates, weights_, bias, temperature)
    return models


def _empty(tree: ZoneTree, encoder: Encoder) -> TrainedClassifier:
    """The classifier of a namespace with nothing to learn from: no parent has a model, so the stage
    passes at every level (the keyword and embedding stages, or abstention, decide)."""
    meta = {"format": FORMAT_VERSION, "namespace": namespace_digest(tree), "encoder": encoder.model_id}
    return TrainedClassifier({}, np.zeros(0, dtype=np.float32), {}, STRUCTURAL_SCALE, EMBEDDING_SCALE, meta)


def _problems(
    tree: ZoneTree, items: Sequence[LabelledText]
) -> Iterator[tuple[Name, tuple[Name, ...], npt.NDArray[np.int64], npt.NDArray[np.intp]]]:
    """Every parent with a training problem (:func:`_classes_at`), in tree order: its name, classes,
    each usable item's class and row."""
    for node in tree:
        labels = _classes_at(tree, node.name, items)
        if labels is not None:
            yield (node.name, *labels)


def _classes_at(
    tree: ZoneTree, parent: Name, items: Sequence[LabelledText]
) -> tuple[tuple[Name, ...], npt.NDArray[np.int64], npt.NDArray[np.intp]] | None:
    """The training problem at ``parent``: its classes, each usable item's class and row.

    An item below ``parent`` is labelled with the child on its path; an item labelled ``parent`` itself
    is "stay here" unless its label is a subtree label; every other item says nothing here."""
    children = tree.children(parent)
    if not children:
        return None
    on_path: dict[Name, Name] = {}
    for child in children:
        for node in tree.subtree(child):
            on_path[node.name] = child
    classes: list[Name] = []
    index: dict[Name, int] = {}
    y: list[int] = []
    rows: list[int] = []
    for row, item in enumerate(items):
        target = on_path.get(item.name)
        if target is None and item.name == parent and not item.subtree:
            target = parent
        if target is None:
            continue
        if target not in index:
            index[target] = len(classes)
            classes.append(target)
        y.append(index[target])
        rows.append(row)
    if len(classes) < 2:
        return None
    # Children in tree order, then "stay here" last, as the other stages list their candidates.
    order = [c for c in children if c in index] + ([parent] if parent in index else [])
    remap = np.array([order.index(c) for c in classes], dtype=np.int64)
    return tuple(order), remap[np.array(y, dtype=np.int64)], np.array(rows, dtype=np.intp)


def _fit_parent(
    candidates: tuple[Name, ...],
    y: npt.NDArray[np.int64],
    rows: npt.NDArray[np.intp],
    lexical: Any,
    dense: npt.NDArray[np.float32],
    dev: npt.NDArray[np.bool_],
    c: float,
    boost: npt.NDArray[np.float64],
) -> ParentModel:
    """Fit one parent on its training rows; calibrate on its held-out rows when there are enough."""
    from scipy import sparse

    x = sparse.hstack([lexical[rows], sparse.csr_matrix(dense[rows])], format="csr")
    held = dev[rows]
    fit_rows = ~held if held.sum() >= 10 and len(set(y[~held])) == len(candidates) else np.ones(len(y), bool)
    weights_fit = _class_weights(y[fit_rows], len(candidates)) * boost[fit_rows]
    model = _fit(x[fit_rows], y[fit_rows], weights_fit, c)
    weights = np.zeros((len(candidates), x.shape[1]), dtype=np.float32)
    bias = np.full(len(candidates), -1e4, dtype=np.float32)
    if len(candidates) == 2 and model.coef_.shape[0] == 1:  # scikit-learn keeps one row for two classes
        weights[0], weights[1] = -model.coef_[0] / 2, model.coef_[0] / 2
        bias[0], bias[1] = -model.intercept_[0] / 2, model.intercept_[0] / 2
    else:
        weights[model.classes_] = model.coef_
        bias[model.classes_] = model.intercept_
    temperature = 1.0
    if not fit_rows.all():
        logits = x[held] @ weights.T + bias
        temperature = _fit_temperature(np.asarray(logits, dtype=np.float64), y[held])
    return ParentModel(candidates, weights, bias, temperature)


def _lexical(fit_texts: Sequence[str], texts: Sequence[str]) -> tuple[dict[str, int], Any, Any]:
    """Vocabulary and IDF learned from ``fit_texts`` (the training split), and the TF-IDF rows of every
    text. A word must occur in two texts to count, except in a namespace too small for that."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        tokenizer=tokens,
        lowercase=False,
        token_pattern=None,
        sublinear_tf=True,
        min_df=2 if len(fit_texts) >= 200 else 1,
        max_features=MAX_VOCABULARY,
        dtype=np.float32,
    )
    try:
        vectorizer.fit(fit_texts)
    except ValueError:  # no words at all (a namespace without examples): the lexical view is empty
        return {}, np.zeros(0, dtype=np.float32), sparse.csr_matrix((len(texts), 0), dtype=np.float32)
    vocabulary = {str(w): int(i) for w, i in vectorizer.vocabulary_.items()}
    return vocabulary, np.asarray(vectorizer.idf_, dtype=np.float32), vectorizer.transform(texts)


def _class_weights(y: npt.NDArray[np.int64], n_classes: int) -> npt.NDArray[np.float64]:
    sizes = np.bincount(y, minlength=n_classes).astype(np.float64)
    per_class = np.sqrt(sizes.sum() / np.maximum(sizes, 1.0) / n_classes)
    result: npt.NDArray[np.float64] = per_class[y] / per_class[y].mean()
    return result


def _fit(x: Any, y: npt.NDArray[np.int64], weights: npt.NDArray[np.float64], c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(C=c, max_iter=300, solver="lbfgs").fit(x, y, sample_weight=weights)


def _fit_temperature(logits: npt.NDArray[np.float64], y: npt.NDArray[np.int64]) -> float:
    """The temperature minimising the held-out negative log-likelihood (Guo et al., 2017)."""
    from scipy.optimize import minimize_scalar

    def nll(t: float) -> float:
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(y)), y].mean())

    found = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded")
    return float(found.x)
