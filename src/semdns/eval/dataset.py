"""Labelled routing sets in JSON Lines: loading, and validation against the namespace.

One line is one query and the name a human judge routes it to::

    {"query": "why does my list comprehension leak memory", "expected": "python.code.",
     "acceptable": ["code."]}

``acceptable`` (optional) lists other answers the judge also accepts as exactly right; ``"subtree":
true`` marks a label that only names a subject (``science.`` for a question that may be physics or
biology), so that any name under it is right and only its ancestors are abstentions; any other field
(``source_label``, ``id``…) is kept out of the way and ignored. A labelled set is only worth scoring
when every label is a name the resolver can answer, so names are checked against the zone tree before
anything is resolved: a typo in line 4,812 is reported at once, with its file and line, instead of
silently counting as a wrong answer.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from semdns.errors import SemdnsError
from semdns.names import InvalidName, Name
from semdns.zone.tree import ZoneTree


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One labelled query and where it came from (for messages and per-query dumps)."""

    query: str
    expected: Name
    acceptable: tuple[Name, ...]
    source: str
    line: int
    subtree: bool = False
    """The label says only "somewhere under ``expected``" (a subject, not a specialist): any name in
    that subtree is exactly right, and only an ancestor of ``expected`` is an abstention."""
    group: str | None = None
    """Queries that are not independent evidence share a group (the turns of one conversation): the
    bootstrap intervals resample a group whole (:mod:`semdns.eval.bootstrap`). None: the query alone."""

    def accepts(self, got: Name) -> bool:
        """True when ``got`` is the expected name (or, for a subtree label, a name under it) or one
        the judge also accepts."""
        return (
            got == self.expected or got in self.acceptable or (self.subtree and got.is_under(self.expected))
        )


class DatasetError(SemdnsError):
    """A labelled set that cannot be scored; the message names the file, the line and the fix."""

    code = "dataset_error"
    http_status = 400

    def __init__(self, file: str, line: int | None, message: str, fix: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        self.fix = fix
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}; {fix}")


_EXAMPLE = '{"query": "...", "expected": "python.code."}'


def load_jsonl(paths: Iterable[str | Path], tree: ZoneTree | None = None) -> list[EvalItem]:
    """Read JSONL labelled sets; every ``expected``/``acceptable`` name must exist in ``tree`` (when
    given). Raises :class:`DatasetError` at the first bad line, or for a file with no items."""
    items: list[EvalItem] = []
    known = sorted(str(n) for n in tree.nodes) if tree is not None else []
    for path in paths:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DatasetError(source, None, "no such file", "check the --data path") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(
                source, None, f"cannot read the file ({exc})", "give a UTF-8 text file"
            ) from None
        before = len(items)
        # Newlines only: str.splitlines() would also split inside JSON strings at U+0085 or U+2028.
        for number, raw in enumerate(text.split("\n"), start=1):
            if raw.strip():
                items.append(_parse_line(raw, source, number, tree, known))
        if len(items) == before:
            raise DatasetError(
                source,
                None,
                "the file holds no labelled queries",
                f"write one JSON object a line: {_EXAMPLE}",
            )
    return items


def _parse_line(raw: str, source: str, number: int, tree: ZoneTree | None, known: Sequence[str]) -> EvalItem:
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DatasetError(
            source,
            number,
            f"not valid JSON ({exc.msg} at column {exc.colno})",
            f"write one object a line: {_EXAMPLE}",
        ) from None
    if not isinstance(row, dict):
        raise DatasetError(source, number, "a line must be a JSON object", f"write it as {_EXAMPLE}")
    for field in ("query", "expected"):
        if field not in row:
            raise DatasetError(source, number, f"missing field {field!r}", f"add it, as in {_EXAMPLE}")
    query = row["query"]
    if not isinstance(query, str) or not query.strip():
        raise DatasetError(source, number, "'query' must be a non-empty string", "give the query text")
    acceptable_raw = row.get("acceptable", [])
    if not isinstance(acceptable_raw, list):
        raise DatasetError(source, number, "'acceptable' must be a list of names", 'write e.g. ["code."]')
    expected = _name(row["expected"], "expected", source, number, tree, known)
    acceptable = tuple(_name(a, "acceptable", source, number, tree, known) for a in acceptable_raw)
    subtree = row.get("subtree", False)
    if not isinstance(subtree, bool):
        raise DatasetError(
            source, number, "'subtree' must be true or false", "write true, false, or leave it out"
        )
    group = row.get("group")
    if group is not None and (not isinstance(group, str) or not group.strip()):
        raise DatasetError(
            source,
            number,
            "'group' must be a non-empty string",
            "write the label its related queries share (e.g. a conversation id), or leave it out",
        )
    return EvalItem(query, expected, acceptable, source, number, subtree, group)


def _name(
    value: object, field: str, source: str, number: int, tree: ZoneTree | None, known: Sequence[str]
) -> Name:
    if not isinstance(value, str):
        raise DatasetError(source, number, f"{field!r} must be a name string", 'write e.g. "python.code."')
    try:
        name = Name.parse(value)
    except InvalidName as exc:
        raise DatasetError(
            source, number, str(exc), 'write a dotted name such as "python.code." (root: ".")'
        ) from None
    if tree is not None and name not in tree.nodes:
        close = difflib.get_close_matches(str(name), known, n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "pick a name the namespace defines"
        raise DatasetError(
            source,
            number,
            f"{field} name {name} is not in the namespace ({len(known)} names under {tree.apex})",
            f"{hint} (or pass the zone that defines it with --zone)",
        )
    return name
