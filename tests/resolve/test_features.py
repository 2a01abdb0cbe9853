"""The structural features skip a regular-expression scan when a match is impossible: the skip must
never change a count. Each pattern is paired with the substrings one of which every match contains;
random text built from the characters those patterns care about checks that claim."""

from __future__ import annotations

import re

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
