"""What the local engine does with each OpenAI parameter: honour it through llama.cpp, accept it
(it asks nothing of the model: ``user``, ``metadata``…), or refuse it with a 400 naming it.

The gateway has already checked every parameter's shape (:mod:`semdns.gateway.params`); this module
decides, per request, whether llama.cpp can do what was asked, and turns the request into the
keyword arguments of ``Llama.create_chat_completion`` / ``create_completion`` plus a grammar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from semdns.engines.local_structured import (
    JSON_OBJECT_GBNF,
    SchemaError,
    ToolPlan,
    schema_grammar,
    tool_plan,
)
from semdns.engines.protocol import Endpoint
from semdns.errors import UnsupportedParameter

# Honoured: llama.cpp does what the parameter asks.
_HONOURED_BOTH = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "n",
        "max_tokens",
        "seed",
        "stop",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
    }
)
HONOURED: Mapping[Endpoint, frozenset[str]] = {
    "chat": _HONOURED_BOTH
    | {
        "messages",
        "max_completion_tokens",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
    },
    "completion": _HONOURED_BOTH | {"prompt", "echo", "best_of"},
}
# Accepted: they ask nothing of the model (affinity keys, labels, cache hints).
ACCEPTED = frozenset(
    {
        "user",
        "metadata",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "store",  # false only, see refusal()
        "service_tier",  # auto/default only
        "modalities",  # ["text"] only
    }
)
# llama.cpp sampling knobs that vLLM and llama.cpp's server also take as extensions.
EXTENSIONS = frozenset({"top_k", "min_p", "repeat_penalty", "typical_p"})
_SAMPLING = ("temperature", "top_p", "stop", "frequency_penalty", "presence_penalty", *EXTENSIONS)
_REASONS = {
    "audio": "it has no audio output",
    "prediction": "it has no predicted outputs",
    "web_search_options": "it cannot search the web",
    "reasoning_effort": "it is not a reasoning model",
    "verbosity": "it has no verbosity control",
    "functions": "use 'tools' (the legacy function-calling form is not implemented)",
    "function_call": "use 'tool_choice' (the legacy function-calling form is not implemented)",
    "suffix": "llama.cpp has no insertion mode for this model",
    "moderation": "it has no moderation model",
}


def refusal(endpoint: Endpoint, body: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(parameter, why)`` for the first parameter the local engine cannot honour, else None."""
    honoured = HONOURED[endpoint]
    for key, value in body.items():
        if value is None or key in honoured or key in EXTENSIONS:
            continue
        if key in ACCEPTED:
            why = _accepted_refusal(key, value)
            if why is not None:
                return key, why
            continue
        return key, _REASONS.get(key, "the local engine does not know this parameter")
    if endpoint == "chat":
        return _chat_refusal(body)
    if body.get("echo") and body.get("logprobs") is not None:
        return "echo", "it computes logprobs of generated tokens only, not of an echoed prompt"
    best_of, n = body.get("best_of"), body.get("n") or 1
    if best_of is not None and best_of != n:
        return "best_of", "it generates exactly 'n' completions (best_of must equal n)"
    return None


def _accepted_refusal(key: str, value: Any) -> str | None:
    if key == "store" and value is True:
        return "semdns stores no completions (send store: false)"
    if key == "service_tier" and value not in ("auto", "default"):
        return f"it has one service tier (got {value!r})"
    if key == "modalities" and value != ["text"]:
        return "it answers in text only"
    return None


def _chat_refusal(body: Mapping[str, Any]) -> tuple[str, str] | None:
    for i, message in enumerate(body.get("messages") or ()):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and part.get("type") not in ("text", None):
                    return f"messages[{i}].content[{j}]", f"it reads text only, not {part.get('type')!r}"
    for i, tool in enumerate(body.get("tools") or ()):
        if isinstance(tool, dict) and tool.get("type") != "function":
            return f"tools[{i}]", f"it calls functions only, not {tool.get('type')!r} tools"
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") != "function":
        return "tool_choice", f"it calls functions only, not {choice.get('type')!r}"
    return None


def refuse(endpoint: Endpoint, body: Mapping[str, Any], name: str, label: str) -> UnsupportedParameter | None:
    """The 400 for a request the local engine cannot honour (naming parameter, name and engine)."""
    found = refusal(endpoint, body)
    if found is None:
        return None
    param, why = found
    return UnsupportedParameter(
        f"'{param}' is not supported by the local engine {label} serving {name}: {why}", param=param
    )


@dataclass(slots=True)
class LocalJob:
    """One request, translated: llama.cpp's keyword arguments and what the engine does around them."""

    endpoint: Endpoint
    kwargs: dict[str, Any]
    n: int = 1
    seed: int | None = None
    grammar: str | None = None
    logprobs: bool = False
    tools: ToolPlan | None = None
    include_usage: bool = False
    echo: str = ""
    """The prompt, for ``echo`` (prepended by the engine: llama.cpp's stream mode drops it)."""
    top_logprobs: int = 0
    """Chat alternatives the client asked for: the engine records this many at each position by token
    id (:mod:`semdns.engines.local_logprobs`), in place of llama.cpp's, which collapse alike texts."""


def build_job(
    endpoint: Endpoint, body: Mapping[str, Any], max_tokens: int, name: str, label: str
) -> LocalJob:
    """The job for a request :func:`refuse` accepted. A JSON schema (of ``response_format`` or of a
    tool's parameters) llama.cpp cannot turn into a grammar is an :class:`UnsupportedParameter`."""
    requested = body.get("max_completion_tokens") or body.get("max_tokens") or max_tokens
    kwargs: dict[str, Any] = {"max_tokens": min(int(requested), max_tokens)}
    for key in _SAMPLING:
        if body.get(key) is not None:
            kwargs[key] = body[key]
    if body.get("logit_bias"):
        kwargs["logit_bias"] = {int(k): float(v) for k, v in body["logit_bias"].items()}
    options = body.get("stream_options")
    job = LocalJob(
        endpoint,
        kwargs,
        n=body.get("n") or 1,
        seed=body.get("seed"),
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
    )
    if endpoint == "completion":
        if body.get("echo"):
            prompt = body["prompt"]
            job.echo = prompt if isinstance(prompt, str) else "".join(prompt)
        if body.get("logprobs") is not None:
            kwargs["logprobs"] = body["logprobs"]
            job.logprobs = True
        return job
    if body.get("logprobs"):
        kwargs["logprobs"] = True
        job.top_logprobs = int(body.get("top_logprobs") or 0)
        kwargs["top_logprobs"] = job.top_logprobs
        job.logprobs = True
    where = "response_format"
    try:
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_object":
            job.grammar = JSON_OBJECT_GBNF
        elif response_format.get("type") == "json_schema":
            where = "response_format.json_schema.schema"
            schema = response_format["json_schema"].get("schema") or {"type": "object"}
            job.grammar = schema_grammar(schema)
        if body.get("tools"):
            where = "tools"
            job.tools = tool_plan(body["tools"], body.get("tool_choice"))
            if job.tools is not None:
                if job.grammar is not None:
                    raise UnsupportedParameter(
                        f"'response_format' with 'tools' is not supported by the local engine {label} "
                        f"serving {name}: a tool call's shape is already a grammar",
                        param="response_format",
                    )
                job.grammar = job.tools.grammar
    except SchemaError as exc:
        raise UnsupportedParameter(
            f"'{where}' holds a JSON Schema the local engine {label} serving {name} cannot turn into a "
            f"grammar: {exc}",
            param=where,
        ) from None
    return job
