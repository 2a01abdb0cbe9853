"""Parsing and validating OpenAI-style request bodies: every mistake becomes a 400 that names the field.

Validation is hand-written rather than a pydantic model on purpose: it runs on every request and costs
a few microseconds. Every parameter of OpenAI's API is checked for shape (:mod:`.params`); whether an
engine honours it is the engine's to say (a refusal is a 400 naming it, never a silent drop), and
parameters the gateway does not know are passed through to engines that forward them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from semdns.engines.protocol import Endpoint
from semdns.errors import InvalidRequest
from semdns.gateway.params import kind_of as _kind
from semdns.gateway.params import validate

AUTO = "auto"
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


@dataclass(slots=True)
class ParsedRequest:
    """A validated request: the body to forward plus what routing needs from it."""

    endpoint: Endpoint
    body: dict[str, Any]
    model: str | None
    """The requested name, or ``None`` for ``auto`` (resolve the query)."""
    stream: bool
    query: str
    """The text the resolver classifies: the last user message, or the prompt."""
    context: tuple[str, ...]
    """Earlier turns, oldest first (context for the classifier stage)."""
    session: str | None
    """The session-affinity key: the ``user`` field, else the ``x-session-id`` header."""


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object, or :class:`InvalidRequest` saying what it is instead (every route
    that takes a JSON body starts here)."""
    if not raw.strip():
        raise InvalidRequest("the request body is empty; send a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"the request body must be a JSON object, not {_kind(body)}")
    return body


def parse_request(raw: bytes, endpoint: Endpoint, session_header: str | None = None) -> ParsedRequest:
    """Validate ``raw`` as a chat or completion request; raise :class:`InvalidRequest` otherwise."""
    body = json_object(raw)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequest(f"'model' must be a string, not {_kind(model)}", param="model")
    if isinstance(model, str):
        model = model.strip()
        if not model:
            raise InvalidRequest("'model' is empty; send 'auto', a semantic name or a DN", param="model")
        if model.lower() == AUTO:
            model = None
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise InvalidRequest(f"'stream' must be true or false, not {_kind(stream)}", param="stream")
    validate(body, endpoint)  # every OpenAI parameter's shape (semdns.gateway.params)
    user = body.get("user")
    if endpoint == "chat":
        query, context = _chat_query(body)
    else:
        query, context = _prompt_query(body), ()
    return ParsedRequest(endpoint, body, model, stream, query, context, user or session_header or None)


def _chat_query(body: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("'messages' is required: a non-empty list of messages", param="messages")
    if not isinstance(messages, list):
        raise InvalidRequest(f"'messages' must be a list, not {_kind(messages)}", param="messages")
    if not messages:
        raise InvalidRequest("'messages' is empty; send at least one message", param="messages")
    texts: list[str] = []
    last_user = -1
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{where} must be an object, not {_kind(message)}", param=where)
        role = message.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequest(
                f"{where}.role must be one of {', '.join(sorted(_ROLES))}, got {role!r}",
                param=f"{where}.role",
            )
        content = message.get("content")
        if content is None:
            if role == "assistant" and (message.get("tool_calls") or message.get("function_call")):
                texts.append("")
                continue
            raise InvalidRequest(f"{where}.content is missing", param=f"{where}.content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            parts = []
            for j, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise InvalidRequest(
                        f"{where}.content[{j}] must be an object with a 'type'", param=f"{where}.content"
                    )
                if part["type"] == "text":
                    if not isinstance(part.get("text"), str):
                        raise InvalidRequest(
                            f"{where}.content[{j}].text must be a string", param=f"{where}.content"
                        )
                    parts.append(part["text"])
            texts.append(" ".join(parts))
        else:
            raise InvalidRequest(
                f"{where}.content must be a string or a list of parts, not {_kind(content)}",
                param=f"{where}.content",
            )
        if role == "user":
            last_user = i
    index = last_user if last_user >= 0 else len(texts) - 1
    query = texts[index]
    if not query.strip():
        raise InvalidRequest(
            f"messages[{index}] has no text to answer; send a non-empty message", param=f"messages[{index}]"
        )
    context = tuple(t for t in texts[:index] if t)
    return query, context


def _prompt_query(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if prompt is None:
        raise InvalidRequest("'prompt' is required: a non-empty string", param="prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1 or not isinstance(prompt[0], str):
            raise InvalidRequest("'prompt' must be a string (or a list holding one string)", param="prompt")
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise InvalidRequest(f"'prompt' must be a string, not {_kind(prompt)}", param="prompt")
    if not prompt.strip():
        raise InvalidRequest("'prompt' is empty", param="prompt")
    return prompt
