"""A zero-latency backend whose bodies are shaped like a real OpenAI server's, for the gateway benchmarks.

``semdns.testing.FakeOpenAI`` answers with the fewest fields a client accepts (``id: fake-1``,
``created: 0``, a 3-field usage, 3 content events): right for tests, but a gateway benchmark on such
bodies under-counts what a real answer costs to read, splice and write. This one answers as the OpenAI
API does today: a ``chatcmpl-`` id per answer, ``created`` the current second, the message's
``refusal`` and ``annotations``, ``logprobs: null``, usage with its ``prompt_tokens_details`` and
``completion_tokens_details``, ``service_tier`` and ``system_fingerprint``; streamed, a role event
(``content: ""``), one event per token (``--tokens``, default 16) carrying every one of those fields,
a ``finish_reason`` event, the usage event when ``stream_options.include_usage`` asks, then
``[DONE]``. The answer starts with ``hello from <name>``, so the benchmarks can check it came through.

A bare ASGI app (no framework), so that at zero latency the backend costs as little as it can:

    python bench/_openai_shaped.py --port 8001 [--tokens 16] [--name fake]
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from semdns.testing.fake_openai import lifespan, send_json, sse_event

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_FINGERPRINT = "fp_b3f1157249"
_TEXT = (
    "hello from {name}. The gateway passed this answer through, token by token, the way a real "
    "server streams it, with every field a client expects in each event."
)
_WORDS = _TEXT.split()


class OpenAIShaped:
    """The backend: ``POST /v1/chat/completions`` (plain and streamed) and ``GET /v1/models``."""

    def __init__(self, name: str = "fake", tokens: int = 16) -> None:
        self.name = name
        self.tokens = max(1, tokens)
        words = [w.format(name=name) for w in itertools.islice(itertools.cycle(_WORDS), self.tokens)]
        self.pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        self.content = "".join(self.pieces)
        self._ids = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == "/v1/models":
            models = {"object": "list", "data": [{"id": self.name, "object": "model", "owned_by": "bench"}]}
            await send_json(send, 200, orjson.dumps(models))
            return
        if scope["method"] != "POST" or scope["path"] != "/v1/chat/completions":
            await send_json(
                send, 404, b'{"error":{"message":"no such route","type":"invalid_request_error"}}'
            )
            return
        raw = bytearray()
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = orjson.loads(raw)
        ident = f"chatcmpl-{next(self._ids):08d}Bx7Qm2LhZp4rTq9Wv"
        model = str(body.get("model") or self.name)
        if body.get("stream"):
            options = body.get("stream_options")
            usage = isinstance(options, dict) and bool(options.get("include_usage"))
            await self._stream(send, ident, model, usage)
            return
        answer = {
            "id": ident,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": self.content,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": self._usage(),
            "service_tier": "default",
            "system_fingerprint": _FINGERPRINT,
        }
        await send_json(send, 200, orjson.dumps(answer))

    def _usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": 14,
            "completion_tokens": self.tokens,
            "total_tokens": 14 + self.tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    async def _stream(self, send: Send, ident: str, model: str, usage: bool) -> None:
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        created = int(time.time())

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": _FINGERPRINT,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            return sse_event(chunk)

        more = {"type": "http.response.body", "more_body": True}
        await send({**more, "body": event({"role": "assistant", "content": "", "refusal": None})})
        for piece in self.pieces:
            await send({**more, "body": event({"content": piece})})
        tail = event({}, "stop")
        if usage:
            final = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": _FINGERPRINT,
                "choices": [],
                "usage": self._usage(),
            }
            tail += sse_event(final)
        await send({"type": "http.response.body", "body": tail + b"data: [DONE]\n\n", "more_body": False})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=16, help="content events per streamed answer")
    parser.add_argument("--name", default="fake")
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(
        OpenAIShaped(args.name, args.tokens),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
