"""The machine-readable schema of the protocol: JSON Schema (2020-12) generated from the messages.

``docs/protocol/schema.json`` is this function's output, committed; a test fails when the messages
change and the published file was not regenerated (``python -m semdns.protocol.schema > FILE``).
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import msgspec

from semdns.protocol.messages import MESSAGES, PROTOCOL_VERSION


def json_schema() -> dict[str, Any]:
    """One document: every top-level message under ``$defs``, and the version it describes."""
    _, components = msgspec.json.schema_components(list(MESSAGES.values()), ref_template="#/$defs/{name}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://semdns.invalid/protocol/{PROTOCOL_VERSION}/schema.json",
        "title": f"semdns wire protocol {PROTOCOL_VERSION}",
        "description": (
            "Messages of the semdns resolver protocol (SQP query, answer, signed envelope, CCP "
            "compressed context, RAP partial and aggregated results). MessagePack (application/"
            "vnd.semdns+msgpack) and JSON (application/json) carry the same fields; bytes are base64 in "
            "JSON. Unknown fields must be ignored by readers of the same major version."
        ),
        "version": PROTOCOL_VERSION,
        "messages": {name: {"$ref": f"#/$defs/{name}"} for name in MESSAGES},
        "$defs": _clean_descriptions(components),
    }


def _clean_descriptions(value: Any) -> Any:
    """Descriptions come from the messages' docstrings; how a msgspec release indents them (0.23
    dedents, earlier releases kept the source indentation) is not part of the protocol, so every
    description is rendered with :func:`inspect.cleandoc`, the same text whatever the release."""
    if isinstance(value, dict):
        return {
            key: inspect.cleandoc(item)
            if key == "description" and isinstance(item, str)
            else _clean_descriptions(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_clean_descriptions(item) for item in value]
    return value


def render() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
