"""The classifier artefact loses nothing: ``semdns train --output`` over an existing artefact must keep
it when the write fails, a damaged artefact (cut short, as a full disk or a killed copy leaves it) is
named (``--check``, ``--classifier``) or, in the disk cache, trained again, and a cache write that fails
leaves nothing behind. No model is trained: ``train`` returns a hand-made two-class classifier and the
encoder is a stand-in (the cached lookup never runs it).

A full disk is real here: ``RLIMIT_FSIZE`` makes writes past the limit fail with EFBIG (also as root)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from disk_full import disk_full_after
from semdns.cli import _register, app
from semdns.names import Name
from semdns.resolve import training
from semdns.resolve.classifier import ClassifierMismatch, classifier_for
from semdns.resolve.trained import ParentModel, TrainedClassifier, namespace_digest
from semdns.zone import load_zone_files

SMALL = Path(__file__).parent.parent / "data" / "zones" / "small.yaml"
_register()
runner = CliRunner()


class FakeEncoder:
    """Enough of an encoder for the cached lookup (its id); it is never asked to embed."""

    model_id = "no-loss-test-encoder"
    dim = 4

    def encode(self, texts: Any) -> Any:
        raise AssertionError("the test encoder must not be run")


def tiny(meta: dict[str, Any] | None = None, bias: float = 0.0) -> TrainedClassifier:
    model = ParentModel(
        (Name.parse("legal."), Name.parse("code.")),
        np.zeros((2, 3), dtype=np.float32),
        np.full(2, bias, dtype=np.float32),
        1.0,
    )
    return TrainedClassifier(
        vocabulary={"contract": 0},
        idf=np.ones(1, dtype=np.float32),
        parents={Name.parse("."): model},
        structural_scale=1.0,
        embedding_scale=1.0,
        meta={"items": 2, **(meta or {})},
    )


def cut_short(path: Path) -> bytes:
    tiny().save(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    return path.read_bytes()


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """``semdns train`` gets the tiny classifier at once (with a different bias, so its bytes differ)."""
    monkeypatch.setattr(training, "train", lambda *args, **kwargs: tiny(bias=1.0))
    monkeypatch.setattr("semdns.resolve.encoder.MiniLMEncoder", FakeEncoder)


def test_train_output_cut_short_by_a_full_disk_keeps_the_previous_artefact(
    tmp_path: Path, no_training: None
) -> None:
    out = tmp_path / "clf.npz"
    tiny().save(out)
    before = out.read_bytes()
    with disk_full_after(len(before) // 2):
        result = runner.invoke(app, ["train", "--zone", str(SMALL), "-o", str(out)])
    assert out.read_bytes() == before
    assert TrainedClassifier.load(out).meta["items"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf.npz"]
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0 and "error: " in result.output and str(out) in result.output


def test_train_output_under_a_regular_file_is_a_clear_error(tmp_path: Path, no_training: None) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    out = blocker / "clf.npz"
    result = runner.invoke(app, ["train", "--zone", str(SMALL), "-o", str(out)])
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code != 0 and "error: " in result.output and str(out) in result.output


def test_train_output_replaces_the_previous_artefact_and_leaves_nothing_else(
    tmp_path: Path, no_training: None
) -> None:
    out = tmp_path / "clf.npz"
    tiny().save(out)
    result = runner.invoke(app, ["train", "--zone", str(SMALL), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert float(TrainedClassifier.load(out).parents[Name.parse(".")].bias[0]) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf.npz"]


def test_check_names_an_artefact_cut_short_and_keeps_it(tmp_path: Path) -> None:
    out = tmp_path / "clf.npz"
    damaged = cut_short(out)
    result = runner.invoke(app, ["train", "--zone", str(SMALL), "--check", "-o", str(out)])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1 and f"{out}: stale: cannot read it" in result.output
    assert out.read_bytes() == damaged


def test_an_explicit_artefact_cut_short_is_refused_by_name(tmp_path: Path) -> None:
    out = tmp_path / "clf.npz"
    cut_short(out)
    tree = load_zone_files([SMALL])
    with pytest.raises(ClassifierMismatch, match="not a semdns classifier"):
        classifier_for(tree, FakeEncoder(), path=out)  # type: ignore[arg-type]


def _cache_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Path, list[int]]:
    monkeypatch.setenv("SEMDNS_CACHE_DIR", str(tmp_path / "cache"))
    tree = load_zone_files([SMALL])
    digest = namespace_digest(tree)
    trained: list[int] = []

    def train(*args: Any, **kwargs: Any) -> TrainedClassifier:
        trained.append(1)
        return tiny({"namespace": digest, "encoder": FakeEncoder.model_id}, bias=float(len(trained)))

    monkeypatch.setattr(training, "train", train)
    return tree, tmp_path / "cache" / "classifiers" / f"{digest}.npz", trained


def test_a_cached_classifier_cut_short_is_trained_again_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, cached, trained = _cache_setup(tmp_path, monkeypatch)
    cached.parent.mkdir(parents=True)
    cut_short(cached)
    found = classifier_for(tree, FakeEncoder())  # type: ignore[arg-type]
    assert trained == [1] and found.meta["namespace"] == namespace_digest(tree)
    assert TrainedClassifier.load(cached).meta["namespace"] == namespace_digest(tree)
    assert sorted(p.name for p in cached.parent.iterdir()) == [cached.name]


def test_a_cache_write_cut_short_still_answers_and_leaves_no_damaged_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, cached, trained = _cache_setup(tmp_path, monkeypatch)
    with disk_full_after(200):
        found = classifier_for(tree, FakeEncoder())  # type: ignore[arg-type]
    assert trained == [1] and found.meta["namespace"] == namespace_digest(tree)
    assert not cached.exists()  # the next start trains again rather than reading half a file
    assert classifier_for(tree, FakeEncoder()) is not None  # type: ignore[arg-type]
    assert trained == [1, 1] and TrainedClassifier.load(cached).meta["items"] == 2


def test_a_cache_write_cut_short_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, cached, _ = _cache_setup(tmp_path, monkeypatch)
    with disk_full_after(200):
        classifier_for(tree, FakeEncoder())  # type: ignore[arg-type]
    assert list(cached.parent.iterdir()) == []
