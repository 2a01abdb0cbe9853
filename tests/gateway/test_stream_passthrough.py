"""The streamed hot path: events read together from the backend pass to the client in one write
(``EngineCall.coalesce``), unchanged but for the first event's ``semdns`` field, and a client that
leaves mid-stream still releases the backend's stream at once (:class:`semdns.gateway.sse.EventStream`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest

from gateway.helpers import backends, engine, gateway, make_tree, sse_events
from semdns.engines.openai_http import OpenAIHTTPEngine, SharedHTTP
from semdns.engines.protocol import EngineCall
from semdns.errors import EngineError

pytestmark = pytest.mark.anyio

_MESSAGES = [{"role": "user", "content": "tell me"}]


async def _items(engine_: OpenAIHTTPEngine, *, coalesce: bool, **extra: object) -> list[bytes]:
    call = EngineCall("chat", {"messages": _MESSAGES, **extra}, 5.0, coalesce=coalesce)
    return [item async for item in engine_.stream(call)]


async def test_coalesced_items_hold_whole_events_and_the_same_bytes() -> None:
    async with backends("root") as b:
        b["root"].fake.behaviour.reply = "one two three four five six"
        b["root"].fake.behaviour.chunks = 6
        http = SharedHTTP()
        try:
            one = OpenAIHTTPEngine(http, b["root"].url, "root")
            usage = {"stream_options": {"include_usage": True}}
            single = await _items(one, coalesce=False, **usage)
            coalesced = await _items(one, coalesce=True, **usage)
        finally:
            await http.aclose()
    assert all(item.count(b"\n\n") == 1 and item.endswith(b"\n\n") for item in single)
    assert all(item.endswith(b"\n\n") for item in coalesced)
    # The fake writes its tail (finish, usage, [DONE]) in one send: coalesced, at least those share an item.
    assert len(coalesced) < len(single)
    assert coalesced[-1].endswith(b"data: [DONE]\n\n") and coalesced[-1].count(b"\n\n") >= 3
    assert b"".join(coalesced) == b"".join(single)


async def test_a_coalesced_stream_cut_before_done_still_fails() -> None:
    async with backends("root") as b:
        b["root"].fake.behaviour.chunks = 4
        b["root"].fake.behaviour.reply = "a b c d"
        b["root"].fake.behaviour.drop_after = 2
        http = SharedHTTP()
        try:
            with pytest.raises(EngineError):
                await _items(OpenAIHTTPEngine(http, b["root"].url, "root"), coalesce=True)
        finally:
            await http.aclose()


async def test_the_gateway_stream_is_the_backend_stream_with_one_field_added(tmp_path: Path) -> None:
    async with backends("root") as b:
        b["root"].fake.behaviour.reply = "one two three four five"
        b["root"].fake.behaviour.chunks = 5
        tree = make_tree(tmp_path, {"@": {"engines": [engine(b["root"])]}})
        async with gateway(tree) as gw:
            body = {"messages": _MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
            through = await gw.client.post("/v1/chat/completions", content=orjson.dumps(body))
            again = await gw.client.post("/v1/chat/completions", content=orjson.dumps(body))  # keep-alive
        http = SharedHTTP()
        try:
            direct = await _items(
                OpenAIHTTPEngine(http, b["root"].url, "root"),
                coalesce=False,
                stream_options={"include_usage": True},
            )
        finally:
            await http.aclose()
    assert through.status_code == again.status_code == 200
    events, expected = sse_events(through.text), sse_events(b"".join(direct).decode())
    assert events[-1] == "[DONE]" and len(events) == len(expected)
    first = orjson.loads(events[0])
    assert first.pop("semdns")["name"] == "."
    assert first == orjson.loads(expected[0])
    assert events[1:] == expected[1:]  # byte for byte (the fake's created and id do not change)
    assert sse_events(again.text)[-1] == "[DONE]"


async def test_a_client_leaving_mid_stream_releases_the_backend_stream(tmp_path: Path) -> None:
    async with backends("root") as b:
        b["root"].fake.behaviour.chunks = 3
        b["root"].fake.behaviour.reply = "a b c"
        b["root"].fake.behaviour.stall_after = 1
        b["root"].fake.behaviour.stall_s = 20
        tree = make_tree(tmp_path, {"@": {"engines": [engine(b["root"])]}})
        async with gateway(tree) as gw:
            url = urlsplit(gw.url)
            reader, writer = await asyncio.open_connection(url.hostname, url.port)
            payload = orjson.dumps({"messages": _MESSAGES, "stream": True})
            writer.write(
                b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200")
            assert b"data: {" in await asyncio.wait_for(reader.readuntil(b"\n\n"), 10)
            writer.close()  # gone while the backend stalls
            left = time.monotonic()
            outcome = ""
            while time.monotonic() - left < 5 and "cancelled" not in outcome:
                await asyncio.sleep(0.1)
                outcome = (await gw.client.get("/metrics")).text
    # The attempt was settled as cancelled well before the backend's stall ended (20 s).
    assert 'outcome="cancelled"' in outcome
    assert time.monotonic() - left < 5
