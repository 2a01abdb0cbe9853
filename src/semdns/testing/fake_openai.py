"""A fake OpenAI-compatible backend with controllable behaviour: latency, errors, stalls, streaming,
and connections dropped mid-stream.

It is a bare ASGI app (no framework), so that at zero latency it costs as little as possible and
benchmarks measure the gateway rather than the fake. Change ``backend.behaviour`` between requests to
change what it does; ``backend.requests`` counts what it received.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]
_SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class DroppedConnection(Exception):
    """Raised inside the fake to make the server drop the connection mid-stream (on purpose)."""


@dataclass
class Behaviour:
    """What the fake does with the next requests."""

    latency_s: float = 0.0
    """Delay before answering (before the headers)."""
    fail_status: int | None = None
    """Answer every request with this HTTP status (an OpenAI error body)."""
    fail_next: int = 0
    """Answer only the next N requests with ``fail_status`` (default 500), then recover."""
    chunks: int = 3
    """Content events in a streamed answer."""
    chunk_delay_s: float = 0.0
    """Delay between streamed events."""
    drop_after: int | None = None
    """Drop the connection after this many streamed events (a mid-stream failure)."""
    stall_after: int | None = None
    """Stop sending (without closing) after this many streamed events, for ``stall_s``."""
    stall_s: float = 30.0
    reply: str | None = None
    """Content of the answer; default ``"hello from <name>"``."""
    logprob: float | None = None
    """When set and the request asks for ``logprobs``: every word of the answer is one token with
    this log-probability (in ``choices[0].logprobs.content``, streamed per chunk too)."""
    ignore_logprobs: bool = False
    """Answer without any ``logprobs`` even when asked (a server that does not support them)."""


@dataclass
class FakeOpenAI:
    """The fake server; ``name`` appears in its answers so tests can tell replicas apart."""

    name: str = "fake"
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: int = 0
    probes: int = 0
    last_body: dict[str, Any] | None = None
    last_headers: dict[str, str] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "GET" and path == "/v1/models":
            self.probes += 1
            b = self.behaviour
            if b.fail_status is not None:
                await send_json(send, b.fail_status, _error(b.fail_status, "down"))
                return
            await send_json(send, 200, orjson.dumps({"object": "list", "data": [{"id": self.name}]}))
            return
        if method != "POST" or path not in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
            await send_json(send, 404, _error(404, f"no route {method} {path}"))
            return
        raw = bytearray()
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.requests += 1
        self.last_headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        body = orjson.loads(raw)
        self.last_body = body
        b = self.behaviour
        if b.latency_s:
            await asyncio.sleep(b.latency_s)
        if b.fail_next > 0:
            b.fail_next -= 1
            status = b.fail_status or 500
            await send_json(send, status, _error(status, f"{self.name} failed on purpose"))
            return
        if b.fail_status is not None:
            await send_json(send, b.fail_status, _error(b.fail_status, f"{self.name} failed on purpose"))
            return
        if path == "/v1/embeddings":
            await send_json(send, 200, _embeddings(body, self.name))
            return
        chat = path == "/v1/chat/completions"
        reply = b.reply if b.reply is not None else f"hello from {self.name}"
        if chat and _first_tool(body) is None and _wants_json(body):
            reply = orjson.dumps({"reply": reply}).decode()
        if body.get("stream"):
            await self._stream(send, body, chat, reply)
            return
        answer_body = {k: v for k, v in body.items() if k != "logprobs"} if b.ignore_logprobs else body
        await send_json(send, 200, _answer(answer_body, chat, reply, self.name, _logprobs(body, b, reply)))

    async def _stream(self, send: Send, body: dict[str, Any], chat: bool, reply: str) -> None:
        b = self.behaviour
        await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
        words = reply.split(" ")
        count = max(1, b.chunks)
        size = -(-len(words) // count)
        pieces = [
            " ".join(words[i : i + size]) + (" " if i + size < len(words) else "")
            for i in range(0, len(words), size)
        ]
        created = 0  # fixed, like the non-streamed answer's: two runs of one stream are byte-identical
        model = body.get("model", self.name)
        tool = _first_tool(body) if chat else None
        if tool is not None:
            pieces = []
            delta = {"role": "assistant", "content": None, "tool_calls": [{"index": 0, **_tool_call(tool)}]}
            event = {
                "id": "fake-1",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
            }
            await send({"type": "http.response.body", "body": sse_event(event), "more_body": True})
        for i, piece in enumerate(pieces):
            if b.drop_after is not None and i >= b.drop_after:
                raise DroppedConnection(f"{self.name} drops the stream on purpose")
            if b.stall_after is not None and i >= b.stall_after:
                await asyncio.sleep(b.stall_s)
            if chat:
                choice: dict[str, Any] = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                obj = "chat.completion.chunk"
            else:
                choice = {"index": 0, "text": piece, "finish_reason": None}
                obj = "text_completion"
            logprobs = _logprobs(body, b, piece)
            if logprobs is not None:
                choice["logprobs"] = logprobs
            event = {"id": "fake-1", "object": obj, "created": created, "model": model, "choices": [choice]}
            await send(
                {
                    "type": "http.response.body",
                    "body": b"data: " + orjson.dumps(event) + b"\n\n",
                    "more_body": True,
                }
            )
            if b.chunk_delay_s:
                await asyncio.sleep(b.chunk_delay_s)
        finish = "tool_calls" if tool is not None else "stop"
        final = (
            {"index": 0, "delta": {}, "finish_reason": finish}
            if chat
            else {"index": 0, "text": "", "finish_reason": finish}
        )
        event = {
            "id": "fake-1",
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": created,
            "model": model,
            "choices": [final],
        }
        tail = sse_event(event)
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            tail += sse_event({**event, "choices": [], "usage": _USAGE})
        tail += b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": tail, "more_body": False})


_USAGE = {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}


def _answer(
    body: dict[str, Any], chat: bool, reply: str, name: str, logprobs: dict[str, Any] | None = None
) -> bytes:
    """The answer, honouring what a conformant server would: ``n`` choices, a call of the first
    tool offered, logprobs when asked (``logprobs``: the behaviour's per-word values, else fixed,
    recognisable ones)."""
    model = body.get("model", name)
    choices: list[dict[str, Any]] = []
    tool = _first_tool(body) if chat else None
    for index in range(body.get("n") or 1):
        if chat:
            message: dict[str, Any] = {"role": "assistant", "content": reply}
            if tool is not None:
                message = {"role": "assistant", "content": None, "tool_calls": [_tool_call(tool)]}
            choice: dict[str, Any] = {
                "index": index,
                "message": message,
                "finish_reason": "tool_calls" if tool is not None else "stop",
            }
            if logprobs is not None:
                choice["logprobs"] = logprobs
            elif body.get("logprobs"):
                top = [{"token": "hello", "logprob": -0.25, "bytes": None}]
                entry = {"token": "hello", "logprob": -0.25, "bytes": None, "top_logprobs": top}
                choice["logprobs"] = {"content": [entry], "refusal": None}
            obj = "chat.completion"
        else:
            choice = {"index": index, "text": reply, "finish_reason": "stop", "logprobs": None}
            if body.get("logprobs") is not None:
                choice["logprobs"] = {
                    "tokens": ["hello"],
                    "token_logprobs": [-0.25],
                    "top_logprobs": [{"hello": -0.25}],
                    "text_offset": [0],
                }
            obj = "text_completion"
        choices.append(choice)
    return orjson.dumps(
        {"id": "fake-1", "object": obj, "created": 0, "model": model, "choices": choices, "usage": _USAGE}
    )


def _logprobs(body: dict[str, Any], b: Behaviour, text: str) -> dict[str, Any] | None:
    """OpenAI's ``logprobs`` object for ``text`` (one token a word) when asked for and configured."""
    if b.logprob is None or b.ignore_logprobs or not body.get("logprobs"):
        return None
    return {"content": [{"token": w, "logprob": b.logprob, "top_logprobs": []} for w in text.split()]}


