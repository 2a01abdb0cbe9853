"""The shallow pass: the first layers of the packaged MiniLM, cut from the same quantised model, and
the resolver stage that reads them. Real parts throughout (the packaged model, the shipped zones and
classifier)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
import pytest

import semdns
from semdns.names import Name
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder, Vectors
from semdns.resolve.shallow import (
    SHALLOW_LAYERS,
    ShallowEncoder,
    layer_output,
    shallow_encoder,
    shallow_model,
)
from semdns.resolve.trained import TrainedClassifier
from semdns.zone import load_default_tree
from semdns.zone.tree import ZoneTree

SHIPPED = Path(semdns.__file__).parent / "data" / "classifier" / "default.npz"
# A short question the lexical pass skips (under lexical_min_tokens) and the shallow pass settles.
SHORT_MATH = "Solve for x: 3x + 7 = 22"


class CountingEncoder(MiniLMEncoder):
    """The packaged encoder, counting the texts that reach the full transformer."""

    def __init__(self) -> None:
        super().__init__()
        self.transformer_rows = 0

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors:
        self.transformer_rows += len(token_ids)
        return super().encode_ids(token_ids)


def shipped(**changes: object) -> ZoneTree:
    return load_default_tree().with_policies(**changes)


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


@pytest.fixture(scope="module")
def counting() -> CountingEncoder:
    return CountingEncoder()


@pytest.fixture(scope="module")
def resolver(counting: CountingEncoder) -> Iterator[Resolver]:
    built = Resolver(load_default_tree(), counting, cache_size=0)
    yield built
    built.close()


# -- the model ---------------------------------------------------------------------------------------


def test_the_cut_ends_after_the_asked_layer_and_refuses_impossible_depths(encoder: MiniLMEncoder) -> None:
    model = onnx.load(str(encoder.model_path()), load_external_data=False)
    names = [layer_output(model, k) for k in range(1, 7)]
    assert len(set(names)) == 6
    (last,) = [node for node in model.graph.node if node.output[0] == model.graph.output[0].name]
    assert list(last.input) == [names[-1]]  # layer 6 is the model's output
    for impossible in (0, 7):
        with pytest.raises(ValueError, match="layers"):
            layer_output(model, impossible)


def test_a_graph_not_shaped_like_an_encoder_is_refused() -> None:
    graph = onnx.helper.make_graph([], "empty", [], [])
    with pytest.raises(ValueError, match="no named encoder layers"):
        layer_output(onnx.helper.make_model(graph), 1)


def test_shallow_vectors_are_unit_length_a_function_of_the_text_and_not_the_full_ones(
    encoder: MiniLMEncoder,
) -> None:
    shallow = shallow_encoder(encoder)
    assert isinstance(shallow, ShallowEncoder) and shallow is shallow_encoder(encoder)  # one per encoder
    texts = ["Solve for x: 3x + 7 = 22", "Draft an NDA clause for a supplier.", "hi"]
    ids = [encoder.token_ids(t) for t in texts]
    together = shallow.encode_ids(ids)
    alone = np.vstack([shallow.encode_ids([i]) for i in reversed(ids)])[::-1]
    assert np.array_equal(together, alone)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    full = encoder.encode_ids(ids)
    assert float(np.min(np.sum(full * together, axis=1))) < 0.99  # another view, not the same vector
    assert shallow.model_id == f"{encoder.model_id}/layers{SHALLOW_LAYERS}"


def test_the_full_vector_finished_from_the_first_layers_is_the_full_models(encoder: MiniLMEncoder) -> None:
    shallow = shallow_encoder(encoder)
    assert isinstance(shallow, ShallowEncoder)
    long_prompt = "Summarise this contract clause by clause. " * 40  # two windows of 128 tokens
    for text in ["Solve for x: 3x + 7 = 22", long_prompt, ""]:
        ids = encoder.token_ids(text)
        started = shallow.start(ids)
        assert np.array_equal(started.vector, shallow.encode_ids([ids])[0])
        assert np.array_equal(shallow.finish(started), encoder.encode_ids([ids])[0])


def test_a_damaged_cut_is_cut_again(encoder: MiniLMEncoder, tmp_path: Path) -> None:
    full = tmp_path / "model.onnx"
    full.write_bytes(encoder.model_path().read_bytes())
    cut = shallow_model(full, 1)
    assert shallow_model(full, 1) == cut  # cached
    cut.write_bytes(b"not a model")
    assert shallow_model(full, 1, rebuild=True) == cut
    assert onnx.load(str(cut)).graph.output[0].name == layer_output(onnx.load(str(full)), 1)


# -- the artefact ------------------------------------------------------------------------------------


def test_the_shipped_classifier_has_a_shallow_pass_that_survives_a_round_trip(tmp_path: Path) -> None:
    shipped_artefact = TrainedClassifier.load(SHIPPED)
    assert shipped_artefact.shallow_layers == SHALLOW_LAYERS and shipped_artefact.shallow_parents
    copy = tmp_path / "copy.npz"
    shipped_artefact.save(copy)
    again = TrainedClassifier.load(copy)
    assert again.shallow_layers == SHALLOW_LAYERS
    assert again.shallow_parents.keys() == shipped_artefact.shallow_parents.keys()


def test_an_artefact_with_a_shallow_pass_but_no_depth_is_refused(tmp_path: Path) -> None:
    with np.load(SHIPPED, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "shallow_layers"}
    broken = tmp_path / "broken.npz"
    np.savez_compressed(broken, **arrays)
    with pytest.raises(ValueError, match="shallow pass without its layer count"):
        TrainedClassifier.load(broken)


# -- the stage ---------------------------------------------------------------------------------------


def test_a_short_prompt_is_settled_by_the_shallow_pass_without_the_full_transformer(
    resolver: Resolver, counting: CountingEncoder
) -> None:
    assert resolver.shallow is not None
    before = counting.transformer_rows
    decision = resolver.resolve(SHORT_MATH, use_cache=False)
    assert decision.names[0].is_under(Name.parse("math."))
    assert decision.stage == "shallow"
    assert (
        decision.trace[0].stages_tried[:2] == ("lexical", "shallow")
        or decision.trace[0].stages_tried[0] == "shallow"
    )
    assert decision.embedding is None
    assert counting.transformer_rows == before


def test_below_its_threshold_the_shallow_pass_hands_over_to_the_full_transformer(
    encoder: MiniLMEncoder,
) -> None:
    strict = Resolver(shipped(shallow_threshold=1.0), encoder, cache_size=0)
    try:
        decision = strict.resolve(SHORT_MATH, use_cache=False)
        assert "shallow" in decision.trace[0].stages_tried
        assert decision.stage == "classifier"
        assert decision.embedding is not None  # finished from the shallow pass's layers: the same vector
        assert np.array_equal(decision.embedding, encoder.encode_ids([encoder.token_ids(SHORT_MATH)])[0])
    finally:
        strict.close()


def test_async_resolution_agrees_with_sync_with_the_shallow_layers_on_the_model_workers(
    resolver: Resolver,
) -> None:
    prompts = [
        SHORT_MATH,
        "What is the capital of Australia?",
        "Draft a mutual NDA clause limiting disclosure to employees with a need to know.",
        "My knee swells after running, what could it be?",
        "Explain covalent bonds to a twelve year old.",
        "Write a limerick about a cat who codes.",
        "Is a Roth IRA better than a traditional IRA for someone in a low bracket now?",
        "and what about the second one?",
    ] * 2
    expected = [resolver.resolve(p, use_cache=False).names for p in prompts]
    assert resolver.batcher is not None
    before = resolver.batcher.ran

    async def main() -> list[tuple[Name, ...]]:
        decisions = await asyncio.gather(*(resolver.aresolve(p, use_cache=False) for p in prompts))
        return [d.names for d in decisions]

    assert asyncio.run(main()) == expected
    assert resolver.batcher.ran > before  # the shallow layers ran on the model workers, off the loop


def test_without_the_stage_listed_there_is_no_shallow_pass(encoder: MiniLMEncoder) -> None:
    plain = Resolver(shipped(stages=["lexical", "classifier", "keyword", "embedding"]), encoder, cache_size=0)
    try:
        assert plain.shallow is None
        assert plain.resolve(SHORT_MATH, use_cache=False).stage != "shallow"
    finally:
        plain.close()


def test_a_shallow_pass_trained_on_another_encoder_is_turned_off(
    encoder: MiniLMEncoder, caplog: pytest.LogCaptureFixture
) -> None:
    from dataclasses import replace

    artefact = TrainedClassifier.load(SHIPPED)
    other = replace(artefact, meta={**artefact.meta, "shallow_encoder": "another-model/layers2"})
    with caplog.at_level(logging.WARNING):
        built = Resolver(load_default_tree(), encoder, cache_size=0, classifier=other)
    try:
        assert built.shallow is None
        assert "shallow pass was trained on another encoder" in caplog.text
        assert built.resolve(SHORT_MATH, use_cache=False).stage != "shallow"
    finally:
        built.close()


def test_an_attempt_that_waited_for_a_vector_does_not_score_again(
    resolver: Resolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The async descent starts again after each wait for a vector; the stages it had settled are read
    back, not scored again: each stage is scored at most once per level, as in the sync descent."""
    scored: list[tuple[str, Name]] = []
    run_stage = resolver._run_stage

    def counting(stage: str, node: object, children: object, state: object) -> object:
        judgement = run_stage(stage, node, children, state)  # type: ignore[arg-type]
        scored.append((stage, node.name))  # type: ignore[attr-defined]
        return judgement

    monkeypatch.setattr(resolver, "_run_stage", counting)
    prompts = [SHORT_MATH, "Is a Roth IRA better than a traditional IRA for someone in a low bracket now?"]
    for prompt in prompts:
        scored.clear()
        expected = resolver.resolve(prompt, use_cache=False)
        sync_scored = list(scored)
        scored.clear()
        decision = asyncio.run(resolver.aresolve(prompt, use_cache=False))
        assert decision.names == expected.names and decision.stage == expected.stage
        assert decision.stage in ("shallow", "classifier")  # it did wait for a vector
        assert len(scored) == len(set(scored)) and sorted(scored) == sorted(sync_scored)
