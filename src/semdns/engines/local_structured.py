"""Structured output for the local engine: JSON mode, JSON schema and tool calls, all through
llama.cpp's grammar-constrained decoding (GBNF), so the model *cannot* emit text outside the shape.

Tool calls are done here rather than with llama-cpp-python's ``chatml-function-calling`` handler:
that handler ignores ``max_tokens`` and ``seed`` on its ``auto`` path, has no ``required`` choice,
and needs its own chat format; this module keeps the model's own chat template and states the tools
in the system message, then constrains the answer:

* ``tool_choice`` naming a function, or ``required``: the answer *must* be
  ``{"name": <a tool>, "arguments": <that tool's parameters schema>}``;
* ``auto`` (the default with tools): the answer is that object *or* plain text that does not start
  with ``{``: the model chooses at its first token, and the text is parsed accordingly;
* ``none``: the tools are not offered.

One call per choice (``parallel_tool_calls`` cannot make a 135M model plan several).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

# llama.cpp's JSON grammar with single-space whitespace: the stock one allows newlines and 20
# spaces of indentation after every token, which a small model spends its budget on.
JSON_OBJECT_GBNF = r"""
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array  ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\""
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})?
ws     ::= " "?
"""

# Plain text for the ``auto`` tool choice: anything that does not open a JSON object.
_TEXT_GBNF = r"""
text ::= [^{\x00-\x20] [^\x00]*
"""


class SchemaError(ValueError):
    """A JSON Schema llama.cpp's grammar converter cannot turn into a grammar."""


def schema_grammar(schema: dict[str, Any]) -> str:
    """The GBNF for a JSON Schema (llama-cpp-python's converter, imported only when needed)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return str(json_schema_to_gbnf(orjson.dumps(schema).decode()))
    except Exception as exc:  # the converter raises bare Exceptions and KeyErrors on what it lacks
        raise SchemaError(str(exc) or type(exc).__name__) from None


@dataclass(frozen=True, slots=True)
class ToolPlan:
    """How one request uses its tools: the grammar, the system text that states them, and whether
    plain text is allowed instead of a call."""

    grammar: str
    instructions: str
    optional: bool


def tool_plan(tools: list[dict[str, Any]], choice: Any) -> ToolPlan | None:
    """The plan for ``tools`` under ``tool_choice`` (None: no tool use, as for ``none``)."""
    functions = [t["function"] for t in tools if t.get("type") == "function"]
    if not functions or choice == "none":
        return None
    if isinstance(choice, dict):
        wanted = choice["function"]["name"]
        functions = [f for f in functions if f["name"] == wanted]
    calls = [_call_schema(f) for f in functions]
    schema = calls[0] if len(calls) == 1 else {"anyOf": calls}
    grammar = schema_grammar(schema)
    optional = choice in (None, "auto")
    if optional:
        grammar = re.sub(r"^root ::=", "call ::=", grammar, count=1, flags=re.MULTILINE)
        grammar = "root ::= call | text\n" + grammar + _TEXT_GBNF
    listing = "\n".join(_describe(f) for f in functions)
    how = 'To call a function, answer with only a JSON object: {"name": <function>, "arguments": {...}}.'
    if optional:
        how += " If no function helps, answer in plain text."
    return ToolPlan(grammar, f"You can call these functions:\n{listing}\n{how}", optional)


def _call_schema(function: dict[str, Any]) -> dict[str, Any]:
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    return {
        "type": "object",
        "properties": {"name": {"const": function["name"]}, "arguments": parameters},
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def _describe(function: dict[str, Any]) -> str:
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    args = ", ".join(
        f"{k}: {v.get('type', 'any')}" if isinstance(v, dict) else k for k, v in properties.items()
    )
    description = function.get("description")
    return f"- {function['name']}({args})" + (f": {description}" if description else "")


def parse_call(text: str) -> dict[str, Any] | None:
    """The OpenAI tool call the model's text encodes, or None when it is not one (plain text, or a
    call cut off by ``max_tokens``)."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", {})
    return {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": value["name"], "arguments": orjson.dumps(arguments).decode()},
    }


def history_text(message: dict[str, Any]) -> str | None:
    """A tool-flow message as the text the model reads: an assistant's earlier calls in the JSON it
    is asked to write, a tool's result labelled with its call (None for any other message)."""
    calls = message.get("tool_calls")
    if message.get("role") == "assistant" and isinstance(calls, list) and calls:
        parts = []
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                try:
                    arguments = orjson.loads(function.get("arguments") or "{}")
                except orjson.JSONDecodeError:
                    arguments = function.get("arguments")
                parts.append(orjson.dumps({"name": function.get("name"), "arguments": arguments}).decode())
        return "\n".join(parts)
    if message.get("role") == "tool":
        return f"Result of call {message.get('tool_call_id', '?')}: {message.get('content') or ''}"
    return None
