"""Structural signals: what a prompt *looks like*, whatever its words are about.

Real prompts carry their domain in their shape as much as in their vocabulary: a Python stub has a
signature, indentation and a docstring; a stack trace has ``File "...", line N``; a word problem has
numbers and quantities; a chemistry question has formulae and reaction arrows; an exam question has
lettered options. These shapes hold across domains and datasets where keyword lists do not (a
docstring that mentions a bank account is still code), so they are features of the trained classifier
stage (:mod:`semdns.resolve.trained`), not rules: the classifier learns how much each one weighs at
each level from labelled corpora.

Every feature is a float in [0, 1] (counts squashed by ``1 - exp(-k n)``), so the classifier's weights
are comparable, and the whole vector costs a few regular-expression scans (tens of microseconds).
"""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]


def _squash(count: float, scale: float = 1.0) -> float:
    """0 for nothing, about 0.63 at ``1/scale`` occurrences, approaching 1 for many. Most counts are 0,
    whose value needs no exponential."""
    return 1.0 - math.exp(-scale * count) if count else 0.0


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


_DEF = re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\(", re.M)
_CLASS = re.compile(r"^\s*class\s+\w+\s*[(:]", re.M)
_IMPORT = re.compile(r"^\s*(?:from\s+[\w.]+\s+import\s|import\s+[\w.]+)", re.M)
_DOCSTRING = re.compile(r'"""|\'\'\'')
_DOCTEST = re.compile(r"^\s*>>>", re.M)
_TYPE_HINT = re.compile(r"\)\s*->\s*[\w\[]|: (?:int|str|float|bool|list|dict|List|Dict|Optional)\b")
_BRACE_CODE = re.compile(r"[{};]\s*$", re.M)
_CALL = re.compile(r"[A-Za-z0-9_]\((?!\s)")
_SNAKE = re.compile(r"[a-z0-9]_[a-z]")
_CAMEL = re.compile(r"[a-z][A-Z][a-z]")
_INDENTED = re.compile(r"^(?: {2,}|\t)\S", re.M)
_TRACEBACK = re.compile(r"Traceback \(most|File \"[^\"\n]+\", line \d|[a-z](?:Error|Exception)\b")
_SHELL = re.compile(r"^\s*(?:\$|#)\s+\w|\s--?[a-z][\w-]*(?:=\S+)?\b", re.M)
_PATH = re.compile(r"/[\w.-]+/[\w.-]")
_CONFIG_LINE = re.compile(r"^\s*[\w.-]+:\s+\S", re.M)

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ARITH = re.compile(r"[\d)]\s?[-+*/×÷^=]\s?[\d(]|[a-z]\s?[+*/^=]\s?\d")
_LATEX = re.compile(
    r"\\(?:frac|sqrt|int|sum|lim|partial|alpha|beta|theta|pi|cdot|times|le|ge|infty|mathbb)\b|\$[^$\n]+\$"
)
_POWER = re.compile(r"(?:\^|\*\*)\s?[\d({]|[²³]")
_FUNC_OF = re.compile(r"\b[fgh]\([a-z]\)|\bd[a-z]/d[a-z]\b|\bdx\b")
_CURRENCY = re.compile(r"[$€£¥]\s?\d|\d (?:dollars|cents|euros|pounds)\b")
_PERCENT = re.compile(r"%|percent")
_UNIT = re.compile(
    r"\d\s?(?:kg|g|mg|km|m|cm|mm|nm|s|ms|h|hours?|minutes?|mph|km/h|m/s\^?2?|N|J|kJ|W|kW|V|A|Hz|Pa|kPa|atm|K|°C|°F|"
    r"mol|M|mL|L|eV|keV|MeV|T|Ω|ohms?)\b"
)
_FORMULA = re.compile(r"\b[A-Z][A-Za-z0-9]*\d[A-Za-z0-9]*\b|\b[A-Z][a-z]?[A-Z][A-Za-z0-9]*\b")
_ELEMENTISH = re.compile(r"^(?:[A-Z][a-z]?\d*)+$")
_ARROW = re.compile(r"->|→|⇌|<=>|⟶|\u21cc")
_OPTIONS = re.compile(r"(?:^|\n)\s*\(?[A-Da-d][).:]\s+\S")
_NOT_ALPHA = re.compile(r"[^A-Za-z]+")
_SYMBOL = re.compile(r"[(){}\[\]<>=;:_#*/\\|&!%^~`]")
_URL = re.compile(r"https?://\S+")
_EMAIL = re.compile(r"\w@[\w-]+\.\w")

FEATURE_NAMES: tuple[str, ...] = (
    "code_fence",
    "code_def",
    "code_class",
    "code_import",
    "code_docstring",
    "code_doctest",
    "code_type_hint",
    "code_brace_lines",
    "code_calls",
    "code_identifiers",
    "code_indented_lines",
    "code_traceback",
    "code_shell",
    "code_paths",
    "code_config_lines",
    "code_symbol_density",
    "math_numbers",
    "math_arithmetic",
    "math_latex",
    "math_powers",
    "math_function_notation",
    "math_currency",
    "math_percent",
    "units",
    "chem_formulae",
    "chem_arrows",
    "exam_options",
    "questions",
    "length",
    "lines",
    "alpha_ratio",
    "urls_emails",
)
"""The names of :func:`structural_features`' columns, in order (shown by ``semdns train``'s report)."""

DIM = len(FEATURE_NAMES)


def _formulae(text: str) -> int:
    """Chemical formulae: tokens made of element-like parts with at least one digit or two capitals
    (H2O, NaCl, CO2, C6H12O6), not plain capitalised words or acronyms of one capital."""
    count = 0
    for match in _FORMULA.finditer(text):
        token = match.group(0).rstrip("+-")
        if not _ELEMENTISH.match(token):
            continue
        capitals = sum(1 for c in token if c.isupper())
        numbered = any(c.isdigit() for c in token) and capitals >= 1
        compound = capitals >= 2 and any(c.islower() for c in token)
        if numbered or compound:
            count += 1
    return count


def _found(pattern: re.Pattern[str], text: str, needles: tuple[str, ...]) -> int:
    """``len(pattern.findall(text))``, skipping the scan when ``text`` lacks every substring that a
    match must contain (``needles``: a necessary condition, so the count is the same). Most prompts
    have no fence, docstring, arrow or LaTeX; a substring test costs a fraction of a regex scan."""
    for needle in needles:
        if needle in text:
            return len(pattern.findall(text))
    return 0


# What a match of each pattern must contain (see the patterns above; tests/resolve/test_features.py).
_NEEDS_TYPE_HINT = ("->", ": ")
_NEEDS_BRACE = ("{", "}", ";")
_NEEDS_INDENT = ("  ", "\t")
_NEEDS_TRACEBACK = ("Traceback", 'File "', "Error", "Exception")
_NEEDS_LATEX = ("\\", "$")
_NEEDS_POWER = ("^", "**", "²", "³")
_NEEDS_FUNC_OF = ("(", "/", "dx")
_NEEDS_CURRENCY = ("$", "€", "£", "¥", "dollars", "cents", "euros", "pounds")
_NEEDS_ARROW = ("->", "→", "⇌", "<=>", "⟶")


def _delete_except(keep: bytes) -> bytes:
    """A ``bytes.translate`` deletion table that keeps only the bytes in ``keep``."""
    return bytes(b for b in range(256) if b not in keep)


_ALL_BUT_LETTERS = _delete_except(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ALL_BUT_UPPER = _delete_except(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALL_BUT_SYMBOLS = _delete_except(b"(){}[]<>=;:_#*/\\|&!%^~`")
_ALL_BUT_DIGITS = _delete_except(b"0123456789")
_NEEDS_ARITH = ("-", "+", "*", "/", "\u00d7", "\u00f7", "^", "=")
_NEEDS_SHELL = ("-", "$", "#")


def structural_features(text: str) -> Floats:
    """The structural signal vector of one prompt (length :data:`DIM`, values in [0, 1]).

    The character classes that are ASCII (letters, capitals, symbols) are counted by deleting every
    other byte of the text's ASCII (``bytes.translate``, in C) instead of a regex scan, and scans that
    cannot match are skipped (no operator, no capital, no digit): the same counts, for about half the
    CPU of scanning every pattern (``tests/resolve/test_features.py`` holds the equality)."""
    lines = text.count("\n") + 1
    n_words = len(text.split())
    chars = len(text)
    ascii_only = text.encode("ascii", "ignore")  # [A-Za-z] and the symbols are all ASCII
    letters = len(ascii_only.translate(None, _ALL_BUT_LETTERS))
    capitals = len(ascii_only.translate(None, _ALL_BUT_UPPER))
    symbols = len(ascii_only.translate(None, _ALL_BUT_SYMBOLS))
    lower = text.lower()
    # \d is any Unicode digit: ASCII text without an ASCII digit has none, other text is scanned.
    maybe_digits = not text.isascii() or bool(ascii_only.translate(None, _ALL_BUT_DIGITS))
    numbers = len(_NUMBER.findall(text)) if maybe_digits else 0
    # Each alternative of _ARITH holds an operator and a digit, except ``)`` op ``(``.
    arith = _found(_ARITH, text, _NEEDS_ARITH) if numbers or ")" in text else 0
    values = (
        _squash(text.count("```"), 1.0),
        _squash(_found(_DEF, text, ("def",)), 1.5),
        _squash(_found(_CLASS, text, ("class",)), 1.5),
        _squash(_found(_IMPORT, text, ("import",)), 1.5),
        _squash(_found(_DOCSTRING, text, ('"""', "'''")), 1.0),
        _squash(_found(_DOCTEST, text, (">>>",)), 1.0),
        _squash(_found(_TYPE_HINT, text, _NEEDS_TYPE_HINT), 1.0),
        _squash(_found(_BRACE_CODE, text, _NEEDS_BRACE), 0.5),
        _squash(_found(_CALL, text, ("(",)), 0.5),
        _squash(_found(_SNAKE, text, ("_",)) + (len(_CAMEL.findall(text)) if capitals else 0), 0.5),
        _ratio(_found(_INDENTED, text, _NEEDS_INDENT), lines),
        _squash(_found(_TRACEBACK, text, _NEEDS_TRACEBACK), 1.0),
        _squash(_found(_SHELL, text, _NEEDS_SHELL), 0.7),
        _squash(_found(_PATH, text, ("/",)), 1.0),
        _ratio(_found(_CONFIG_LINE, text, (":",)), lines),
        min(1.0, 4.0 * _ratio(symbols, chars)),
        _squash(numbers, 0.3),
        _squash(arith, 0.7),
        _squash(_found(_LATEX, text, _NEEDS_LATEX), 1.0),
        _squash(_found(_POWER, text, _NEEDS_POWER), 1.0),
        _squash(_found(_FUNC_OF, text, _NEEDS_FUNC_OF), 1.0),
        _squash(_found(_CURRENCY, lower, _NEEDS_CURRENCY) if numbers else 0, 0.7),  # a match has a digit
        _squash(_found(_PERCENT, lower, ("%", "percent")), 1.0),
        _squash(len(_UNIT.findall(text)) if numbers else 0, 0.7),  # a match starts with a digit
        # A formula has a capital and a digit, or two capitals.
        _squash(_formulae(text) if capitals > 1 or (capitals and numbers) else 0, 0.7),
        _squash(_found(_ARROW, text, _NEEDS_ARROW), 1.0),
        _squash(len(_OPTIONS.findall(text)), 0.5),
        _squash(text.count("?"), 1.0),
        _squash(n_words, 1 / 60),
        _squash(lines - 1, 0.2),
        _ratio(letters, chars),
        _squash(_found(_URL, text, ("http",)) + (len(_EMAIL.findall(text)) if "@" in text else 0), 1.0),
    )
    return np.asarray(values, dtype=np.float32)
