"""The data discipline, checked on the files: every corpus has a data card, tuning sets stay apart.

A tuning-only set (``corpora/tuning``) must never reach training, distillation or evaluation, or the
threshold it chooses would be judged on data it has already seen; and a corpus without a card (source,
licence, size, split, label mapping) is not one the project may use.
"""

from __future__ import annotations

import json
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


def test_the_real_traffic_evaluation_split_is_never_trained_on() -> None:
    """ShareGPT's first messages score the router on what people type. Its tuning split is a disjoint
    slice of the same source (checked with the tuning sets above); the evaluation split must share no
    prompt with any training file and appear in no training list, or it would score what it has seen."""
    evaluation = ROUTING / "sharegpt" / "eval.jsonl"
    for listing in ROUTING.glob("*.txt"):
        assert "sharegpt/eval" not in listing.read_text(encoding="utf-8"), f"{listing.name} lists it"
    real = _normalised(evaluation)
    assert len(real) > 1000
    for corpus in sorted(ROUTING.glob("*/train.jsonl")):
        shared = real & _normalised(corpus)
        assert not shared, f"ShareGPT eval shares {len(shared)} with {corpus}: {sorted(shared)[:3]}"
