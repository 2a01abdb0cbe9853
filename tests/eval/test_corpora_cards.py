"""The data discipline, checked on the files: every corpus has a data card, tuning sets stay apart.

A tuning-only set (``corpora/tuning``) must never reach training, distillation or evaluation, or the
threshold it chooses would be judged on data it has already seen; and a corpus without a card (source,
licence, size, split, label mapping) is not one the project may use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from semdns.eval.dataset import load_jsonl
from semdns.zone import load_default_tree

REPO = Path(__file__).resolve().parents[2]
ROUTING = REPO / "corpora" / "routing"
TUNING = REPO / "corpora" / "tuning"
CORPUS_FOLDERS = sorted(p.parent for p in [*ROUTING.glob("*/*.jsonl"), *TUNING.glob("*/*.jsonl")])
TUNING_FILES = sorted(TUNING.glob("*/tune.jsonl"))


def _normalised(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").split("\n")  # not splitlines(): texts hold U+2028
    return {" ".join(json.loads(line)["query"].lower().split()) for line in lines if line.strip()}


def test_there_is_a_tuning_set() -> None:
    assert TUNING_FILES, "corpora/tuning/*/tune.jsonl is missing"


@pytest.mark.parametrize("folder", sorted(set(CORPUS_FOLDERS)), ids=lambda p: p.name)
def test_every_corpus_has_a_data_card(folder: Path) -> None:
    card = (folder / "CARD.md").read_text(encoding="utf-8")
    for heading in ("## Source", "## Licence", "## Size", "## Label mapping"):
        assert heading in card, f"{folder.name}/CARD.md has no '{heading}' section"
    assert "split" in card.lower(), f"{folder.name}/CARD.md does not say how the data is split"


@pytest.mark.parametrize("tune", TUNING_FILES, ids=lambda p: p.parent.name)
def test_tuning_sets_load_and_name_real_zones(tune: Path) -> None:
    items = load_jsonl([tune], load_default_tree())
    assert len(items) == len(_normalised(tune)) > 0  # no duplicate question either


@pytest.mark.parametrize("tune", TUNING_FILES, ids=lambda p: p.parent.name)
def test_tuning_sets_share_no_text_with_training_or_evaluation(tune: Path) -> None:
    tuning = _normalised(tune)
    for corpus in sorted(ROUTING.glob("*/*.jsonl")):
        shared = tuning & _normalised(corpus)
        assert not shared, f"{tune.parent.name} shares {len(shared)} with {corpus}: {sorted(shared)[:3]}"


def test_no_training_list_reads_a_tuning_set() -> None:
    for listing in ROUTING.glob("*.txt"):
        for line in listing.read_text(encoding="utf-8").splitlines():
            assert "corpora/tuning" not in line, f"{listing.name} lists a tuning-only file: {line}"


REAL_TRAFFIC_EVALUATION = [ROUTING / "sharegpt" / "eval.jsonl", ROUTING / "sharegpt_turns" / "eval.jsonl"]


@pytest.mark.parametrize("evaluation", REAL_TRAFFIC_EVALUATION, ids=lambda p: p.parent.name)
def test_the_real_traffic_evaluation_splits_are_never_trained_on(evaluation: Path) -> None:
    """ShareGPT's first messages and its later turns (from conversations no other split touched) score
    the router on what people type. The first messages' tuning split is a disjoint slice of the same
    source (checked with the tuning sets above); an evaluation split must share no prompt with any
    training file and appear in no training list, or it would score what it has seen."""
    listed_as = f"{evaluation.parent.name}/eval"
    for listing in ROUTING.glob("*.txt"):
        assert listed_as not in listing.read_text(encoding="utf-8"), f"{listing.name} lists it"
    real = _normalised(evaluation)
    assert len(real) > 1000
    for corpus in sorted(ROUTING.glob("*/train.jsonl")):
        shared = real & _normalised(corpus)
        assert not shared, f"{listed_as} shares {len(shared)} with {corpus}: {sorted(shared)[:3]}"


def test_the_two_real_traffic_evaluation_splits_share_no_prompt() -> None:
    first, turns = (_normalised(path) for path in REAL_TRAFFIC_EVALUATION)
    assert not first & turns
    assert not turns & _normalised(TUNING / "sharegpt" / "tune.jsonl")


def _trigrams(text: str) -> frozenset[str]:
    words = re.findall(r"\w+", text.lower())
    return frozenset(" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2)))


def _queries(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").split("\n")
    return [json.loads(line)["query"] for line in lines if line.strip()]


def test_real_traffic_taught_without_labels_is_no_copy_of_a_prompt_that_is_scored() -> None:
    """The fast passes are distilled on ShareGPT prompts nobody read (``sharegpt/distill.jsonl``, in
    ``distill-set.txt``). ShareGPT holds many lightly edited copies of one prompt; a copy of an evaluation
    or tuning prompt would teach the passes what the full classifier says about a prompt that is then
    scored. None may share a prompt, or a word-trigram Jaccard similarity of 0.3 or more, with any of them
    (the later turns' evaluation split included)."""
    distill = ROUTING / "sharegpt" / "distill.jsonl"
    listed = (ROUTING / "distill-set.txt").read_text(encoding="utf-8").splitlines()
    assert "corpora/routing/sharegpt/distill.jsonl" in listed
    training = (ROUTING / "training-set.txt").read_text(encoding="utf-8").splitlines()
    assert not [line for line in training if "sharegpt" in line and not line.startswith("#")]
    scored = [
        *(q for path in REAL_TRAFFIC_EVALUATION for q in _queries(path)),
        *_queries(TUNING / "sharegpt" / "tune.jsonl"),
    ]
    taught = _queries(distill)
    assert len(taught) > 5000 and not {" ".join(t.lower().split()) for t in taught} & {
        " ".join(s.lower().split()) for s in scored
    }
    index: dict[str, list[int]] = {}
    grams = [_trigrams(text) for text in scored]
    for i, own in enumerate(grams):
        for gram in own:
            index.setdefault(gram, []).append(i)
    for text in taught:
        own = _trigrams(text)
        shared: dict[int, int] = {}
        for gram in own:
            for i in index.get(gram, ()):
                shared[i] = shared.get(i, 0) + 1
        for i, n in shared.items():
            similarity = n / (len(own) + len(grams[i]) - n)
            assert similarity < 0.3, f"{text[:60]!r} is a near-copy ({similarity:.2f}) of {scored[i][:60]!r}"
