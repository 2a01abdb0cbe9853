"""Streamed cross-domain answers on real servers (127.0.0.1): each part streams as it arrives under
its own heading and markers, never interleaved with another; the aggregation notes and the final
``semdns.aggregation`` come last; a part failing before or during its stream degrades the answer
without breaking it; only when every part fails does the client get an error status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.helpers import StubResolver, backends, engine, gateway, make_tree, sse_events

pytestmark = pytest.mark.anyio

RESOLVER_NAMES = ["legal.", "medical."]


def _tree(tmp_path: Path, b: dict[str, Any]) -> Any:
    return make_tree(
        tmp_path,
        {
            "@": {"engines": [engine(b["root"])]},
            "legal": {"engines": [engine(b["legal"])]},
            "medical": {"engines": [engine(b["medical"])]},
        },
    )


def _chunks(text: str) -> list[dict[str, Any]]:
    events = sse_events(text)
    assert events[-1] == "[DONE]"
    return [orjson.loads(e) for e in events[:-1]]


def _content(chunk: dict[str, Any]) -> str:
    choice = chunk["choices"][0]
    return str(choice.get("delta", {}).get("content") or choice.get("text") or "")


async def _ask(tmp_path: Path, b: dict[str, Any], *, completion: bool = False) -> Any:
    resolver = StubResolver([("malpractice", "legal.")], names=RESOLVER_NAMES)
    async with gateway(_tree(tmp_path, b), resolver) as gw:
        if completion:
            body = orjson.dumps({"prompt": "malpractice and tumours", "stream": True})
            return await gw.client.post("/v1/completions", content=body)
        return await gw.chat("malpractice after a missed tumour", stream=True)


async def test_parts_stream_in_arrival_order_each_delimited(tmp_path: Path) -> None:
    async with backends("root", "legal", "medical") as b:
        b["legal"].fake.behaviour.reply = "the legal view in four words"
        b["legal"].fake.behaviour.chunks = 3
        b["legal"].fake.behaviour.latency_s = 0.3  # slower to start: medical streams first
        b["legal"].fake.behaviour.chunk_delay_s = 0.05
        b["medical"].fake.behaviour.reply = "the medical view is short"
        b["medical"].fake.behaviour.chunks = 3
        response = await _ask(tmp_path, b)
    assert response.status_code == 200
    assert response.headers["x-semdns-aggregation"] == "streamed"
    chunks = _chunks(response.text)
    first = chunks[0]["semdns"]
    assert first["cross_domain"] is True and first["names"] == RESOLVER_NAMES
    markers = [c["semdns"]["part"] for c in chunks if "part" in c.get("semdns", {})]
    assert [(m["name"], m["status"]) for m in markers] == [
        ("medical.", "start"),
        ("medical.", "done"),
        ("legal.", "start"),
        ("legal.", "done"),
    ]
    assert markers[0]["confidence"] == 0.9
    text = "".join(_content(c) for c in chunks)
    assert text.startswith("[medical.] (confidence 0.90)\nthe medical view is short")
    assert "\n\n[legal.] (confidence 0.90)\nthe legal view in four words" in text
    assert text.index("[legal.]") > text.index("the medical view is short")
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    aggregation = last["semdns"]["aggregation"]
    assert {p["name"] for p in aggregation["parts"]} == set(RESOLVER_NAMES)
    assert last["semdns"]["degraded"] is False and sorted(last["semdns"]["served"]) == RESOLVER_NAMES


async def test_divergent_parts_get_notes_after_the_parts(tmp_path: Path) -> None:
    async with backends("root", "legal", "medical") as b:
        b["legal"].fake.behaviour.reply = "statute limitation negligence"
        b["medical"].fake.behaviour.reply = "tumour biopsy oncology"
        response = await _ask(tmp_path, b)
    chunks = _chunks(response.text)
    text = "".join(_content(c) for c in chunks)
    notes = text.index("\n\n[notes]\n- divergent: ")
    assert notes > text.index("statute") and notes > text.index("tumour")
    assert chunks[-1]["semdns"]["aggregation"]["conflicts"][0]["kind"] == "divergent"


async def test_a_part_failing_mid_stream_is_cut_off_and_the_rest_goes_on(tmp_path: Path) -> None:
    async with backends("root", "legal", "medical") as b:
        b["medical"].fake.behaviour.reply = "one two three four five six"
        b["medical"].fake.behaviour.chunks = 3
        b["medical"].fake.behaviour.drop_after = 1
        b["legal"].fake.behaviour.chunk_delay_s = 0.1
        response = await _ask(tmp_path, b)
    assert response.status_code == 200
    chunks = _chunks(response.text)
    text = "".join(_content(c) for c in chunks)
    assert "hello from legal" in text
    assert "[medical.] (confidence 0.90)\none two " in text and "[medical. was cut off:" in text
    failed = [
        c["semdns"]["part"] for c in chunks if c.get("semdns", {}).get("part", {}).get("status") == "failed"
    ]
    assert failed and failed[0]["name"] == "medical." and failed[0]["error"]["code"]
    last = chunks[-1]["semdns"]
    assert last["degraded"] is True and last["served"] == ["legal."]
    assert last["aggregation"]["conflicts"][0]["kind"] == "missing"


async def test_a_part_failing_before_its_first_token_is_only_noted(tmp_path: Path) -> None:
    async with backends("root", "legal", "medical") as b:
        b["medical"].fake.behaviour.fail_status = 400
        response = await _ask(tmp_path, b)
    chunks = _chunks(response.text)
    text = "".join(_content(c) for c in chunks)
    assert text.startswith("[legal.] (confidence 0.90)\nhello from legal") and "[medical.]" not in text
    assert "- missing: medical.:" in text
    assert chunks[-1]["semdns"]["degraded"] is True


async def test_every_part_failing_is_an_http_error(tmp_path: Path) -> None:
    async with backends("root", "legal", "medical") as b:
        b["legal"].fake.behaviour.fail_status = 400
        b["medical"].fake.behaviour.fail_status = 400
        response = await _ask(tmp_path, b)
    assert response.status_code == 400
    assert response.json()["error"]["code"]


async def test_streamed_completions_and_unchanged_non_streaming(tmp_path: Path) -> None:
    async with backends("root", "legal", "medical") as b:
        response = await _ask(tmp_path, b, completion=True)
        resolver = StubResolver([("malpractice", "legal.")], names=RESOLVER_NAMES)
        async with gateway(_tree(tmp_path, b), resolver) as gw:
            plain = await gw.chat("malpractice after a missed tumour")
    chunks = _chunks(response.text)
    assert all(c["object"] == "text_completion" for c in chunks)
    text = "".join(_content(c) for c in chunks)
    assert "hello from legal" in text and "hello from medical" in text
    body = plain.json()
    assert (
        body["object"] == "chat.completion"
        and "[legal.]\nhello from legal" in body["choices"][0]["message"]["content"]
    )


async def test_a_streamed_fan_out_ends_with_the_parts_usage_when_asked(tmp_path: Path) -> None:
    resolver = StubResolver([("malpractice", "legal.")], names=RESOLVER_NAMES)
    async with backends("root", "legal", "medical") as b, gateway(_tree(tmp_path, b), resolver) as gw:
        asked = await gw.chat(
            "malpractice after a missed tumour", stream=True, stream_options={"include_usage": True}
        )
        plain = await gw.chat("malpractice after a missed tumour", stream=True)
    chunks = _chunks(asked.text)
    usage = chunks[-1]
    assert usage["choices"] == [] and usage["object"] == "chat.completion.chunk"
    # each fake backend reports 1 + 3 tokens; the two parts are summed
    assert usage["usage"] == {"prompt_tokens": 2, "completion_tokens": 6, "total_tokens": 8}
    assert all("usage" not in c for c in _chunks(plain.text))
