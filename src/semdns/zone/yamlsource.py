"""YAML reading that remembers where every value came from.

pydantic reports an error at a path (``nodes.contracts.keywords.3``); users need a line number. This
module composes the YAML node graph, builds plain Python values from it, and keeps a map from each path
to the line it starts on. It also rejects duplicate mapping keys, which PyYAML silently overwrites: in
a zone file a duplicate key is a duplicate name, and losing one is never what the author meant.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlSourceError(ValueError):
    """The text is not valid YAML for a zone (syntax, duplicate key, non-scalar key)."""

    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass
class LocatedDocument:
    """A parsed YAML document and the 1-based line where each path starts."""

    value: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest located ancestor."""
        probe = tuple(path)
        while True:
            if probe in self.lines:
                return self.lines[probe]
            if not probe:
                return None
            probe = probe[:-1]


def load_located(text: str) -> LocatedDocument:
    """Parse one YAML document, recording the line of each mapping key and sequence item."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return LocatedDocument(None, {(): 1})
        doc = LocatedDocument(None)
        doc.value = _build(loader, node, (), doc.lines)
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise YamlSourceError(line, f"YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise YamlSourceError(None, f"YAML error: {exc}") from exc
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        first_seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable) or isinstance(key, (list, dict)):
                raise YamlSourceError(key_node.start_mark.line + 1, "mapping keys must be plain scalars")
            key_text = key if isinstance(key, (str, int)) else str(key)
            line = key_node.start_mark.line + 1
            if key_text in first_seen:
                raise YamlSourceError(
                    line,
                    f"duplicate key {key_text!r} (first defined on line {first_seen[key_text]}); "
                    "each key, and each name, may appear once",
                )
            first_seen[key_text] = line
            child_path = (*path, key_text)
            lines[child_path] = line
            result[key_text] = _build(loader, value_node, child_path, lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            child_path = (*path, index)
            lines[child_path] = item.start_mark.line + 1
            items.append(_build(loader, item, child_path, lines))
        return items
    return loader.construct_object(node, deep=True)
