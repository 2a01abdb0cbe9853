"""The README's ``semdns dig`` examples are what the shipped namespace answers today: the status line,
the answer's name, TTL and DN, and each trace line's node, choice, deciding stage and stages tried. The
first page a user reads must not drift from the code (it had: its examples showed the classifier
deciding where the shallow pass now does). Confidences and times are not compared: they are the
model's numbers to the third decimal and the machine's speed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app

README = Path(__file__).resolve().parent.parent / "README.md"
_EXAMPLE = re.compile(r'^\$ \.venv/bin/semdns dig "(?P<query>[^"]+)"\n(?P<output>.*?)^```', re.M | re.S)
_register()


def _shape(output: str) -> list[str]:
    """The lines of a dig answer that must match, with confidences, scores and times left out."""
    shape: list[str] = []
    for line in output.splitlines():
        if line.startswith(";; status:"):
            shape.append(line)
        elif line.startswith(";  "):  # a trace line: up to the stages tried, before the scores
            head = line[: line.index("]") + 1] if "]" in line else line
            shape.append(" ".join(head.split()))
        elif " IN  CONF " in line:  # the answer: name, TTL, class, DN
            shape.append(" ".join(re.sub(r"CONF \d+\.\d+", "CONF", line).split()))
    return shape


def _examples() -> list[tuple[str, str]]:
    return [(m["query"], m["output"]) for m in _EXAMPLE.finditer(README.read_text(encoding="utf-8"))]


def test_the_readme_has_dig_examples_to_check() -> None:
    examples = _examples()
    assert len(examples) >= 2
    for _, output in examples:
        shape = _shape(output)
        assert shape[0].startswith(";; status:")
        assert any(" IN CONF " in line for line in shape), "an answer line"
        assert any(line.startswith("; ") for line in shape), "trace lines"


@pytest.mark.parametrize(("query", "printed"), _examples(), ids=lambda value: str(value)[:40])
def test_a_readme_dig_example_is_what_dig_prints(query: str, printed: str) -> None:
    result = CliRunner().invoke(app, ["dig", query])
    assert result.exit_code == 0, result.output
    assert _shape(result.output) == _shape(printed)


def test_the_shape_leaves_out_numbers_and_keeps_decisions() -> None:
    one = ";  .  -> legal.   shallow    [shallow]  legal. 0.994  code. 0.004  (2.29 ms)"
    other = ";  .  -> legal.   shallow    [shallow]  legal. 0.951  finance. 0.030  (9.01 ms)"
    assert _shape(one) == _shape(other) == ["; . -> legal. shallow [shallow]"]
    assert _shape(one.replace("shallow ", "classifier ")) != _shape(one)
    answer = "contracts.legal.  3600   IN  CONF 0.960  CN=Legal-Contract-Analysis"
    assert _shape(answer) == ["contracts.legal. 3600 IN CONF CN=Legal-Contract-Analysis"]
