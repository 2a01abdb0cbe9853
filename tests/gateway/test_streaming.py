"""Streaming: SSE passthrough in OpenAI's shape with ``data: [DONE]``, the ``semdns`` field on the first
event, and failures after the first byte ending in an error event (never a silent truncation)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.helpers import StubResolver, backends, engine, gateway, make_tree, sse_events

pytestmark = pytest.mark.anyio


def _body(**extra: object) -> bytes:
    return orjson.dumps({"messages": [{"role": "user", "content": "tell me"}], "stream": True, **extra})


async def test_stream_passes_events_through_and_ends_with_done(tmp_path: Path) -> None:
    async with backends("root") as b:
        b["root"].fake.behaviour.reply = "one two three four"
        b["root"].fake.behaviour.chunks = 2
        tree = make_tree(tmp_path, {"@": {"engines": [engine(b["root"])]}})
        async with gateway(tree) as gw:
            response = await gw.client.post("/v1/chat/completions", content=_body())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-semdns-name"] == "."
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["semdns"]["name"] == "."
    assert "semdns" not in chunks[1]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "one two three four"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_streamed_completion(tmp_path: Path) -> None:
    async with backends("root") as b:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(b["root"])]}})
        async with gateway(tree) as gw:
            response = await gw.client.post(
                "/v1/completions", content=orjson.dumps({"prompt": "Once", "stream": True})
            )
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert orjson.loads(events[0])["object"] == "text_completion"


async def test_connection_dropped_mid_stream_ends_with_an_error_event(tmp_path: Path) -> None:
    async with backends("root") as b:
        b["root"].fake.behaviour.chunks = 4
        b["root"].fake.behaviour.reply = "a b c d"
        b["root"].fake.behaviour.drop_after = 2
        tree = make_tree(tmp_path, {"@": {"engines": [engine(b["root"])]}})
        async with gateway(tree) as gw:
            response = await gw.client.post("/v1/chat/completions", content=_body())
            metrics = (await gw.client.get("/metrics")).text
    assert response.status_code == 200  # the status was sent with the first byte
    events = sse_events(response.text)
    assert "[DONE]" not in events
    last = orjson.loads(events[-1])
    assert last["error"]["code"] == "upstream_error"
    assert b["root"].url.removesuffix("/v1") in last["error"]["message"]
    assert len(events) == 3  # two content events, then the error
    assert 'status="stream_error"' in metrics


async def test_stall_mid_stream_ends_with_a_timeout_error_event(tmp_path: Path) -> None:
    async with backends("root") as b:
        b["root"].fake.behaviour.chunks = 3
        b["root"].fake.behaviour.reply = "a b c"
        b["root"].fake.behaviour.stall_after = 1
        b["root"].fake.behaviour.stall_s = 5
        tree = make_tree(
            tmp_path, {"@": {"engines": [engine(b["root"])], "gateway": {"attempt_timeout_s": 0.3}}}
        )
        async with gateway(tree) as gw:
            response = await gw.client.post("/v1/chat/completions", content=_body())
    events = sse_events(response.text)
    assert orjson.loads(events[-1])["error"]["code"] == "upstream_timeout"


async def test_failure_before_the_first_byte_of_a_stream_fails_over(tmp_path: Path) -> None:
    async with backends("a", "b") as bk:
        bk["a"].fake.behaviour.fail_status = 503
        bk["b"].fake.behaviour.fail_status = 503
        tree = make_tree(
            tmp_path,
            {
                "@": {
                    "engines": [engine(bk["a"]), engine(bk["b"])],
                    "gateway": {"balancing": "weighted_round_robin"},
                }
            },
        )
        async with gateway(tree, StubResolver()) as gw:
            bk["b"].fake.behaviour.fail_status = None
            response = await gw.client.post("/v1/chat/completions", content=_body())
    assert response.status_code == 200
    assert sse_events(response.text)[-1] == "[DONE]"
    assert orjson.loads(sse_events(response.text)[0])["semdns"]["replica"].startswith(bk["b"].url)
