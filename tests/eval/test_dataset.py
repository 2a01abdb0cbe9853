"""Loading labelled JSONL sets: what is accepted, and every malformed case with its file:line message,
through the loader and through the CLI (exit 2, no traceback)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app
from semdns.eval.dataset import DatasetError, load_jsonl
from semdns.names import Name
from semdns.zone import ZoneTree, load_zone_files

DATA = Path(__file__).parent.parent / "data"
SMALL_ZONE = DATA / "zones" / "small.yaml"
_register()
runner = CliRunner()


@pytest.fixture(scope="module")
def tree() -> ZoneTree:
    return load_zone_files([SMALL_ZONE])


@pytest.fixture
def jsonl(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "set.jsonl"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_loads_items_with_acceptable_and_ignores_extra_fields(tree: ZoneTree) -> None:
    items = load_jsonl([DATA / "eval" / "small.jsonl"], tree)
    assert len(items) == 8  # the blank line is skipped
    assert items[0].expected == Name.parse("dogs.animals.") and items[0].line == 1
    assert items[3].acceptable == (Name.parse("vehicles."),)
    assert items[3].accepts(Name.parse("vehicles.")) and not items[3].accepts(Name.parse("."))
    assert items[-1].line == 9 and items[-1].source.endswith("small.jsonl")


GOOD = '{"query": "is catnip safe", "expected": "cats.animals."}\n'
CASES = [
    ("not json", GOOD + "{query: oops}\n", 2, "not valid JSON"),
    ("not an object", GOOD + '["a", "b"]\n', 2, "must be a JSON object"),
    ("missing query", GOOD + '{"expected": "cats.animals."}\n', 2, "missing field 'query'"),
    ("missing expected", GOOD + '{"query": "hello"}\n', 2, "missing field 'expected'"),
    ("unknown name", GOOD + GOOD + '{"query": "x", "expected": "dog.animals."}\n', 3, "not in the namespace"),
    ("invalid name", '{"query": "x", "expected": "bad..name"}\n', 1, "invalid name"),
    ("unknown acceptable", '{"query": "x", "expected": ".", "acceptable": ["fish."]}\n', 1, "not in"),
    ("group not a string", '{"query": "x", "expected": ".", "group": 7}\n', 1, "'group' must be a non-empty"),
    (
        "group blank",
        '{"query": "x", "expected": "."}\n{"query": "y", "expected": ".", "group": " "}\n',
        2,
        "'group'",
    ),
]


@pytest.mark.parametrize(("case", "text", "line", "message"), CASES, ids=[c[0] for c in CASES])
def test_malformed_line_names_file_line_and_fix(
    tree: ZoneTree, jsonl: Callable[[str], Path], case: str, text: str, line: int, message: str
) -> None:
    path = jsonl(text)
    with pytest.raises(DatasetError) as raised:
        load_jsonl([path], tree)
    assert raised.value.line == line
    assert str(raised.value).startswith(f"{path}:{line}: ")
    assert message in str(raised.value)
    assert raised.value.fix
    result = runner.invoke(app, ["eval", "routing", "--zone", str(SMALL_ZONE), "--data", str(path)])
    assert result.exit_code == 2, result.output
    assert f"error: {path}:{line}: " in result.stderr and message in result.stderr
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_unknown_name_suggests_close_names(tree: ZoneTree, jsonl: Callable[[str], Path]) -> None:
    with pytest.raises(DatasetError, match=r"did you mean dogs\.animals\."):
        load_jsonl([jsonl('{"query": "x", "expected": "dog.animals."}\n')], tree)


def test_empty_and_missing_files_are_clear_errors(jsonl: Callable[[str], Path], tmp_path: Path) -> None:
    empty = jsonl("\n  \n")
    with pytest.raises(DatasetError, match="holds no labelled queries"):
        load_jsonl([empty])
    result = runner.invoke(app, ["eval", "routing", "--zone", str(SMALL_ZONE), "--data", str(empty)])
    assert result.exit_code == 2 and f"error: {empty}: the file holds no labelled queries" in result.stderr
    missing = tmp_path / "nope.jsonl"
    result = runner.invoke(app, ["eval", "routing", "--zone", str(SMALL_ZONE), "--data", str(missing)])
    assert result.exit_code == 2 and f"{missing}: no such file" in result.stderr


def test_limit_must_be_positive() -> None:
    args = ["eval", "routing", "--zone", str(SMALL_ZONE), "--data", str(DATA / "eval" / "small.jsonl")]
    result = runner.invoke(app, [*args, "--limit", "0"])
    assert result.exit_code == 2 and "--limit must be at least 1" in result.stderr


def test_subtree_flag_is_read_and_checked(tree: ZoneTree, jsonl: Callable[[str], Path]) -> None:
    (parsed,) = load_jsonl([jsonl('{"query": "a", "expected": "animals.", "subtree": true}\n')], tree)
    assert parsed.subtree and parsed.accepts(Name.parse("dogs.animals."))
    bad = jsonl('{"query": "a", "expected": "animals.", "subtree": "yes"}\n')
    with pytest.raises(DatasetError, match=r":1: 'subtree' must be true or false"):
        load_jsonl([bad], tree)


def test_group_is_read_and_optional(tree: ZoneTree, jsonl: Callable[[str], Path]) -> None:
    rows = '{"query": "a", "expected": ".", "group": "conv:1"}\n{"query": "b", "expected": "."}\n'
    first, second = load_jsonl([jsonl(rows)], tree)
    assert first.group == "conv:1" and second.group is None
