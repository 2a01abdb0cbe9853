"""Distilling the full classifier into the fast passes (lexical and shallow): soft targets, the
teacher's descent over unlabelled texts, agreement calibration, and bad unlabelled corpora."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse
from typer.testing import CliRunner

from semdns.cli import _register, app
from semdns.names import Name
from semdns.resolve.classifier import ClassifierMismatch, classifier_for
from semdns.resolve.distill import (
    UnlabelledError,
    agreement_labels,
    blend,
    load_unlabelled,
    soft_fit,
    soft_rows,
    teacher_descent,
    teacher_probabilities,
)
from semdns.resolve.encoder import MiniLMEncoder
from semdns.resolve.trained import ParentModel, QueryFeatures, TrainedClassifier
from semdns.resolve.training import train
from semdns.zone import load_zone_files

DATA = Path(__file__).parent.parent / "data"
SMALL = DATA / "zones" / "small.yaml"
ROOT, ANIMALS, VEHICLES = Name.parse("."), Name.parse("animals."), Name.parse("vehicles.")
DOGS, CATS = Name.parse("dogs.animals."), Name.parse("cats.animals.")


def _jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# -- unlabelled corpora -----------------------------------------------------------------------------


def test_unlabelled_corpora_keep_the_queries_and_ignore_labels(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "u.jsonl", [{"query": "who wrote hamlet", "expected": "."}, {"query": "a\u2028b"}]
    )
    assert load_unlabelled(path) == ["who wrote hamlet", "a\u2028b"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not JSON"),
        ('["who wrote hamlet"]', 'needs a non-empty "query"'),
        ('{"query": "   "}', 'needs a non-empty "query"'),
        ('{"query": 7}', 'needs a non-empty "query"'),
    ],
)
def test_bad_unlabelled_lines_name_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"query": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(UnlabelledError) as info:
        load_unlabelled(path)
    assert f"{path}:2" in str(info.value) and message in str(info.value)


def test_an_empty_or_unreadable_unlabelled_corpus_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(UnlabelledError, match="empty"):
        load_unlabelled(tmp_path / "empty.jsonl")
    with pytest.raises(UnlabelledError, match="cannot read"):
        load_unlabelled(tmp_path / "missing.jsonl")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"query": "caf\xe9"}\n')
    with pytest.raises(UnlabelledError, match="cannot read"):
        load_unlabelled(tmp_path / "latin1.jsonl")


# -- soft targets -----------------------------------------------------------------------------------


def test_blend_mixes_the_label_and_the_teacher() -> None:
    teacher = np.array([[0.2, 0.8], [0.6, 0.4]], dtype=np.float32)
    y = np.array([0, 0])
    assert np.allclose(blend(y, teacher, 0.5), [[0.6, 0.4], [0.8, 0.2]])
    assert np.allclose(blend(y, teacher, 1.0), [[1, 0], [1, 0]])
    assert np.allclose(blend(y, teacher, 0.0), teacher)
    with pytest.raises(ValueError, match="within"):
        blend(y, teacher, 1.5)
    with pytest.raises(ValueError, match="labels"):
        blend(y[:1], teacher)


def test_soft_rows_repeat_each_row_per_class_and_drop_negligible_ones() -> None:
    targets = np.array([[0.7, 0.295, 0.005], [0.0, 0.0, 1.0]], dtype=np.float32)
    rows, classes, weights = soft_rows(targets)
    assert rows.tolist() == [0, 0, 1] and classes.tolist() == [0, 1, 2]
    assert np.isclose(weights[:2].sum(), 1.0) and np.isclose(weights[2], 1.0)
    assert weights[0] > weights[1]
    with pytest.raises(ValueError, match="no class"):
        soft_rows(np.array([[0.004, 0.004]], dtype=np.float32))


def test_a_soft_fit_learns_the_teachers_probabilities_not_only_its_choice() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    true_weights = np.array([[1.5, 0.0, -1.0], [0.0, 0.0, 0.0], [-1.0, 2.0, 0.5]])
    logits = x @ true_weights.T
    teacher = np.exp(logits - logits.max(axis=1, keepdims=True))
    teacher = (teacher / teacher.sum(axis=1, keepdims=True)).astype(np.float32)
    coef, bias = soft_fit(sparse.csr_matrix(x), teacher, np.ones(len(x)), 1e4, 3)
    fitted = x @ coef.T + bias
    fitted = np.exp(fitted - fitted.max(axis=1, keepdims=True))
    fitted /= fitted.sum(axis=1, keepdims=True)
    assert np.abs(fitted - teacher).max() < 0.05  # the probabilities, up to the dropped tails
    hard = np.eye(3, dtype=np.float32)[teacher.argmax(axis=1)]
    hard_coef, _ = soft_fit(sparse.csr_matrix(x), hard, np.ones(len(x)), 1e4, 3)
    assert np.abs(hard_coef).max() > 3 * np.abs(coef).max()  # one-hot targets: far sharper
    with pytest.raises(ValueError, match="one class"):
        soft_fit(
            sparse.csr_matrix(x), np.eye(3, dtype=np.float32)[np.zeros(len(x), int)], np.ones(len(x)), 1.0, 3
        )


def test_a_two_class_soft_fit_fills_both_rows() -> None:
    x = sparse.csr_matrix(np.array([[1.0], [-1.0], [2.0], [-2.0]]))
    targets = np.array([[0.1, 0.9], [0.9, 0.1], [0.05, 0.95], [0.95, 0.05]], dtype=np.float32)
    coef, _ = soft_fit(x, targets, np.ones(4), 10.0, 2)
    assert coef[1, 0] > 0 > coef[0, 0] and np.isclose(coef[0, 0], -coef[1, 0])


# -- the teacher ----------------------------------------------------------------------------------


def _model(
    candidates: tuple[Name, ...], dense_weights: list[list[float]], vocabulary: int = 2
) -> ParentModel:
    weights = np.hstack([np.zeros((len(candidates), vocabulary)), np.array(dense_weights)]).astype(np.float32)
    return ParentModel(candidates, weights, np.zeros(len(candidates), dtype=np.float32), 1.0)


def test_teacher_probabilities_are_the_classifiers_scores() -> None:
    model = _model((ANIMALS, VEHICLES), [[2.0, 0.0], [0.0, 2.0]])
    model = ParentModel(model.candidates, model.weights.copy(), model.bias, 0.5)
    model.weights[0, 1] = 1.0  # a TF-IDF column counts too
    classifier = TrainedClassifier({"a": 0, "b": 1}, np.ones(2, np.float32), {ROOT: model}, 1.0, 1.0)
    lexical = sparse.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0]], dtype=np.float32))
    dense = np.array([[0.3, 0.1], [0.0, 1.0]], dtype=np.float32)
    got = teacher_probabilities(model, lexical, dense, 2)
    for row in range(2):
        columns = lexical[row].indices.astype(np.intp)
        features = QueryFeatures(columns, lexical[row].data.astype(np.float32), dense[row])
        assert np.allclose(got[row], classifier.score(ROOT, features), atol=1e-6)
    assert agreement_labels(got).tolist() == [0, 1]
    with pytest.raises(ValueError, match="features"):
        teacher_probabilities(model, lexical, dense[:, :1], 2)
    with pytest.raises(ValueError, match="rows"):
        teacher_probabilities(model, lexical, dense[:1], 2)


def test_the_teacher_routes_unlabelled_rows_down_on_clear_choices_only() -> None:
    parents = {
        ROOT: _model((ANIMALS, VEHICLES), [[6.0, 0.0], [0.0, 6.0]]),
        ANIMALS: _model((DOGS, CATS, ANIMALS), [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]),
    }
    dense = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.9, 0.0]], dtype=np.float32)
    lexical = sparse.csr_matrix((4, 2), dtype=np.float32)
    reached = teacher_descent(ROOT, parents, lexical, dense, 2)
    assert reached[ROOT][0].tolist() == [0, 1, 2, 3]
    # Row 2 is a coin toss at the root: it is taught there and nowhere below. vehicles. has no model.
    assert sorted(reached[ANIMALS][0].tolist()) == [0, 3]
    assert np.allclose(reached[ANIMALS][1], 1 / 3)
    assert set(reached) == {ROOT, ANIMALS}
    strict = teacher_descent(ROOT, parents, lexical, dense, 2, confidence=0.999)
    assert set(strict) == {ROOT}


# -- training -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("distill")
    templates = [
        ("my puppy number {} keeps barking at the mailman", "dogs.animals."),
        ("the kitten {} purrs and scratches the sofa", "cats.animals."),
        ("my hatchback {} needs new brake pads", "cars.vehicles."),
        ("the gears on bicycle {} slip uphill", "bikes.vehicles."),
    ]
    labelled = [{"query": t.format(i), "expected": n} for i in range(25) for t, n in templates]
    unlabelled = [
        {"query": q.format(i)}
        for i in range(40)
        for q in ("which dog breed {} sheds least", "how often should tyre {} be rotated")
    ]
    return _jsonl(folder / "train.jsonl", labelled), _jsonl(folder / "unlabelled.jsonl", unlabelled)


@pytest.fixture(scope="module")
def taught(encoder: MiniLMEncoder, corpora: tuple[Path, Path]) -> TrainedClassifier:
    labelled, unlabelled = corpora
    return train(load_zone_files([SMALL]), encoder, [labelled], use_disk_cache=False, unlabelled=[unlabelled])


def test_unlabelled_texts_teach_both_fast_passes_and_never_the_full_classifier(
    encoder: MiniLMEncoder, corpora: tuple[Path, Path], taught: TrainedClassifier
) -> None:
    labelled, unlabelled = corpora
    plain = train(load_zone_files([SMALL]), encoder, [labelled], use_disk_cache=False)
    assert taught.meta["unlabelled_texts"] == 80 and str(unlabelled) in taught.meta["unlabelled"]
    assert plain.meta["unlabelled_texts"] == 0
    for parent, model in plain.parents.items():  # the full classifier is the same
        assert np.array_equal(model.weights, taught.parents[parent].weights)
        assert model.temperature == taught.parents[parent].temperature
    root = Name.parse(".")
    for student in ("lexical_parents", "shallow_parents"):
        before, after = getattr(plain, student), getattr(taught, student)
        assert after.keys() == before.keys() and root in after
        assert not np.array_equal(before[root].weights, after[root].weights), student
        for model in after.values():
            assert np.isfinite(model.weights).all() and 0.05 <= model.temperature <= 20.0


def test_the_fast_passes_learn_from_the_same_unlabelled_rows_routed_once(
    encoder: MiniLMEncoder, corpora: tuple[Path, Path]
) -> None:
    """Both fast passes are taught at every parent the full classifier sends an unlabelled text to (one
    descent, shared), and say so in the progress they report."""
    labelled, unlabelled = corpora
    said: list[str] = []
    train(
        load_zone_files([SMALL]),
        encoder,
        [labelled],
        use_disk_cache=False,
        unlabelled=[unlabelled],
        progress=said.append,
    )
    for student in ("lexical", "shallow"):
        lines = [line for line in said if f": {student} pass on " in line]
        assert any(line.startswith(".: ") and "(80 unlabelled)" in line for line in lines), (student, said)
    assert sum("unlabelled texts, routed by the full classifier" in line for line in said) == 1


def test_semdns_train_reads_unlabelled_corpora_and_check_sees_them(
    tmp_path: Path, corpora: tuple[Path, Path]
) -> None:
    labelled, unlabelled = corpora
    _register()
    runner = CliRunner()
    out = tmp_path / "clf.npz"
    args = ["train", "--zone", str(SMALL), "--corpus", str(labelled), "--output", str(out)]
    result = runner.invoke(app, [*args, "--unlabelled", str(unlabelled)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, [*args, "--unlabelled", str(unlabelled), "--check"]).exit_code == 0
    dropped = runner.invoke(app, [*args, "--check"])
    assert dropped.exit_code == 1 and "was used but is not given now" in dropped.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"expected": "."}\n', encoding="utf-8")
    broken = runner.invoke(app, [*args, "--unlabelled", str(bad)])
    assert broken.exit_code == 2 and f'{bad}:1: each line needs a non-empty "query"' in broken.output
    missing = runner.invoke(app, [*args, "--unlabelled", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "no such corpus file" in missing.output


# -- malformed artefacts ----------------------------------------------------------------------------


def _rewrite(source: Path, target: Path, change: Callable[[dict[str, np.ndarray]], None]) -> Path:
    with np.load(source, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    change(arrays)
    with target.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    return target


def _index_of(arrays: dict[str, np.ndarray], prefix: str, parent: str) -> int:
    return [str(p) for p in arrays[f"{prefix}parents"]].index(parent)


def _narrow_lexical(arrays: dict[str, np.ndarray]) -> None:
    i = _index_of(arrays, "lexical_", ".")
    arrays[f"lexical_weights_{i}"] = arrays[f"lexical_weights_{i}"][:, :-3]


def _short_bias(arrays: dict[str, np.ndarray]) -> None:
    arrays["bias_0"] = arrays["bias_0"][:-1]


def _zero_temperature(arrays: dict[str, np.ndarray]) -> None:
    arrays["lexical_temperatures"] = np.zeros_like(arrays["lexical_temperatures"])


def _no_token_weights(arrays: dict[str, np.ndarray]) -> None:
    del arrays["token_idf"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_narrow_lexical, "the lexical model of . reads"),
        (_short_bias, "weight rows and"),
        (_zero_temperature, "has temperature 0.0"),
        (_no_token_weights, "no token weights"),
    ],
)
def test_a_malformed_artefact_fails_at_load_naming_the_file(
    tmp_path: Path,
    encoder: MiniLMEncoder,
    taught: TrainedClassifier,
    change: Callable[[dict[str, np.ndarray]], None],
    message: str,
) -> None:
    good = tmp_path / "good.npz"
    taught.save(good)
    assert TrainedClassifier.load(good).lexical_parents.keys() == taught.lexical_parents.keys()
    bad = _rewrite(good, tmp_path / "bad.npz", change)
    with pytest.raises(ValueError) as info:
        TrainedClassifier.load(bad)
    assert str(bad) in str(info.value) and message in str(info.value)
    with pytest.raises(ClassifierMismatch, match="not a semdns classifier"):
        classifier_for(load_zone_files([SMALL]), encoder, path=bad)