def _first_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function a tool-using request gets called: the one ``tool_choice`` names, else the first."""
    tools = body.get("tools")
    if not isinstance(tools, list) or not tools or body.get("tool_choice") == "none":
        return None
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        wanted = choice["function"].get("name")
        named: dict[str, Any] = next(
            (t for t in tools if t.get("function", {}).get("name") == wanted), tools[0]
        )
        return named
    tool = tools[0]
    return tool if isinstance(tool, dict) else None


def _tool_call(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or {}
    return {
        "id": "call_fake_1",
        "type": "function",
        "function": {"name": function.get("name", "?"), "arguments": "{}"},
    }


def _wants_json(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format")
    return isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema")


def _embeddings(body: dict[str, Any], name: str) -> bytes:
    """One fixed 3-dimensional vector per input (enough to tell that the request came through)."""
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    data = [
        {"object": "embedding", "index": i, "embedding": [0.5, 0.25, float(i)]} for i in range(len(items))
    ]
    usage = {"prompt_tokens": len(items), "total_tokens": len(items)}
    return orjson.dumps({"object": "list", "data": data, "model": body.get("model", name), "usage": usage})


def sse_event(event: dict[str, Any]) -> bytes:
    """One server-sent event carrying ``event`` as JSON (also used by bench/_openai_shaped.py)."""
    return b"data: " + orjson.dumps(event) + b"\n\n"


def _error(status: int, message: str) -> bytes:
    return orjson.dumps(
        {"error": {"message": message, "type": "server_error", "param": None, "code": status}}
    )


async def send_json(send: Send, status: int, payload: bytes) -> None:
    """A whole JSON response with its length (also used by bench/_openai_shaped.py)."""
    headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def lifespan(receive: Receive, send: Send) -> None:
    """ASGI lifespan: acknowledge start-up and shut-down (also used by bench/_openai_shaped.py)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
