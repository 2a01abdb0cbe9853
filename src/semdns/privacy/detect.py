"""Find personal data in a prompt: patterns first, then the checks that confirm them.

Kinds (the names a zone's ``privacy.detectors`` lists):

* ``email`` — addresses (RFC 5322's common subset: ``local@domain.tld``);
* ``phone`` — international (``+`` or ``00`` then 8 to 15 digits) and national numbers written in
  groups (North American ``(555) 123-4567``, European ``0612 345 678``), 8 to 15 digits;
* ``card`` — payment card numbers, 13 to 19 digits, with an issuer's prefix and a valid Luhn digit;
* ``iban`` — IBANs, with the country's length and a valid mod 97 check;
* ``national_id`` — US SSN (``123-45-6789``, SSA rules), UK National Insurance number, Spanish DNI and
  NIE (check letter);
* ``ip`` — IPv4 and IPv6 addresses (parsed by :mod:`ipaddress`).

Names of people are **not** detected: that needs a named-entity model, and no offline one ships in a
package this project can install. Overlapping findings are resolved by kind priority (a card number is
not also a phone number), then by length.

The scan is pure Python regular expressions: about ten microseconds for a short prompt, a few
milliseconds for a 100 kB one (``semdns eval privacy`` prints the figures).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from semdns.privacy.checks import IBAN_LENGTHS, card_ok, es_dni_ok, iban_ok, us_ssn_ok

KINDS: Final = ("email", "phone", "card", "iban", "national_id", "ip")
# Higher wins an overlap: the most specific, checksummed kinds first.
_PRIORITY: Final = {"email": 6, "iban": 5, "card": 4, "national_id": 3, "ip": 2, "phone": 1}


@dataclass(frozen=True, slots=True)
class Finding:
    """One piece of personal data: its kind, where it is in the text, and the text itself."""

    kind: str
    start: int
    end: int
    text: str
    detail: str = ""
    """The sub-kind, for reports: ``us_ssn``, ``visa``, ``ipv6``…"""


# Each pattern starts with a character class and checks what precedes it with a lookbehind placed
# *after* that first character: the regex engine then skips ahead to candidate characters instead of
# trying every position (four times faster on prose). Cheap prefilters skip whole scanners.
_EMAIL = re.compile(
    r"[A-Za-z0-9](?<![\w.+%-][A-Za-z0-9])(?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
_CARD = re.compile(r"\d(?<![\d.,-]\d)(?:[ -]?\d){11,18}(?!\d)")
_IBAN = re.compile(r"([A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?:[ ]?[A-Z0-9]){11,30})")
_SSN = re.compile(r"(\d{3})(?<![\d-]\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_NINO = re.compile(
    r"[A-CEGHJ-PR-TW-Z](?<![A-Za-z0-9].)[A-CEGHJ-NPR-TW-Z](?<!BG|GB|NK|KN|TN|NT|ZZ)"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"
)
_DNI = re.compile(r"([XYZ\d](?<![A-Za-z0-9].)\d{7})-?([A-Za-z])(?![A-Za-z0-9])")
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d]|\.\d)"
)
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)?\(?\d{1,4}\)?(?:[ .\-/]{1,2}\(?\d{1,8}\)?){1,6}"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,5})?(?![\w])"
    r"|(?<![\w+])\+\d{8,15}(?![\w])"
)
_HAS_DIGIT = re.compile(r"\d")
_DIGIT_RUN = re.compile(r"\d(?:[ ().\-/]{0,2}\d){7,}")  # 8+ digits with phone separators: where phones can be
_IPV4_HINT = re.compile(r"\d\.\d{1,3}\.\d")
_IPV6_HINT = re.compile(r"[0-9A-Fa-f]?:[0-9A-Fa-f]{0,4}:")
_AREA_CODE = re.compile(r"^(?:(?:\+|00)\d{1,3}[ .-]?)?\(\d{1,5}\)[ .-]?\d[\d .-]*$")
_SSN_SHAPE = re.compile(r"^\d{3}[- ]\d{2}[- ]\d{4}$")  # an SSN the SSA rules refused is no phone
_DATE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:[ ,.]\d{3})+$")


def _emails(text: str) -> Iterator[Finding]:
    if "@" not in text:
        return
    for m in _EMAIL.finditer(text):
        yield Finding("email", m.start(), m.end(), m.group())


def _cards(text: str) -> Iterator[Finding]:
    for m in _CARD.finditer(text):
        digits = m.group().replace(" ", "").replace("-", "")
        if card_ok(digits):
            yield Finding("card", m.start(), m.end(), m.group())


def _ibans(text: str) -> Iterator[Finding]:
    for m in _IBAN.finditer(text):
        raw = m.group(1)
        expected = IBAN_LENGTHS.get(raw[:2])
        if expected is None:
            continue
        # The pattern may run on into following capitals: cut at the country's length.
        compact, end = "", m.start(1)
        for i, ch in enumerate(raw):
            if ch != " ":
                compact += ch
            if len(compact) == expected:
                end = m.start(1) + i + 1
                break
        if len(compact) == expected and iban_ok(compact):
            following = text[end : end + 1]
            if not following.isalnum():
                yield Finding("iban", m.start(1), end, text[m.start(1) : end])


def _national_ids(text: str) -> Iterator[Finding]:
    for m in _SSN.finditer(text):
        if us_ssn_ok(m.group(1), m.group(3), m.group(4)):
            yield Finding("national_id", m.start(), m.end(), m.group(), "us_ssn")
    for m in _NINO.finditer(text):
        yield Finding("national_id", m.start(), m.end(), m.group(), "uk_nino")
    for m in _DNI.finditer(text):
        if es_dni_ok(m.group(1), m.group(2)):
            yield Finding("national_id", m.start(), m.end(), m.group(), "es_dni")


def _ips(text: str) -> Iterator[Finding]:
    if _IPV4_HINT.search(text):
        for m in _IPV4.finditer(text):
            yield Finding("ip", m.start(), m.end(), m.group(), "ipv4")
    if ":" not in text or not _IPV6_HINT.search(text):
        return
    for m in _IPV6.finditer(text):
        candidate = m.group()
        if candidate.count(":") < 2 or sum(1 for g in candidate.split(":") if g) < 2:
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield Finding("ip", m.start(), m.end(), candidate, "ipv6")


def _phone_windows(text: str) -> Iterator[tuple[int, int]]:
    """Stretches of ``text`` that can hold a phone number: each run of 8 or more digits (with the
    separators phone numbers use), widened for a ``+``/``(`` prefix and an extension, merged. The
    phone pattern, which has to try every position it is given, then reads only these."""
    start = end = -1
    for run in _DIGIT_RUN.finditer(text):
        a, b = max(0, run.start() - 8), min(len(text), run.end() + 16)
        if a <= end:
            end = max(end, b)
            continue
        if end >= 0:
            yield start, end
        start, end = a, b
    if end >= 0:
        yield start, end


def _phones(text: str) -> Iterator[Finding]:
    for a, b in _phone_windows(text):
        yield from _phones_in(text, a, b)


def _phones_in(text: str, a: int, b: int) -> Iterator[Finding]:
    for m in _PHONE.finditer(text, a, b):
        candidate = m.group().rstrip(" .-/")
        main = re.split(r"\s?(?:x|ext\.?|extension)\s?\d", candidate, maxsplit=1)[0]
        digits = sum(ch.isdigit() for ch in main)
        international = main.startswith("+") or (main.startswith("00") and main[2:3] in "123456789")
        if not 8 <= digits <= 15:
            continue
        if not international and (_DATE.match(main) or _THOUSANDS.match(main) or _SSN_SHAPE.match(main)):
            continue
        if ("(" in main or ")" in main) and not _AREA_CODE.match(main):
            continue  # parentheses only around an area code: "(555) 123-4567", "+1 (555) ..."
        if not international and "(" not in main and not _grouped_like_a_phone(main):
            continue
        yield Finding("phone", m.start(), m.start() + len(candidate), candidate)


def _grouped_like_a_phone(main: str) -> bool:
    """A national number without ``+`` or parentheses: two to five groups with the separators phone
    numbers use, the first with a trunk ``0`` or the whole of North American shape (3-3-4)."""
    groups = re.split(r"[ .\-/]{1,2}", main)
    if not 2 <= len(groups) <= 6:
        return False
    if [len(g) for g in groups] in ([3, 3, 4], [1, 3, 3, 4], [3, 4, 4]):
        return True
    return main.startswith("0") and all(len(g) >= 2 for g in groups)


_SCANNERS: Final[dict[str, Callable[[str], Iterator[Finding]]]] = {
    "email": _emails,
    "card": _cards,
    "iban": _ibans,
    "national_id": _national_ids,
    "ip": _ips,
    "phone": _phones,
}


def detect(text: str, kinds: Iterable[str] = KINDS) -> list[Finding]:
    """The personal data in ``text`` of the given kinds, in order, without overlaps."""
    found: list[Finding] = []
    digits = _HAS_DIGIT.search(text) is not None
    for kind in kinds:
        if digits or kind == "email":
            found.extend(_SCANNERS[kind](text))
    if len(found) < 2:
        return found
    found.sort(key=lambda f: (-_PRIORITY[f.kind], -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for finding in found:
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    kept.sort(key=lambda f: f.start)
    return kept
