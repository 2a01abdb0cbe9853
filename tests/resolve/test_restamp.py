"""Carrying a classifier artefact over to a changed encoder (`semdns train --restamp`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app
from semdns.cli_train import stale_reasons
from semdns.resolve.classifier import fits, shipped_artefacts
from semdns.resolve.encoder import MiniLMEncoder
from semdns.resolve.restamp import RestampRefused, restamp
from semdns.resolve.trained import TrainedClassifier
from semdns.zone import load_default_tree

OLD = "some-encoder@before/w128x2"


@pytest.fixture()
def for_another_encoder(tmp_path: Path) -> Path:
    """The shipped artefact as it would be if it had been made for another encoder."""
    shipped = TrainedClassifier.load(next(p for p in shipped_artefacts() if p.name == "default.npz"))
    meta = {**shipped.meta, "encoder": OLD, "shallow_encoder": f"{OLD}/layers3"}
    for key in ("trained_on_encoder", "restamped"):
        meta.pop(key, None)
    path = tmp_path / "old.npz"
    dataclasses.replace(shipped, meta=meta).save(path)
    return path


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key: data[key] for key in data.files if key != "meta"}


def test_a_restamped_artefact_serves_the_new_encoder_with_the_same_weights(
    for_another_encoder: Path, tmp_path: Path
) -> None:
    encoder = MiniLMEncoder()
    tree = load_default_tree()
    assert not fits(TrainedClassifier.load(for_another_encoder), tree, encoder), "ignored before"
    out = tmp_path / "new.npz"
    stamped = restamp(for_another_encoder, encoder, "checked on the tuning sets", out)
    again = TrainedClassifier.load(out)
    assert again.meta == stamped.meta and fits(again, tree, encoder)
    assert again.meta["encoder"] == encoder.model_id
    assert again.meta["shallow_encoder"] == f"{encoder.model_id}/layers{again.shallow_layers}"
    assert again.meta["trained_on_encoder"] == OLD
    assert again.meta["restamped"] == {"from_encoder": OLD, "note": "checked on the tuning sets"}
    before, after = _arrays(for_another_encoder), _arrays(out)
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) and before[k].dtype == after[k].dtype for k in before)


def test_a_second_restamp_keeps_the_encoder_the_weights_were_fit_on(for_another_encoder: Path) -> None:
    class Later:
        model_id = "later-encoder/w128x2"
        dim = 384

        def encode(self, texts: object) -> np.ndarray:  # pragma: no cover - never called
            raise AssertionError

    restamp(for_another_encoder, MiniLMEncoder(), "first")
    with pytest.raises(RestampRefused, match="cannot run the artefact's shallow pass"):
        restamp(for_another_encoder, Later(), "second")  # a test double has no layers to cut
    stamped = TrainedClassifier.load(for_another_encoder)
    assert stamped.meta["trained_on_encoder"] == OLD


def test_check_calls_an_artefact_for_another_encoder_stale(for_another_encoder: Path) -> None:
    current = MiniLMEncoder().model_id
    tree = load_default_tree()
    reasons = stale_reasons(for_another_encoder, tree, [], [], encoder_id=current)
    assert any(f"for another encoder ({OLD}), not {current}" in r for r in reasons)
    restamp(for_another_encoder, MiniLMEncoder(), "checked")
    assert not any("another encoder" in r for r in stale_reasons(for_another_encoder, tree, [], [], current))


def test_the_command_line_restamps_and_refuses_clearly(for_another_encoder: Path, tmp_path: Path) -> None:
    _register()
    runner = CliRunner()
    empty = runner.invoke(app, ["train", "--output", str(for_another_encoder), "--restamp", "  "])
    assert empty.exit_code == 2 and "the note is empty" in empty.output
    done = runner.invoke(app, ["train", "--output", str(for_another_encoder), "--restamp", "rule 24b"])
    assert done.exit_code == 0 and f"weights fit on {OLD}" in done.output
    twice = runner.invoke(app, ["train", "--output", str(for_another_encoder), "--restamp", "rule 24b"])
    assert twice.exit_code == 2 and "already for" in twice.output
    for extra in (["--check"], ["--corpus", "x.jsonl"], ["--zone", "z.yaml"], ["--unlabelled", "u.txt"]):
        mixed = runner.invoke(app, ["train", "--output", str(for_another_encoder), "--restamp", "n", *extra])
        assert mixed.exit_code == 2 and "--restamp takes only --output" in mixed.output
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    for path in (junk, tmp_path / "absent.npz"):
        result = runner.invoke(app, ["train", "--output", str(path), "--restamp", "x"])
        assert result.exit_code == 2 and "cannot read it as a classifier artefact" in result.output
    assert json.loads(str(np.load(for_another_encoder)["meta"]))["restamped"]["note"] == "rule 24b"


def test_the_shipped_artefact_says_it_was_carried_over() -> None:
    """The default weights were fit on the padded calls' vectors and kept under rule 24b."""
    shipped = TrainedClassifier.load(next(p for p in shipped_artefacts() if p.name == "default.npz"))
    assert shipped.meta["encoder"] == MiniLMEncoder().model_id
    assert shipped.meta["trained_on_encoder"].endswith("int8-fused-onnx-per-text/w128x2")
    assert "rule 24b" in shipped.meta["restamped"]["note"]
