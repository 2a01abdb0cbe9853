"""The compression step end to end: a real gateway and fake backends on 127.0.0.1. What the engine
receives is compressed per the name's policy, the question intact; the answer says what was done
(header, ``semdns.compression``, metrics); a client can opt out; off means untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.helpers import StubResolver, backends, engine, gateway, make_tree, sse_events

pytestmark = pytest.mark.anyio

FILLER = " ".join(
    f"Section {i} of the manual covers the warranty terms for accessory number {i}." for i in range(80)
)
FACT = "The blue pump model K7 must be primed with 2 litres of water before first use."
QUESTION = "How much water does the K7 pump need for priming?"
LONG = f"{FILLER} {FACT} {FILLER}\n\n{QUESTION}"


def _tree(tmp_path: Path, b: dict[str, Any], compress: dict[str, Any] | None) -> Any:
    legal: dict[str, Any] = {"engines": [engine(b["legal"])]}
    if compress is not None:
        legal["compress"] = compress
    return make_tree(tmp_path, {"@": {"engines": [engine(b["root"])]}, "legal": legal})


async def test_lossy_policy_compresses_what_the_engine_receives(tmp_path: Path) -> None:
    async with backends("root", "legal") as b:
        tree = _tree(tmp_path, b, {"mode": "lossy", "ratio": 4, "min_tokens": 100})
        async with gateway(tree) as gw:
            response = await gw.chat(LONG, model="legal")
            metrics = (await gw.client.get("/metrics")).text
        sent = b["legal"].fake.last_body
    assert response.status_code == 200, response.text
    assert sent is not None
    content = sent["messages"][0]["content"]
    assert content.endswith(QUESTION) and FACT in content
    assert len(content) < len(LONG) / 3
    header = response.headers["x-semdns-compression"]
    assert header.startswith("lossy; method=lexical; ratio=")
    note = response.json()["semdns"]["compression"]
    assert note["mode"] == "lossy" and note["ratio"] >= 3.5 and note["tokens_out"] < note["tokens_in"]
    assert 'semdns_compression_requests_total{mode="lossy",name="legal.",outcome="compressed"} 1.0' in metrics


async def test_client_opt_out_and_short_prompts(tmp_path: Path) -> None:
    async with backends("root", "legal") as b:
        tree = _tree(tmp_path, b, {"mode": "lossy", "ratio": 4, "min_tokens": 100})
        async with gateway(tree) as gw:
            body = orjson.dumps({"model": "legal", "messages": [{"role": "user", "content": LONG}]})
            opted = await gw.client.post(
                "/v1/chat/completions", content=body, headers={"x-semdns-compress": "off"}
            )
            assert b["legal"].fake.last_body is not None
            assert b["legal"].fake.last_body["messages"][0]["content"] == LONG
            short = await gw.chat("Short question about a lease?", model="legal")
    assert opted.headers["x-semdns-compression"] == "off; reason=client"
    assert opted.json()["semdns"]["compression"] == {"mode": "off", "reason": "client"}
    assert short.headers["x-semdns-compression"] == "off; reason=short"


async def test_policy_off_leaves_requests_and_answers_as_before(tmp_path: Path) -> None:
    async with backends("root", "legal") as b:
        tree = _tree(tmp_path, b, None)
        async with gateway(tree) as gw:
            response = await gw.chat(LONG, model="legal", stream=False)
            opted = await gw.client.post(
                "/v1/chat/completions",
                content=orjson.dumps({"model": "legal", "messages": [{"role": "user", "content": LONG}]}),
                headers={"x-semdns-compress": "off"},
            )
        assert b["legal"].fake.last_body is not None
        assert b["legal"].fake.last_body["messages"][0]["content"] == LONG
    for r in (response, opted):
        assert "x-semdns-compression" not in r.headers and "compression" not in r.json()["semdns"]


async def test_streamed_answer_carries_the_note_on_its_first_event(tmp_path: Path) -> None:
    async with backends("root", "legal") as b:
        tree = _tree(tmp_path, b, {"mode": "lossy", "budget_tokens": 64, "min_tokens": 100})
        async with gateway(tree) as gw:
            response = await gw.chat(LONG, model="legal", stream=True)
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    first = orjson.loads(events[0])
    assert first["semdns"]["compression"]["mode"] == "lossy"
    assert first["semdns"]["compression"]["tokens_out"] <= 70
    assert response.headers["x-semdns-compression"].startswith("lossy;")


async def test_completion_prompts_are_compressed_too(tmp_path: Path) -> None:
    async with backends("root", "legal") as b:
        tree = _tree(tmp_path, b, {"mode": "lossy", "ratio": 4, "min_tokens": 100})
        async with gateway(tree) as gw:
            response = await gw.client.post(
                "/v1/completions", content=orjson.dumps({"model": "legal", "prompt": LONG})
            )
        sent = b["legal"].fake.last_body
    assert response.status_code == 200 and sent is not None
    assert FACT in sent["prompt"] and sent["prompt"].endswith(QUESTION)


async def test_lossless_reports_the_ccp_ratio_and_sends_everything(tmp_path: Path) -> None:
    async with backends("root", "legal") as b:
        tree = _tree(tmp_path, b, {"mode": "lossless"})
        async with gateway(tree, StubResolver([("pump", "legal.")])) as gw:
            response = await gw.chat(LONG)
        sent = b["legal"].fake.last_body
    assert sent is not None and sent["messages"][0]["content"] == LONG
    note = response.json()["semdns"]["compression"]
    assert note["mode"] == "lossless" and note["method"] == "zstd" and note["ratio"] > 2
    assert note["dictionary"].startswith(".:")  # the test zone is the root zone


async def test_lossless_reports_the_word_model_for_a_short_context(tmp_path: Path) -> None:
    """A zone with a word model (compress.words): a short context is measured with it, a long one
    with zstd as before."""
    from semdns.compress.dictionaries import save, train_zone_words

    samples = [f"{FACT} Section {i} covers accessory {i}." for i in range(100)]
    words = save(train_zone_words(".", samples, version=1), tmp_path, samples=100, sources=["t"])  # root zone
    async with backends("root", "legal") as b:
        tree = _tree(tmp_path, b, {"mode": "lossless", "words": str(words.path)})
        async with gateway(tree, StubResolver([("pump", "legal.")])) as gw:
            short = await gw.chat(f"{FACT}\n\n{QUESTION}")
            long = await gw.chat(LONG)
    note = short.json()["semdns"]["compression"]
    assert note["method"] == "words" and note["dictionary"] == words.dictionary.id and note["ratio"] > 3
    assert short.headers["x-semdns-compression"].startswith("lossless; method=words; ratio=")
    assert long.json()["semdns"]["compression"]["method"] == "zstd"


async def test_a_conversation_steers_compression_and_a_vague_opening_keeps_more(tmp_path: Path) -> None:
    """The follow-up "How much of it?" names nothing; its earlier turns name the K7 pump, so the fact
    survives and the turns reach the engine as sent. A vague opening question gets the zone's
    vague_ratio, and the answer says so."""
    policy = {"mode": "lossy", "ratio": 8, "vague_ratio": 2, "min_tokens": 100}
    turns = [
        {"role": "user", "content": f"{FILLER} {FACT} {FILLER}\n\nWhich pump must be primed?"},
        {"role": "assistant", "content": "The blue K7 pump."},
        {"role": "user", "content": "With what?"},
        {"role": "assistant", "content": "Water."},
        {"role": "user", "content": "How much of it?"},
    ]
    async with backends("root", "legal") as b, gateway(_tree(tmp_path, b, policy)) as gw:
        talk = await gw.client.post(
            "/v1/chat/completions", content=orjson.dumps({"model": "legal", "messages": turns})
        )
        sent = b["legal"].fake.last_body
        vague = await gw.chat(f"{FILLER} {FACT} {FILLER}\n\nWhy?", model="legal")
        widened = b["legal"].fake.last_body
    assert talk.status_code == 200, talk.text
    assert sent is not None and FACT in sent["messages"][0]["content"]
    assert sent["messages"][0]["content"].endswith("\n\nWhich pump must be primed?")
    assert sent["messages"][1:] == turns[1:]
    assert "reason" not in talk.json()["semdns"]["compression"]
    assert talk.json()["semdns"]["compression"]["ratio"] >= 6
    assert vague.headers["x-semdns-compression"].endswith("; reason=vague_question")
    note = vague.json()["semdns"]["compression"]
    assert note["reason"] == "vague_question" and 1.6 <= note["ratio"] <= 2.5
    assert widened is not None and len(widened["messages"][0]["content"]) > len(LONG) / 3


async def test_malformed_bodies_still_get_400_not_a_compression_error(tmp_path: Path) -> None:
    async with backends("root", "legal") as b:
        tree = _tree(tmp_path, b, {"mode": "lossy", "ratio": 4, "min_tokens": 0})
        async with gateway(tree) as gw:
            bad = await gw.client.post("/v1/chat/completions", content=b'{"model": "legal", "messages": 3}')
            parts = await gw.client.post(
                "/v1/chat/completions",
                content=orjson.dumps(
                    {
                        "model": "legal",
                        "messages": [{"role": "user", "content": [{"type": "text", "text": LONG}]}],
                    }
                ),
            )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "messages"
    assert parts.status_code == 200 and parts.headers["x-semdns-compression"] == "off; reason=short"
