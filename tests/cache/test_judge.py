"""The near-miss judge: the shipped artefact, its numpy tree evaluator, its verdicts on pairs written
here (not from its training corpora nor bench/data/cache_pairs.yaml), and the cache with it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from semdns.cache import CacheLookup, CacheRequest, ResponseCache
from semdns.cache.entry import Vector
from semdns.cache.judge import (
    ENCODER_KEY,
    FEATURE_NAMES,
    Judge,
    JudgeArtefactError,
    TreeEnsemble,
    save_artefact,
    shipped_judge,
)
from semdns.resolve.encoder import MiniLMEncoder
from semdns.state import MemoryState
from semdns.zone.schema import CacheSpec

ARTEFACT = Path(__file__).parent.parent.parent / "src" / "semdns" / "data" / "judge" / "judge-v1.npz"
SKLEARN_MODEL = Path(os.environ.get("SEMDNS_JUDGE_SKLEARN_MODEL", "/tmp/judge_hgb.joblib"))


def p_same(judge: Judge, encoder: MiniLMEncoder, a: str, b: str) -> float:
    va, vb = encoder.encode([a, b])
    return judge.probability(a, b, va, vb)


# -- the artefact ---------------------------------------------------------------------------------


def test_the_shipped_artefact_loads_with_its_metadata() -> None:
    judge = shipped_judge()
    meta = judge.metadata
    assert ARTEFACT.stat().st_size < 2_000_000
    assert meta["version"] == judge.version and meta["format"] == "semdns-judge/1"
    assert list(meta["features"]) == list(FEATURE_NAMES)
    assert {s["name"] for s in meta["sources"]} == {
        "winogrande-twins", "vitaminc-contrast", "qasc-paraphrase", "derived",
    }  # fmt: skip
    assert all(s["split"] == "train" and len(s["sha256"]) == 64 for s in meta["sources"])
    budgets = [p["false_hit_budget"] for p in meta["operating_points"]]
    assert 0.02 in budgets and 0.005 in budgets
    # A smaller false-hit budget never asks for less.
    assert judge.threshold(0.005) >= judge.threshold(0.02) >= judge.threshold(0.1)
    assert judge.threshold(1e-9) == judge.threshold(min(budgets)), "below every point: the strictest"
    assert judge.trees.trees > 10


def test_the_shipped_artefact_was_trained_on_the_encoder_that_embeds_prompts() -> None:
    """The cosine is one of its features and its budgets were calibrated on that encoder's vectors:
    when the encoder changes (MODEL_ID), the judge must be retrained and say so."""
    judge = shipped_judge()
    gateway = MiniLMEncoder()  # as cli_serve builds it
    assert judge.encoder_model_id == gateway.model_id and judge.trained_for(gateway.model_id)
    assert not judge.trained_for("sentence-transformers/all-MiniLM-L6-v2@int8-onnx/w128x2")
    assert not judge.trained_for(MiniLMEncoder(max_windows=1).model_id), "other windows, other vectors"


def test_a_malformed_artefact_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(JudgeArtefactError, match="not a judge artefact"):
        Judge.load(junk)
    with pytest.raises(JudgeArtefactError, match="no judge artefact"):
        Judge.load(tmp_path / "absent.npz")
    partial = tmp_path / "partial.npz"
    np.savez(partial, feature=np.zeros((1, 1), np.int32))
    with pytest.raises(JudgeArtefactError, match="lacks"):
        Judge.load(partial)
    shipped = shipped_judge()
    for change, message in (
        ({"format": "something-else/9"}, "format"),
        ({"features": ["cos"]}, "other features"),
        ({"operating_points": []}, "operating_points"),
    ):
        path = tmp_path / "changed.npz"
        meta = {**shipped.metadata, **change}
        with np.load(ARTEFACT) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["metadata"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(path, **arrays)
        with pytest.raises(JudgeArtefactError, match=message):
            Judge.load(path)


def test_tree_arrays_that_point_outside_the_tree_are_refused() -> None:
    one = np.zeros((1, 3), np.int32)
    with pytest.raises(JudgeArtefactError, match="outside"):
        TreeEnsemble(
            one,
            np.zeros((1, 3)),
            np.array([[5, -1, -1]], np.int32),
            np.array([[2, -1, -1]], np.int32),
            np.zeros((1, 3)),
            np.zeros((1, 3), bool),
            0.0,
            2,
        )


def test_the_tree_evaluator_follows_thresholds_and_missing_values(tmp_path: Path) -> None:
    # one tree: x[1] <= 0.5 → leaf -1.0, else → leaf +2.0; NaN goes right; baseline 0.25
    trees = TreeEnsemble(
        feature=np.array([[1, 0, 0]], np.int32),
        threshold=np.array([[0.5, 0.0, 0.0]]),
        left=np.array([[1, -1, -1]], np.int32),
        right=np.array([[2, -1, -1]], np.int32),
        value=np.array([[0.0, -1.0, 2.0]]),
        missing_left=np.array([[False, False, False]]),
        baseline=0.25,
        depth=2,
    )
    x = np.zeros(len(FEATURE_NAMES), np.float32)
    assert trees.margin(x) == pytest.approx(-0.75)
    x[1] = 0.6
    assert trees.margin(x) == pytest.approx(2.25)
    x[1] = np.nan
    assert trees.margin(x) == pytest.approx(2.25)
    # and it round-trips through the artefact format
    path = tmp_path / "tiny.npz"
    save_artefact(
        path, trees, {"version": "t", "operating_points": [{"false_hit_budget": 0.02, "threshold": 0.5}]}
    )
    loaded = Judge.load(path)
    assert loaded.trees.margin(x) == pytest.approx(2.25) and loaded.threshold(0.02) == 0.5


@pytest.mark.skipif(not SKLEARN_MODEL.exists(), reason="the training run's scikit-learn model is absent")
def test_the_numpy_trees_match_scikit_learn() -> None:
    import joblib  # type: ignore[import-untyped]

    saved = joblib.load(SKLEARN_MODEL)
    if saved.get("artefact_sha256") != hashlib.sha256(ARTEFACT.read_bytes()).hexdigest():
        pytest.skip(f"{SKLEARN_MODEL} was fit in another training run than the shipped artefact")
    judge = shipped_judge()
    theirs = saved["model"].decision_function(saved["X"])
    ours = judge.trees.margins(saved["X"])
    assert np.max(np.abs(ours - theirs)) < 1e-5


# -- verdicts on pairs written here ---------------------------------------------------------------


def test_it_rejects_meaning_flips_and_accepts_restructured_paraphrases(encoder: MiniLMEncoder) -> None:
    judge = shipped_judge()
    t = judge.threshold(0.02)
    flips = [
        ("Is aluminium a good conductor of heat?", "Is aluminium a poor conductor of heat?"),
        (
            "Did the landlord sue the tenant over the deposit?",
            "Did the tenant sue the landlord over the deposit?",
        ),
    ]
    paraphrases = [
        (
            "What is the boiling point of ethanol at sea level?",
            "At sea level, what is ethanol's boiling point?",
        ),
    ]
    for a, b in flips:
        assert p_same(judge, encoder, a, b) < t, (a, b)
    for a, b in paraphrases:
        assert p_same(judge, encoder, a, b) >= t, (a, b)


# -- in the cache ---------------------------------------------------------------------------------

ANSWER = b'{"choices":[{"index":0,"message":{"content":"%s"}}]}'


def _body(text: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}], "temperature": 0}


@pytest.mark.anyio
async def test_the_cache_serves_a_paraphrase_and_shadow_reports_what_the_judge_rejected(
    encoder: MiniLMEncoder,
) -> None:
    anchor = "Is aluminium a good conductor of heat?"
    flip = "Is aluminium a poor conductor of heat?"
    paraphrase = "Does aluminium conduct heat well?"
    vectors = dict(zip([anchor, flip, paraphrase], encoder.encode([anchor, flip, paraphrase]), strict=True))

    async def embed(text: str) -> Vector:
        vector: Vector = vectors[text] if text in vectors else encoder.encode([text])[0]
        return vector

    # no verifier, a floor low enough that the flip is a candidate: only the judge stands between
    spec = CacheSpec(learn=False, verifier=False, similarity=0.75)
    assert float(np.dot(vectors[anchor], vectors[flip])) >= 0.75
    for shadow in (False, True):
        cache = ResponseCache(MemoryState(), embed, shadow_all=shadow)
        first = await cache.lookup(CacheRequest("anon", "x.", "chat", _body(anchor), anchor, spec))
        cache.complete(first, "json", ANSWER % b"yes, a good one")
        await cache.drain()
        found = await cache.lookup(CacheRequest("anon", "x.", "chat", _body(flip), flip, spec))
        assert found.status == "miss" and found.judge_rejected and found.reason.startswith("judge")
        cache.complete(found, "json", ANSWER % b"no, it is not poor")
        await cache.drain()
        stats = await cache.stats()
        assert stats["judge_rejects"] == 1
        if shadow:
            assert stats["shadow_judge"] == {"rejected": 1, "caught": 1, "missed": 0}
        else:
            hit = await cache.lookup(CacheRequest("anon", "x.", "chat", _body(paraphrase), paraphrase, spec))
            assert hit.status == "semantic-hit" and b"a good one" in hit.body()
    # without the judge the flip is served: the judge is what stops it
    bare = ResponseCache(MemoryState(), embed, judge=None)
    first = await bare.lookup(CacheRequest("anon", "x.", "chat", _body(anchor), anchor, spec))
    bare.complete(first, "json", ANSWER % b"yes")
    await bare.drain()
    found = await bare.lookup(CacheRequest("anon", "x.", "chat", _body(flip), flip, spec))
    assert found.status == "semantic-hit"
    assert bare.health()["judge"] is None and cache.health()["judge"] == shipped_judge().version


@pytest.mark.anyio
async def test_a_judge_trained_on_another_encoder_disables_semantic_hits(encoder: MiniLMEncoder) -> None:
    anchor = "Is aluminium a good conductor of heat?"
    paraphrase = "Does aluminium conduct heat well?"
    vectors = dict(zip([anchor, paraphrase], encoder.encode([anchor, paraphrase]), strict=True))

    async def embed(text: str) -> Vector:
        return vectors[text]

    judged = CacheSpec(learn=False, verifier=False, similarity=0.6)
    shipped = shipped_judge()
    other = {**shipped.metadata, ENCODER_KEY: "some/other-encoder"}
    unrecorded = {k: v for k, v in shipped.metadata.items() if k != ENCODER_KEY}

    async def run(
        metadata: dict[str, object], encoder_id: str | None, spec: CacheSpec = judged
    ) -> tuple[ResponseCache, CacheLookup, CacheLookup]:
        """Store the anchor, then look up the anchor itself and its paraphrase."""
        judge = Judge(shipped.trees, metadata, shipped.featurizer)
        cache = ResponseCache(MemoryState(), embed, judge=judge, encoder_id=encoder_id)
        first = await cache.lookup(CacheRequest("anon", "x.", "chat", _body(anchor), anchor, spec))
        cache.complete(first, "json", ANSWER % b"yes")
        await cache.drain()
        exact = await cache.lookup(CacheRequest("anon", "x.", "chat", _body(anchor), anchor, spec))
        near = await cache.lookup(CacheRequest("anon", "x.", "chat", _body(paraphrase), paraphrase, spec))
        return cache, exact, near

    cache, _, near = await run(shipped.metadata, encoder.model_id)
    assert near.status == "semantic-hit" and cache.health()["judge_stale"] is None
    for metadata in (other, unrecorded):
        cache, exact, near = await run(metadata, encoder.model_id)
        assert near.status == "miss" and near.reason == "judge stale"
        assert exact.status == "hit", "the exact tier does not depend on the judge"
        reason = cache.health()["judge_stale"]
        assert encoder.model_id in reason and "train_judge.py" in reason
        assert str(metadata.get(ENCODER_KEY, "an unrecorded encoder")) in reason
        # a zone that switched the judge off does not depend on it
        off = CacheSpec(learn=False, verifier=False, similarity=0.6, judge=None)
        assert (await run(metadata, encoder.model_id, off))[2].status == "semantic-hit"
    # only an embedding function, no encoder id: nothing to check the judge against
    assert (await run(other, None))[2].status == "semantic-hit"


@pytest.mark.anyio
async def test_the_gateway_edge_checks_the_judge_against_its_encoder(
    tmp_path: Path, encoder: MiniLMEncoder
) -> None:
    from gateway.helpers import make_tree
    from semdns.gateway.edge import Edge

    tree = make_tree(
        tmp_path, {"@": {"engines": [{"kind": "openai", "url": "http://127.0.0.1:9", "model": "m"}]}}
    )

    class OtherEncoder:
        model_id, dim = "some/other-encoder", 384

    for enc, stale in ((encoder, False), (OtherEncoder(), True)):
        edge = Edge(tree, MemoryState(), None, encoder=enc)
        assert edge.cache is not None and (edge.cache.judge_stale is not None) == stale
        assert ("judge_stale" in edge.health()["response_cache"]) == stale
        await edge.aclose()
