"""``POST /v1/responses``: OpenAI's Responses API for text in and text out, streaming included.

A Responses request is translated into the chat request it means (``instructions`` → a system message,
``input`` → messages, ``max_output_tokens`` → ``max_completion_tokens``, ``text.format`` →
``response_format``) and served by the chat route itself, so it is routed exactly like chat (``auto``
resolves the last user message; a name routes directly), with the same engines, fallback, limits,
cache and ``x-semdns-*`` headers. The chat answer is translated back: a ``response`` object, or the
Responses stream events (``response.created`` … ``response.output_text.delta`` …
``response.completed`` with usage).

What has no chat equivalent here is refused with a 400 naming it: tools, ``previous_response_id``
and ``conversation`` (semdns stores no responses), ``background``, ``reasoning``, ``include``,
``prompt`` templates, ``store: true``, ``truncation: "auto"``, and input items other than messages
with text.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from semdns.errors import InvalidRequest, SemdnsError
from semdns.gateway.body import read_body
from semdns.gateway.params import CHAT
from semdns.gateway.parse import json_object
from semdns.gateway.settings import GatewaySettings
from semdns.gateway.wire import JSON, error_response

ChatHandler = Callable[[Request], Awaitable[Response]]

# Copied onto the chat request unchanged (the chat route validates them).
_SAME = ("model", "temperature", "top_p", "user", "metadata", "parallel_tool_calls", "service_tier")
_SAME_ACCEPTED = ("safety_identifier", "prompt_cache_key", "prompt_cache_retention")
_REFUSED = {
    "tools": "tools are not supported on /v1/responses yet; use /v1/chat/completions",
    "tool_choice": "tools are not supported on /v1/responses yet; use /v1/chat/completions",
    "previous_response_id": "semdns stores no responses; send the whole conversation as 'input'",
    "conversation": "semdns stores no conversations; send the whole conversation as 'input'",
    "background": "background responses are not supported",
    "reasoning": "no engine here is a reasoning model",
    "include": "no extra output items are produced",
    "prompt": "prompt templates are not supported; send 'instructions' and 'input'",
    "top_logprobs": "logprobs are served on /v1/chat/completions",
    "max_tool_calls": "tools are not supported on /v1/responses yet",
    "context_management": "context management is not supported",
    "stream_options": "the stream always ends with usage (response.completed)",
}
_ROLES = frozenset({"user", "assistant", "system", "developer"})


class ResponsesRoute:
    """``POST /v1/responses`` over the chat handler ``chat``."""

    def __init__(self, chat: ChatHandler, settings: GatewaySettings) -> None:
        self.chat = chat
        self.settings = settings

    async def responses(self, request: Request) -> Response:
        try:
            raw = await read_body(request, self.settings.max_body_bytes, self.settings.body_timeout_s)
            body = json_object(raw)
            chat_body = to_chat(body)
        except SemdnsError as exc:
            return error_response(exc)
        answer = await self.chat(_chat_request(request, orjson.dumps(chat_body)))
        if answer.status_code != 200:
            return answer  # an OpenAI error body, the same shape on both APIs
        headers = {k: v for k, v in answer.headers.items() if k.startswith("x-semdns-")}
        if isinstance(answer, StreamingResponse):
            events = _stream(answer.body_iterator, body)
            return StreamingResponse(
                events,
                headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
                media_type="text/event-stream",
            )
        completion = orjson.loads(answer.body)
        return Response(orjson.dumps(from_chat(completion, body)), headers=headers, media_type=JSON)


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """The chat request a Responses request means (InvalidRequest naming what has no equivalent)."""
    for key, why in _REFUSED.items():
        if body.get(key) not in (None, [], {}):
            raise InvalidRequest(f"'{key}' is not supported on /v1/responses: {why}", param=key)
    if body.get("store") is True:
        raise InvalidRequest("'store': semdns stores no responses (send store: false)", param="store")
    if body.get("truncation") not in (None, "disabled"):
        raise InvalidRequest("'truncation' must be 'disabled': the input is never cut", param="truncation")
    known = {*_SAME, *_SAME_ACCEPTED, *_REFUSED, "input", "instructions", "max_output_tokens", "text"}
    known |= {"stream", "store", "truncation"}
    for key in body:
        if key not in known:
            raise InvalidRequest(f"'{key}' is not supported on /v1/responses", param=key)
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise InvalidRequest("'instructions' must be a string", param="instructions")
        messages.append({"role": "system", "content": instructions})
    messages.extend(_messages(body.get("input")))
    chat: dict[str, Any] = {"messages": messages}
    for key in (*_SAME, *_SAME_ACCEPTED):
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("max_output_tokens") is not None:
        # Checked by the chat field's rule, but named as the client sent it.
        CHAT["max_completion_tokens"]("max_output_tokens", body["max_output_tokens"])
        chat["max_completion_tokens"] = body["max_output_tokens"]
    text = body.get("text")
    if text is not None:
        if not isinstance(text, dict):
            raise InvalidRequest("'text' must be an object", param="text")
        if text.get("verbosity") is not None:
            chat["verbosity"] = text["verbosity"]
        chat_format = _format(text.get("format"))
        if chat_format is not None:
            chat["response_format"] = chat_format
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be true or false", param="stream")
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        if not value.strip():
            raise InvalidRequest("'input' is empty", param="input")
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise InvalidRequest("'input' is required: a string or a non-empty list of messages", param="input")
    messages = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict) or item.get("type", "message") != "message":
            kind = item.get("type") if isinstance(item, dict) else type(item).__name__
            raise InvalidRequest(f"{where} is {kind!r}: only messages are supported", param=where)
        role = item.get("role")
        if role not in _ROLES:
            raise InvalidRequest(f"{where}.role must be one of {', '.join(sorted(_ROLES))}", param=where)
        content = item.get("content")
        if isinstance(content, list):
            parts = []
            for j, part in enumerate(content):
                if not isinstance(part, dict) or part.get("type") not in ("input_text", "output_text"):
                    kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                    raise InvalidRequest(
                        f"{where}.content[{j}] is {kind!r}: only text is supported",
                        param=f"{where}.content[{j}]",
                    )
                parts.append(str(part.get("text", "")))
            content = "".join(parts)
        if not isinstance(content, str):
            raise InvalidRequest(f"{where}.content must be a string or a list of text parts", param=where)
        messages.append({"role": role, "content": content})
    return messages


def _format(value: Any) -> dict[str, Any] | None:
    """``text.format`` as chat's ``response_format``."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ("text", "json_object", "json_schema"):
        raise InvalidRequest(
            "'text.format.type' must be text, json_object or json_schema", param="text.format"
        )
    if value["type"] != "json_schema":
        return {"type": value["type"]}
    spec = {k: value[k] for k in ("name", "schema", "strict", "description") if k in value}
    return {"type": "json_schema", "json_schema": spec}


