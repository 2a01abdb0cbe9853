"""The structural features skip a regular-expression scan when a match is impossible: the skip must
never change a count. Each pattern is paired with the substrings one of which every match contains;
random text built from the characters those patterns care about checks that claim."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from semdns.resolve import features as f

GUARDED: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (f._DEF, ("def",)),
    (f._CLASS, ("class",)),
    (f._IMPORT, ("import",)),
    (f._DOCSTRING, ('"""', "'''")),
    (f._DOCTEST, (">>>",)),
    (f._TYPE_HINT, f._NEEDS_TYPE_HINT),
    (f._BRACE_CODE, f._NEEDS_BRACE),
    (f._CALL, ("(",)),
    (f._SNAKE, ("_",)),
    (f._INDENTED, f._NEEDS_INDENT),
    (f._TRACEBACK, f._NEEDS_TRACEBACK),
    (f._PATH, ("/",)),
    (f._CONFIG_LINE, (":",)),
    (f._LATEX, f._NEEDS_LATEX),
    (f._POWER, f._NEEDS_POWER),
    (f._FUNC_OF, f._NEEDS_FUNC_OF),
    (f._CURRENCY, f._NEEDS_CURRENCY),
    (f._PERCENT, ("%", "percent")),
    (f._ARROW, f._NEEDS_ARROW),
    (f._URL, ("http",)),
    (f._ARITH, f._NEEDS_ARITH),
    (f._SHELL, f._NEEDS_SHELL),
]

PIECES = st.sampled_from(
    [
        "def", "class", "import", "from", "x", "f", "d", "dx", "a_b", "(", ")", "{", "}", ";", ":", ": ",
        "->", "→", "⇌", "<=>", "⟶", "$", "€", "\\", "\\frac", "^", "**", "²", "/", "%", "percent", "1",
        "42", " dollars", "int", "Error", "Exception", "Traceback (most", 'File "a.py", line 3', '"""',
        "'''", ">>>", "http://x.y", "\n", "  ", "\t", " ", "Ab",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join))
def test_a_skipped_scan_never_changes_a_count(text: str) -> None:
    for pattern, needles in GUARDED:
        assert f._found(pattern, text, needles) == len(pattern.findall(text)), pattern.pattern
    lower = text.lower()
    assert f._found(f._CURRENCY, lower, f._NEEDS_CURRENCY) == len(f._CURRENCY.findall(lower))


@settings(max_examples=200, deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join))
def test_counts_gated_on_numbers_need_a_digit(text: str) -> None:
    if not f._NUMBER.findall(text):
        assert not f._UNIT.findall(text) and not f._CURRENCY.findall(text.lower())


def test_the_feature_vector_keeps_its_shape_and_range_on_malformed_text() -> None:
    for text in ["", "\x00\x00", "�" * 50, "(" * 1000, "\n" * 200]:
        vector = f.structural_features(text)
        assert vector.shape == (f.DIM,) and float(vector.min()) >= 0.0 and float(vector.max()) <= 1.0


CORPORA = Path(__file__).resolve().parents[2] / "corpora" / "routing"


def _reference(text: str) -> np.ndarray:
    """The feature vector with every pattern scanned and every class counted by a regex: what
    :func:`semdns.resolve.features.structural_features` computes with its shortcuts."""

    def squash(count: float, scale: float) -> float:
        return 1.0 - math.exp(-scale * count)

    def ratio(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    def n(pattern: re.Pattern[str], on: str | None = None) -> int:
        return len(pattern.findall(text if on is None else on))

    lines = text.count("\n") + 1
    lower = text.lower()
    return np.asarray(
        (
            squash(text.count("```"), 1.0),
            squash(n(f._DEF), 1.5),
            squash(n(f._CLASS), 1.5),
            squash(n(f._IMPORT), 1.5),
            squash(n(f._DOCSTRING), 1.0),
            squash(n(f._DOCTEST), 1.0),
            squash(n(f._TYPE_HINT), 1.0),
            squash(n(f._BRACE_CODE), 0.5),
            squash(n(f._CALL), 0.5),
            squash(n(f._SNAKE) + n(f._CAMEL), 0.5),
            ratio(n(f._INDENTED), lines),
            squash(n(f._TRACEBACK), 1.0),
            squash(n(f._SHELL), 0.7),
            squash(n(f._PATH), 1.0),
            ratio(n(f._CONFIG_LINE), lines),
            min(1.0, 4.0 * ratio(n(f._SYMBOL), len(text))),
            squash(n(f._NUMBER), 0.3),
            squash(n(f._ARITH), 0.7),
            squash(n(f._LATEX), 1.0),
            squash(n(f._POWER), 1.0),
            squash(n(f._FUNC_OF), 1.0),
            squash(n(f._CURRENCY, lower), 0.7),
            squash(n(f._PERCENT, lower), 1.0),
            squash(n(f._UNIT), 0.7),
            squash(f._formulae(text), 0.7),
            squash(n(f._ARROW), 1.0),
            squash(n(f._OPTIONS), 0.5),
            squash(text.count("?"), 1.0),
            squash(len(text.split()), 1 / 60),
            squash(lines - 1, 0.2),
            ratio(len(f._NOT_ALPHA.sub("", text)), len(text)),
            squash(n(f._URL) + n(f._EMAIL), 1.0),
        ),
        dtype=np.float32,
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join) | st.text(max_size=60))
def test_the_shortcuts_give_every_scan_s_counts(text: str) -> None:
    assert np.array_equal(f.structural_features(text), _reference(text))


def test_every_public_prompt_gets_the_reference_features() -> None:
    prompts = [
        json.loads(line)["query"]
        for path in sorted(CORPORA.glob("*/eval.jsonl"))
        for line in path.read_text(encoding="utf-8").split("\n")  # not splitlines: U+2028 in a string
        if line.strip()
    ]
    assert len(prompts) > 5000
    for text in prompts:
        assert np.array_equal(f.structural_features(text), _reference(text)), text[:80]
