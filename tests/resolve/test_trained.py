"""The trained classifier stage: features, training on corpora, artefacts, and bad corpora."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app
from semdns.cli_train import stale_reasons
from semdns.names import Name
from semdns.resolve import Resolver
from semdns.resolve.classifier import ClassifierMismatch, classifier_for, shipped_artefacts
from semdns.resolve.encoder import MiniLMEncoder
from semdns.resolve.features import FEATURE_NAMES, structural_features
from semdns.resolve.trained import TrainedClassifier, namespace_digest
from semdns.resolve.training import CorpusError, LabelledText, _classes_at, load_corpus, train
from semdns.zone import load_default_tree, load_zone_files

DATA = Path(__file__).parent.parent / "data"
REPO = Path(__file__).parent.parent.parent
SMALL = DATA / "zones" / "small.yaml"


def _feature(text: str, name: str) -> float:
    return float(structural_features(text)[FEATURE_NAMES.index(name)])


def _write_corpus(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# -- structural signals ---------------------------------------------------------------------------


def test_structural_signals_see_the_shape_of_a_prompt() -> None:
    stub = 'def area(r: float) -> float:\n    """Return the area of a circle.\n    >>> area(1)\n    """\n'
    assert _feature(stub, "code_def") > 0.5
    assert _feature(stub, "code_docstring") > 0.5
    assert _feature(stub, "code_doctest") > 0.5
    assert (
        _feature("Tom buys 3 pens at $2 each and 4 books at $5. How much does he pay?", "math_currency") > 0.5
    )
    assert _feature("Balance 2 H2 + O2 -> 2 H2O and name NaCl.", "chem_formulae") > 0.5
    assert _feature("Which is right?\nA. one\nB. two\nC. three\nD. four", "exam_options") > 0.5
    chat = structural_features("Good morning! How was your weekend?")
    assert chat.shape == (len(FEATURE_NAMES),)
    assert float(chat[FEATURE_NAMES.index("code_def")]) == 0.0
    assert all(0.0 <= v <= 1.0 for v in structural_features("x" * 10_000 + "\n" * 500 + "def f(" * 100))


# -- long prompts ---------------------------------------------------------------------------------


def test_long_prompts_are_read_as_a_whole(encoder: MiniLMEncoder) -> None:
    short = "How do I reverse a list in Python?"
    assert encoder.windows(list(range(10))) == [[encoder._cls, *range(1, 9), encoder._sep]]
    context = "The quarterly report covers revenue, costs and staffing across every region. " * 40
    question = "Write a Python function that parses this report and sums the revenue column."
    long_vec = encoder.encode([context + question])[0]
    context_vec = encoder.encode([context])[0]
    question_vec = encoder.encode([question])[0]
    # The question at the end moves the pooled vector: it was read, not truncated away.
    assert float(long_vec @ question_vec) > float(context_vec @ question_vec) + 0.02
    # At most max_windows windows (two by default: the first and the last), evenly spaced between.
    ids = list(range(2000))
    first_last = encoder.windows([101, *ids, 102])
    assert len(first_last) == 2
    assert first_last[0][1] == 0 and first_last[-1][-2] == ids[-1]
    windows = MiniLMEncoder(max_windows=4).windows([101, *ids, 102])
    assert len(windows) == 4
    assert windows[0][1] == 0 and windows[-1][-2] == ids[-1]
    assert [len(w) for w in MiniLMEncoder(max_windows=1).windows([101, *ids, 102])] == [128]
    # A short prompt embeds as before (one window).
    assert np.allclose(encoder.encode([short]), encoder.encode([short, context])[:1], atol=1e-5)


# -- training and the classifier artefact ---------------------------------------------------------


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    templates = [
        ("my puppy number {} keeps barking at the mailman", "dogs.animals."),
        ("the kitten {} purrs and scratches the sofa", "cats.animals."),
        ("my hatchback {} needs new brake pads", "cars.vehicles."),
        ("the gears on bicycle {} slip uphill", "bikes.vehicles."),
    ]
    rows: list[dict[str, object]] = [
        {"query": text.format(i), "expected": name} for i in range(30) for text, name in templates
    ]
    rows += [{"query": f"a wild animal {i} came", "expected": "animals.", "subtree": True} for i in range(30)]
    return _write_corpus(tmp_path_factory.mktemp("corpus") / "train.jsonl", rows)


@pytest.fixture(scope="module")
def small_classifier(encoder: MiniLMEncoder, small_corpus: Path) -> TrainedClassifier:
    return train(load_zone_files([SMALL]), encoder, [small_corpus], use_disk_cache=False)


def test_lexical_features_are_scikit_learns_tfidf(small_classifier: TrainedClassifier) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    from semdns.resolve.trained import tokens

    vectorizer = TfidfVectorizer(tokenizer=tokens, lowercase=False, token_pattern=None, sublinear_tf=True)
    vectorizer.vocabulary_ = small_classifier.vocabulary
    vectorizer.idf_ = small_classifier.idf
    text = "My puppy and my kitten: the puppy barks, the kitten purrs!"
    expected = vectorizer.transform([text]).toarray()[0]
    columns, values = small_classifier.lexical(text)
    got = np.zeros_like(expected)
    got[columns] = values
    assert np.allclose(got, expected, atol=1e-6)
    assert small_classifier.lexical("zzz qqq")[0].size == 0


def test_subtree_labels_train_the_levels_above_but_never_stay(small_classifier: TrainedClassifier) -> None:
    tree = load_zone_files([SMALL])
    items = [
        LabelledText("a", Name.parse("animals."), "corpus", subtree=True),
        LabelledText("b", Name.parse("dogs.animals."), "corpus"),
        LabelledText("c", Name.parse("animals."), "zone"),
        LabelledText("d", Name.parse("cars.vehicles."), "corpus"),
    ]
    root = _classes_at(tree, Name.parse("."), items)
    assert root is not None and list(root[2]) == [0, 1, 2, 3]  # every item speaks at the root
    at_animals = _classes_at(tree, Name.parse("animals."), items)
    assert at_animals is not None
    candidates, _y, rows = at_animals
    assert list(rows) == [1, 2]  # the subtree-labelled item says nothing at animals.
    assert Name.parse("animals.") in candidates  # the zone's own examples are "stay here"
    assert set(small_classifier.parents) >= {Name.parse("."), Name.parse("animals."), Name.parse("vehicles.")}


def test_the_trained_stage_routes_and_its_probabilities_are_a_distribution(
    encoder: MiniLMEncoder, small_classifier: TrainedClassifier
) -> None:
    tree = load_zone_files([SMALL])
    resolver = Resolver(tree, encoder, cache_size=0, use_disk_cache=False, classifier=small_classifier)
    try:
        decision = resolver.resolve("my puppy will not stop barking at night")
        assert decision.names == (Name.parse("dogs.animals."),)
        features = small_classifier.features("brake pads squeal", encoder.encode(["brake pads squeal"])[0])
        scores = small_classifier.score(Name.parse("."), features)
        assert abs(sum(scores) - 1.0) < 1e-5 and all(0.0 <= s <= 1.0 for s in scores)
    finally:
        resolver.close()


def test_artefacts_round_trip_and_belong_to_one_namespace(
    tmp_path: Path, encoder: MiniLMEncoder, small_classifier: TrainedClassifier
) -> None:
    path = tmp_path / "small.npz"
    small_classifier.save(path)
    loaded = TrainedClassifier.load(path)
    text = "the kitten scratches the door"
    features = small_classifier.features(text, encoder.encode([text])[0])
    again = loaded.features(text, encoder.encode([text])[0])
    for parent in small_classifier.parents:
        assert np.allclose(small_classifier.score(parent, features), loaded.score(parent, again), atol=2e-3)
    tree = load_zone_files([SMALL])
    assert classifier_for(tree, encoder, path=path).meta["namespace"] == namespace_digest(tree)
    with pytest.raises(ClassifierMismatch, match="another namespace"):
        classifier_for(load_default_tree(), encoder, path=path)
    (tmp_path / "junk.npz").write_bytes(b"not an npz")
    with pytest.raises(ClassifierMismatch, match="not a semdns classifier"):
        classifier_for(tree, encoder, path=tmp_path / "junk.npz")


def test_the_namespace_digest_follows_names_and_examples(tmp_path: Path) -> None:
    text = SMALL.read_text(encoding="utf-8")
    base = namespace_digest(load_zone_files([SMALL]))
    keywords = tmp_path / "keywords.yaml"
    keywords.write_text(text.replace("[animal, animals,", "[animal, fauna, animals,"), encoding="utf-8")
    assert namespace_digest(load_zone_files([keywords])) == base  # keywords do not train the classifier
    example = tmp_path / "example.yaml"
    example.write_text(text.replace("tell me a joke", "tell me a long joke"), encoding="utf-8")
    assert namespace_digest(load_zone_files([example])) != base


# -- corpora --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not JSON"),
        ('{"expected": "dogs.animals."}', 'needs a non-empty "query"'),
        ('{"query": "woof"}', 'needs an "expected" name'),
        ('{"query": "woof", "expected": "dogs..animals"}', "is not a name"),
        ('{"query": "woof", "expected": "fish.animals."}', "not a name of this namespace"),
        (
            '{"query": "woof", "expected": "dogs.animals.", "subtree": "yes"}',
            '"subtree" must be true or false',
        ),
    ],
)
def test_bad_corpus_lines_name_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"query": "meow", "expected": "cats.animals."}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError) as info:
        load_corpus(path, load_zone_files([SMALL]))
    assert f"{path}:2" in str(info.value) and message.split("line 2: ")[-1] in str(info.value)


def test_corpus_lines_split_on_newlines_only(tmp_path: Path) -> None:
    path = tmp_path / "nel.jsonl"
    path.write_text('{"query": "a dog\u0085and\u2028a cat", "expected": "animals."}\n\n', encoding="utf-8")
    assert [item.text for item in load_corpus(path)] == ["a dog\u0085and\u2028a cat"]
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="empty"):
        load_corpus(tmp_path / "empty.jsonl")


# -- semdns train -----------------------------------------------------------------------------------


def test_semdns_train_writes_an_artefact_and_check_sees_staleness(tmp_path: Path, small_corpus: Path) -> None:
    _register()
    runner = CliRunner()
    out = tmp_path / "clf.npz"
    args = ["train", "--zone", str(SMALL), "--corpus", str(small_corpus), "--output", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.exists() and "wrote" in result.output
    assert runner.invoke(app, [*args, "--check"]).exit_code == 0
    listing = tmp_path / "list.txt"
    listing.write_text(f"# the corpora\n{small_corpus}\n", encoding="utf-8")
    listed = ["train", "--zone", str(SMALL), "--corpus", f"@{listing}", "--output", str(out), "--check"]
    assert runner.invoke(app, listed).exit_code == 0
    unreadable = runner.invoke(app, [*listed[:4], f"@{tmp_path / 'none.txt'}", "--check"])
    assert unreadable.exit_code == 2 and "cannot read the corpus list" in unreadable.output
    changed = tmp_path / "more.jsonl"
    changed.write_text(small_corpus.read_text(encoding="utf-8"), encoding="utf-8")
    stale = runner.invoke(app, [*args, "--corpus", str(changed), "--check"])
    assert stale.exit_code == 1 and "is new" in stale.output
    missing = runner.invoke(app, ["train", "--zone", str(SMALL), "--corpus", str(tmp_path / "nope*.jsonl")])
    assert missing.exit_code == 2 and "no such corpus file" in missing.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", encoding="utf-8")
    broken = runner.invoke(app, ["train", "--zone", str(SMALL), "--corpus", str(bad), "--output", str(out)])
    assert broken.exit_code == 2 and f"{bad}:1: not JSON" in broken.output


def test_the_shipped_artefact_is_current_for_the_default_zones_and_corpora() -> None:
    """`semdns train` must be rerun (and its artefact committed) when a default zone's examples or a
    training corpus change: the command is in the module docstring of semdns.cli_train."""
    shipped = [p for p in shipped_artefacts() if p.name == "default.npz"]
    assert shipped, "src/semdns/data/classifier/default.npz is missing"
    corpora, unlabelled = (
        [Path(line) for line in listing.split("\n") if line.strip() and not line.startswith("#")]
        for listing in (
            (REPO / "corpora" / "routing" / f"{name}.txt").read_text(encoding="utf-8")
            for name in ("training-set", "distill-set")
        )
    )
    assert corpora and unlabelled and all((REPO / p).is_file() for p in [*corpora, *unlabelled])
    here = Path.cwd()
    os.chdir(REPO)
    try:
        current = MiniLMEncoder().model_id
        assert stale_reasons(shipped[0], load_default_tree(), corpora, unlabelled, encoder_id=current) == []
    finally:
        os.chdir(here)


def test_a_delegated_zone_uses_the_shipped_weights_and_a_new_name_does_not(
    encoder: MiniLMEncoder, tmp_path: Path
) -> None:
    from semdns.resolve.classifier import fits

    shipped = TrainedClassifier.load(next(p for p in shipped_artefacts() if p.name == "default.npz"))
    legal_zone = load_zone_files([REPO / "examples" / "delegation" / "legal.yaml"])
    assert fits(shipped, legal_zone, encoder)
    assert classifier_for(legal_zone, encoder).meta == shipped.meta
    assert not fits(shipped, load_zone_files([SMALL]), encoder)