def _chat_request(request: Request, body: bytes) -> Request:
    """The same request, as a chat request carrying ``body`` (headers kept: auth, session, cache)."""
    scope: MutableMapping[str, Any] = dict(request.scope)
    scope["path"] = "/v1/chat/completions"
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"content-length"]
    scope["headers"] = [*headers, (b"content-length", str(len(body)).encode())]
    sent = False

    async def receive() -> MutableMapping[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def _usage(usage: Any) -> dict[str, Any] | None:
    if not isinstance(usage, dict):
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _response(
    ident: str, model: str, body: dict[str, Any], status: str, output: list[Any], usage: Any, created: int
) -> dict[str, Any]:
    text = body.get("text") if isinstance(body.get("text"), dict) else None
    return {
        "id": ident,
        "object": "response",
        "created_at": created,
        "status": status,
        "model": model,
        "output": output,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "tool_choice": "auto",
        "tools": [],
        "text": text or {"format": {"type": "text"}},
        "truncation": "disabled",
        "store": False,
        "error": None,
        "incomplete_details": None,
        "usage": _usage(usage),
    }


def _message(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}]
        if status == "completed"
        else [],
    }


def from_chat(completion: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """A chat completion as a Responses ``response`` (its first choice; ``semdns`` kept)."""
    choices = completion.get("choices") or [{}]
    message = choices[0].get("message") or {}
    text = message.get("content") or ""
    finish = choices[0].get("finish_reason")
    ident = f"resp_{uuid.uuid4().hex}"
    output = [_message(f"msg_{uuid.uuid4().hex}", text)]
    status = "incomplete" if finish == "length" else "completed"
    created = int(completion.get("created") or time.time())
    result = _response(
        ident, str(completion.get("model", "")), body, status, output, completion.get("usage"), created
    )
    if status == "incomplete":
        result["incomplete_details"] = {"reason": "max_output_tokens"}
    if "semdns" in completion:
        result["semdns"] = completion["semdns"]
    return result


async def _stream(chunks: AsyncIterable[Any], body: dict[str, Any]) -> AsyncIterator[bytes]:
    """Chat stream events in, Responses stream events out."""
    ident = f"resp_{uuid.uuid4().hex}"
    item_id = f"msg_{uuid.uuid4().hex}"
    created = int(time.time())
    sequence = 0
    text: list[str] = []
    usage: Any = None
    finish: str | None = None
    model = str(body.get("model") or "auto")
    started = False

    def event(kind: str, **fields: Any) -> bytes:
        nonlocal sequence
        payload = {"type": kind, "sequence_number": sequence, **fields}
        sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def opening() -> list[bytes]:
        shell = _response(ident, model, body, "in_progress", [], None, created)
        part = {"type": "output_text", "text": "", "annotations": []}
        return [
            event("response.created", response=shell),
            event("response.in_progress", response=shell),
            event("response.output_item.added", output_index=0, item=_message(item_id, "", "in_progress")),
            event("response.content_part.added", item_id=item_id, output_index=0, content_index=0, part=part),
        ]

    pending = b""
    async for raw in chunks:
        pending += raw if isinstance(raw, bytes) else str(raw).encode()
        while b"\n\n" in pending:
            line, pending = pending.split(b"\n\n", 1)
            if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                continue
            chunk = orjson.loads(line[6:])
            if "error" in chunk:
                error = chunk["error"] if isinstance(chunk["error"], dict) else {}
                yield event(
                    "error",
                    code=error.get("code"),
                    message=error.get("message", ""),
                    param=error.get("param"),
                )
                return
            model = str(chunk.get("model") or model)
            if not started:
                started = True
                for opened in opening():
                    yield opened
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or ():
                if choice.get("index", 0) != 0:
                    continue
                delta = (choice.get("delta") or {}).get("content")
                if delta:
                    text.append(delta)
                    yield event(
                        "response.output_text.delta",
                        item_id=item_id,
                        output_index=0,
                        content_index=0,
                        delta=delta,
                        logprobs=[],
                    )
                finish = choice.get("finish_reason") or finish
    if not started:
        for opened in opening():
            yield opened
    full = "".join(text)
    part = {"type": "output_text", "text": full, "annotations": []}
    yield event(
        "response.output_text.done", item_id=item_id, output_index=0, content_index=0, text=full, logprobs=[]
    )
    yield event("response.content_part.done", item_id=item_id, output_index=0, content_index=0, part=part)
    item = _message(item_id, full)
    yield event("response.output_item.done", output_index=0, item=item)
    status = "incomplete" if finish == "length" else "completed"
    final = _response(ident, model, body, status, [item], usage, created)
    if status == "incomplete":
        final["incomplete_details"] = {"reason": "max_output_tokens"}
    yield event("response.incomplete" if status == "incomplete" else "response.completed", response=final)
