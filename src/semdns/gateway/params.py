"""Every parameter of OpenAI's chat and completions requests, checked for shape before routing.

A malformed parameter is a 400 naming it for every engine kind: nothing reaches an engine that the
engine would have to guess about. Which engine *honours* what is decided later, per engine
(``Engine.unsupported``: the local engine refuses what llama.cpp cannot do; pass-through engines
forward everything untouched), so that a parameter is either honoured or refused by name, never
dropped. The table in ``docs/gateway.md`` lists the same parameters.

Parameters this module does not know (vendor extensions such as vLLM's ``top_k`` or
``guided_json``) are not judged here: a pass-through engine forwards them, the local engine honours
the few llama.cpp has and refuses the rest by name.

This module also says which requests a cross-domain fan-out cannot aggregate (:func:`single_name_only`)
and writes the usage event a stream ends with when the client asked for it (:func:`usage_event`).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import Any

import orjson

from semdns.engines.protocol import Endpoint
from semdns.errors import InvalidRequest

Check = Callable[[str, Any], None]


def kind_of(value: Any) -> str:
    """How an error message names a JSON value's type ("an object", "a list", "null"...)."""
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _number(low: float, high: float) -> Check:
    def check(key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidRequest(f"'{key}' must be a number, not {kind_of(value)}", param=key)
        if not low <= value <= high:
            raise InvalidRequest(f"'{key}' must be between {low:g} and {high:g}, got {value}", param=key)

    return check


def _integer(low: int, high: int | None = None) -> Check:
    def check(key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"'{key}' must be an integer, not {kind_of(value)}", param=key)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise InvalidRequest(f"'{key}' must be {bound}, got {value}", param=key)

    return check


def _seed(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"'{key}' must be an integer, not {kind_of(value)}", param=key)


def _boolean(key: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{key}' must be true or false, not {kind_of(value)}", param=key)


def _string(key: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(f"'{key}' must be a string, not {kind_of(value)}", param=key)


def _object(key: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{key}' must be an object, not {kind_of(value)}", param=key)


def _stop(key: str, value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise InvalidRequest("'stop' must be a string or a list of strings", param=key)


def _logit_bias(key: str, value: Any) -> None:
    _object(key, value)
    for token, bias in value.items():
        if not token.lstrip("-").isdigit():
            raise InvalidRequest(f"'logit_bias' keys must be token ids, got {token!r}", param=key)
        if isinstance(bias, bool) or not isinstance(bias, (int, float)) or not -100 <= bias <= 100:
            raise InvalidRequest(
                f"'logit_bias[{token}]' must be a number between -100 and 100, got {bias!r}", param=key
            )


def _metadata(key: str, value: Any) -> None:
    _object(key, value)
    if len(value) > 16:
        raise InvalidRequest(f"'metadata' holds at most 16 pairs, got {len(value)}", param=key)
    for k, v in value.items():
        if not isinstance(v, str) or len(k) > 64 or len(v) > 512:
            raise InvalidRequest(
                "'metadata' maps keys of at most 64 characters to strings of at most 512", param=key
            )


def _stream_options(key: str, value: Any) -> None:
    _object(key, value)
    for option in ("include_usage", "include_obfuscation"):
        if option in value and not isinstance(value[option], bool):
            raise InvalidRequest(
                f"'stream_options.{option}' must be true or false", param=f"stream_options.{option}"
            )


def _response_format(key: str, value: Any) -> None:
    _object(key, value)
    kind = value.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidRequest(
            f"'response_format.type' must be text, json_object or json_schema, got {kind!r}",
            param="response_format.type",
        )
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise InvalidRequest(
                "'response_format.json_schema' must be an object with a 'name' (and a 'schema')",
                param="response_format.json_schema",
            )
        schema = spec.get("schema")
        if schema is not None and not isinstance(schema, dict):
            raise InvalidRequest(
                "'response_format.json_schema.schema' must be a JSON Schema object",
                param="response_format.json_schema.schema",
            )


def _tools(key: str, value: Any) -> None:
    if not isinstance(value, list):
        raise InvalidRequest(f"'tools' must be a list, not {kind_of(value)}", param=key)
    for i, tool in enumerate(value):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise InvalidRequest(f"{where} must be an object with a 'type'", param=where)
        if tool["type"] != "function":
            continue  # custom tools: the engine says whether it can use them
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(f"{where}.function must be an object with a 'name'", param=where)
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise InvalidRequest(
                f"{where}.function.parameters must be a JSON Schema object",
                param=f"{where}.function.parameters",
            )


def _tool_choice(key: str, value: Any) -> None:
    if isinstance(value, str):
        if value not in ("none", "auto", "required"):
            raise InvalidRequest(
                f"'tool_choice' must be none, auto, required or a function, got {value!r}", param=key
            )
        return
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise InvalidRequest("'tool_choice' must be a string or an object with a 'type'", param=key)
    if value["type"] == "function":
        function = value.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest("'tool_choice.function' must be an object with a 'name'", param=key)


def _functions(key: str, value: Any) -> None:
    if not isinstance(value, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) for f in value
    ):
        raise InvalidRequest("'functions' must be a list of objects with a 'name'", param=key)


def _function_call(key: str, value: Any) -> None:
    if not (value in ("none", "auto") or (isinstance(value, dict) and isinstance(value.get("name"), str))):
        raise InvalidRequest("'function_call' must be none, auto or {'name': ...}", param=key)


def _modalities(key: str, value: Any) -> None:
    if not isinstance(value, list) or not all(m in ("text", "audio") for m in value):
        raise InvalidRequest("'modalities' must be a list of 'text' and 'audio'", param=key)


def _anything(key: str, value: Any) -> None:
    """A parameter whose shape only the engine that uses it can judge (audio, prediction…)."""


_SHARED: dict[str, Check] = {
    "model": _string,
    "stream": _boolean,
    "stream_options": _stream_options,
    "temperature": _number(0.0, 2.0),
    "top_p": _number(0.0, 1.0),
    "n": _integer(1, 128),
    "max_tokens": _integer(1),
    "seed": _seed,
    "stop": _stop,
    "frequency_penalty": _number(-2.0, 2.0),
    "presence_penalty": _number(-2.0, 2.0),
    "logit_bias": _logit_bias,
    "user": _string,
}

CHAT: Mapping[str, Check] = {
    **_SHARED,
    "messages": _anything,  # parse.py checks them in detail (it reads the query from them)
    "max_completion_tokens": _integer(1),
    "logprobs": _boolean,
    "top_logprobs": _integer(0, 20),
    "response_format": _response_format,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "parallel_tool_calls": _boolean,
    "functions": _functions,
    "function_call": _function_call,
    "metadata": _metadata,
    "store": _boolean,
    # Enumerations that grow with OpenAI's models are checked for type only: a pass-through backend
    # judges the value (the local engine refuses these anyway, see engines/local_params.py).
    "service_tier": _string,
    "reasoning_effort": _string,
    "verbosity": _string,
    "modalities": _modalities,
    "audio": _object,
    "prediction": _object,
    "web_search_options": _object,
    "moderation": _anything,
    "prompt_cache_key": _string,
    "prompt_cache_retention": _anything,
    "prompt_cache_options": _anything,
    "safety_identifier": _string,
}
"""The chat parameters of OpenAI's API (``openai`` 3.57's ``CompletionCreateParams``)."""

COMPLETION: Mapping[str, Check] = {
    **_SHARED,
    "prompt": _anything,  # parse.py: a string, or a list holding one string
    "best_of": _integer(1, 20),
    "echo": _boolean,
    "logprobs": _integer(0, 5),
    "suffix": _string,
}
"""The legacy completions parameters."""


def validate(body: Mapping[str, Any], endpoint: Endpoint) -> None:
    """Raise :class:`InvalidRequest` (400, naming the parameter) for the first malformed parameter,
    and for combinations OpenAI refuses (``top_logprobs`` without ``logprobs``, ``stream_options``
    without ``stream``, ``tool_choice`` without ``tools``)."""
    known = CHAT if endpoint == "chat" else COMPLETION
    for key, value in body.items():
        check = known.get(key)
        if check is not None and value is not None:
            check(key, value)
    if endpoint == "chat":
        if body.get("top_logprobs") is not None and not body.get("logprobs"):
            raise InvalidRequest("'top_logprobs' needs 'logprobs': true", param="top_logprobs")
        choice = body.get("tool_choice")
        if choice is not None and choice != "none" and not body.get("tools"):
            raise InvalidRequest("'tool_choice' needs 'tools'", param="tool_choice")
        if isinstance(choice, dict) and choice.get("type") == "function":
            wanted = choice["function"]["name"]
            names = [
                t["function"]["name"]
                for t in body.get("tools") or ()
                if t.get("type") == "function" and isinstance(t.get("function"), dict)
            ]
            if wanted not in names:
                raise InvalidRequest(
                    f"'tool_choice' names the function {wanted!r}, which 'tools' does not define",
                    param="tool_choice",
                )
    else:
        best_of, n = body.get("best_of"), body.get("n")
        if best_of is not None and best_of < (n or 1):
            raise InvalidRequest("'best_of' must be at least 'n'", param="best_of")
    if body.get("stream_options") is not None and not body.get("stream"):
        raise InvalidRequest("'stream_options' is only allowed with 'stream': true", param="stream_options")


def single_name_only(body: Mapping[str, Any], endpoint: Endpoint) -> str | None:
    """Why a cross-domain decision must be served by its most confident name alone (None when the
    answers can be aggregated). Aggregation writes one text from several specialists' texts: tool
    calls, JSON output, several choices, logprobs and echo have no such merge, so they are answered
    by one name, whole, rather than merged wrong."""
    if body.get("tools") and body.get("tool_choice") != "none":
        return "tools"
    if body.get("functions"):
        return "functions"
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") not in (None, "text"):
        return "response_format"
    if (body.get("n") or 1) > 1:
        return "n"
    if body.get("logprobs"):
        return "logprobs"
    if endpoint == "completion" and (body.get("echo") or (body.get("best_of") or 1) > 1):
        return "echo" if body.get("echo") else "best_of"
    return None


def wants_usage(body: Mapping[str, Any]) -> bool:
    """``stream_options.include_usage``: the client wants a last event that carries ``usage``."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def usage_event(response: Mapping[str, Any], endpoint: Endpoint) -> bytes:
    """The stream's usage event (OpenAI's shape: empty ``choices``, the request's ``usage``)."""
    event = {
        **{k: response[k] for k in ("id", "created", "model") if k in response},
        "object": "chat.completion.chunk" if endpoint == "chat" else "text_completion",
        "choices": [],
        "usage": response.get("usage"),
    }
    return b"data: " + orjson.dumps(event) + b"\n\n"


async def fit_usage(
    events: AsyncIterable[Any], answer: Mapping[str, Any], want: bool, endpoint: Endpoint
) -> AsyncIterator[bytes]:
    """A replayed stream (from the response cache) with usage as *this* client asked: the stored
    stream may have been asked for by a client that wanted usage, or not, or stored as JSON. Usage is
    taken off every event, and a usage event (that of the cached ``answer``) is put before ``[DONE]``
    when ``include_usage`` was asked."""
    async for raw in events:
        event = raw if isinstance(raw, bytes) else str(raw).encode()
        if event.startswith(b"data: [DONE]"):
            if want and answer.get("usage"):
                yield usage_event(answer, endpoint)
        elif b'"usage"' in event and event.startswith(b"data: {"):
            value = orjson.loads(event[6:])
            value.pop("usage", None)
            if not value.get("choices") and "semdns" not in value:
                continue
            event = b"data: " + orjson.dumps(value) + b"\n\n"
        yield event
