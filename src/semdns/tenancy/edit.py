"""Edit a tenants file in place, keeping its comments and layout (what ``semdns tenant add`` does).

The file is parsed once with PyYAML's composer, which knows where every key and value starts and ends;
each change is then a splice of text at those places — a key hash added to a flow list (``[a, b]``) or
as one more ``- item`` line of a block list, a setting's value replaced, a missing setting or a new
tenant inserted as lines in the file's own indentation. Everything else, comments included, is left
byte for byte. A layout this does not handle (a tenant written as a flow mapping ``{...}``) raises
:class:`Unsupported`, and the caller falls back to rewriting the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")


class Unsupported(Exception):
    """The file's layout is one this editor does not splice into."""


def render(value: Any) -> str:
    """A value as YAML flow text, as a person writes it: ``[legal., code.]``, ``[sha256:…]``, ``true``."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, str) and _PLAIN.fullmatch(value) and yaml.safe_load(f"[{value}]") == [value]:
        return value  # plain is unambiguous here (PyYAML would quote "sha256:…" needlessly)
    text = yaml.safe_dump({"v": value}, default_flow_style=True)
    return text.strip()[4:-1]


def _offset(lines: list[str], line: int, column: int) -> int:
    return sum(len(x) for x in lines[:line]) + column


def _get(mapping: MappingNode, key: str) -> tuple[ScalarNode, Node] | None:
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            return k, v
    return None


def add_key(text: str, tenant: str, key_hash: str, settings: Mapping[str, Any]) -> str:
    """``text`` with ``key_hash`` added to ``tenant``'s keys (the tenant created with ``settings``
    when missing; the given settings replaced or added when it exists)."""
    if not text.endswith("\n"):
        text += "\n"
    root = yaml.compose(text)
    if not isinstance(root, MappingNode):
        raise Unsupported("the file is not a mapping")
    found = _get(root, "tenants")
    if found is None or not isinstance(found[1], MappingNode) or found[1].flow_style:
        raise Unsupported("tenants is not a block mapping")
    tenants_key, tenants = found[0], found[1]
    assert isinstance(tenants, MappingNode)
    entry = _get(tenants, tenant)
    if entry is None:
        return _add_tenant(text, tenants_key, tenants, tenant, {"keys": [key_hash], **settings})
    tenant_key, body = entry
    if not isinstance(body, MappingNode) or body.flow_style or not body.value:
        raise Unsupported(f"tenant {tenant} is not a block mapping")
    # Splice from the end of the file backwards so that earlier offsets stay valid.
    edits: list[tuple[int, int, str]] = []
    lines = text.splitlines(keepends=True)
    field_indent = body.value[0][0].start_mark.column
    missing: dict[str, Any] = {}
    for name, value in {"keys": None, **settings}.items():
        if name == "keys":
            keys = _get(body, "keys")
            if keys is None:
                missing["keys"] = [key_hash]
            else:
                edits.append(_append_item(lines, keys[1], key_hash))
            continue
        current = _get(body, name)
        if current is None:
            missing[name] = value
        else:
            node = current[1]
            start = _offset(lines, node.start_mark.line, node.start_mark.column)
            end = _offset(lines, node.end_mark.line, node.end_mark.column)
            edits.append((start, end, render(value)))
    if missing:
        at = _offset(lines, tenant_key.start_mark.line + 1, 0)
        block = "".join(f"{' ' * field_indent}{k}: {render(v)}\n" for k, v in missing.items())
        edits.append((at, at, block))
    out = text
    for start, end, new in sorted(edits, key=lambda e: e[0], reverse=True):
        out = out[:start] + new + out[end:]
    return out


def _append_item(lines: list[str], keys: Node, item: str) -> tuple[int, int, str]:
    """The splice that adds ``item`` to the list ``keys`` (flow or block)."""
    if not isinstance(keys, SequenceNode):
        if isinstance(keys, ScalarNode) and keys.value in ("", "~", "null"):
            start = _offset(lines, keys.start_mark.line, keys.start_mark.column)
            end = _offset(lines, keys.end_mark.line, keys.end_mark.column)
            return start, end, f"[{item}]"
        raise Unsupported("keys is not a list")
    if keys.flow_style:
        close = _offset(lines, keys.end_mark.line, keys.end_mark.column) - 1  # the "]"
        return close, close, (", " if keys.value else "") + item
    last = keys.value[-1]
    line = lines[last.start_mark.line]
    prefix = line[: last.start_mark.column]  # e.g. "    - "
    at = _offset(lines, last.end_mark.line + 1, 0) if last.end_mark.line < len(lines) else len("".join(lines))
    newline = "" if line.endswith("\n") else "\n"
    return at, at, f"{newline}{prefix}{item}\n"


def _add_tenant(
    text: str, tenants_key: ScalarNode, tenants: MappingNode, tenant: str, settings: Mapping[str, Any]
) -> str:
    """``text`` with a new tenant block after the last tenant, in the file's indentation."""
    lines = text.splitlines(keepends=True)
    if tenants.value:
        first_key, first_body = tenants.value[0]
        indent = first_key.start_mark.column
        step = 2
        if isinstance(first_body, MappingNode) and first_body.value and not first_body.flow_style:
            step = first_body.value[0][0].start_mark.column - indent
        last_body = tenants.value[-1][1]
        end_line = last_body.end_mark.line if last_body.end_mark.column == 0 else last_body.end_mark.line + 1
    else:
        indent, step = tenants_key.start_mark.column + 2, 2
        end_line = tenants_key.start_mark.line + 1
    block = f"{' ' * indent}{tenant}:\n" + "".join(
        f"{' ' * (indent + step)}{k}: {render(v)}\n" for k, v in settings.items() if v is not None
    )
    head = "".join(lines[:end_line])
    if head and not head.endswith("\n"):
        head += "\n"
    return head + block + "".join(lines[end_line:])
