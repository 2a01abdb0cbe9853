"""Semantic names: dotted form (``contracts.legal.``) and X.500 distinguished-name form.

A :class:`Name` is an immutable sequence of labels, most specific first, exactly like a DNS name:
``contracts.legal.`` has the labels ``("contracts", "legal")`` and the root ``.`` has none. Labels are
case-insensitive (stored lower-case), match ``[a-z0-9-]`` (not starting or ending with ``-``), hold at
most 63 characters, and a name has at most 8 levels. The trailing dot is optional on input and always
printed.

Every name also has a *derived* distinguished name: the most specific label is the ``CN`` and every
label above it an ``OU`` (``CN=contracts,OU=legal``); the root's DN is empty. A zone may declare its own
DN for a node (the paper's ``CN=Legal-Contract-Analysis,OU=Legal-Domain,...``); mapping such aliases
back to names needs the zone tree and lives in :mod:`semdns.zone.tree`. This module is pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LABEL_LENGTH = 63
MAX_DEPTH = 8

_LABEL_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


class InvalidName(ValueError):
    """A semantic name or distinguished name that cannot be parsed; the message says why."""


def _check_label(label: str, text: str) -> str:
    lowered = label.lower()
    if not lowered:
        raise InvalidName(f"invalid name {text!r}: empty label (two dots in a row?)")
    if len(lowered) > MAX_LABEL_LENGTH:
        raise InvalidName(
            f"invalid name {text!r}: label {label!r} has {len(lowered)} characters, at most "
            f"{MAX_LABEL_LENGTH} are allowed"
        )
    if not _LABEL_RE.match(lowered):
        raise InvalidName(
            f"invalid name {text!r}: label {label!r} may hold only a-z, 0-9 and '-', "
            "and may not start or end with '-'"
        )
    return lowered


@dataclass(frozen=True, slots=True, order=True)
class Name:
    """A semantic name; ``labels`` are most specific first (``("contracts", "legal")``)."""

    labels: tuple[str, ...] = ()
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.labels) > MAX_DEPTH:
            raise InvalidName(
                f"invalid name {'.'.join(self.labels)!r}: {len(self.labels)} levels, "
                f"at most {MAX_DEPTH} are allowed"
            )
        text = ".".join(self.labels)
        for label in self.labels:
            if _check_label(label, text) != label:
                raise InvalidName(f"invalid name {text!r}: labels must be lower-case")
        object.__setattr__(self, "_hash", hash(self.labels))

    # Names key every table the resolver reads, dozens of lookups a request: the hash is computed
    # once, and an equality test tries identity and the hash before the labels.

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if isinstance(other, Name):
            return self._hash == other._hash and self.labels == other.labels
        return NotImplemented

    def __reduce__(self) -> tuple[type[Name], tuple[tuple[str, ...]]]:
        """Pickled as its labels: a string's hash differs from one process to the next."""
        return (Name, (self.labels,))

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str) -> Name:
        """Parse ``contracts.legal``, ``contracts.legal.`` or ``.`` (the root); case-insensitive."""
        if not isinstance(text, str):
            raise InvalidName(f"invalid name {text!r}: expected a string")
        stripped = text.strip()
        if stripped == "":
            raise InvalidName(f"invalid name {text!r}: empty (write '.' for the root)")
        if stripped == ".":
            return ROOT
        body = stripped[:-1] if stripped.endswith(".") else stripped
        labels = tuple(_check_label(label, text) for label in body.split("."))
        if len(labels) > MAX_DEPTH:
            raise InvalidName(f"invalid name {text!r}: {len(labels)} levels, at most {MAX_DEPTH} are allowed")
        return cls(labels)

    def child(self, label: str) -> Name:
        """The name one level below this one."""
        return Name((_check_label(label, f"{label}.{self}"), *self.labels))

    def relativize_under(self, origin: Name) -> tuple[str, ...]:
        """The labels of this name below ``origin`` (most specific first)."""
        if not self.is_under(origin):
            raise InvalidName(f"{self} is not under {origin}")
        return self.labels[: len(self.labels) - len(origin.labels)]

    # -- properties ---------------------------------------------------------------------------

    @property
    def is_root(self) -> bool:
        return not self.labels

    @property
    def depth(self) -> int:
        """Number of labels: 0 for the root, 1 for ``legal.``, 2 for ``contracts.legal.``."""
        return len(self.labels)

    @property
    def parent(self) -> Name | None:
        """The enclosing name, or ``None`` for the root."""
        if not self.labels:
            return None
        return Name(self.labels[1:])

    @property
    def ancestors(self) -> tuple[Name, ...]:
        """Every enclosing name from the parent up to and including the root."""
        return tuple(Name(self.labels[i:]) for i in range(1, len(self.labels) + 1))

    def is_under(self, other: Name, *, strict: bool = False) -> bool:
        """True when this name equals ``other`` or lies below it (only below it when ``strict``)."""
        n = len(other.labels)
        if strict and len(self.labels) <= n:
            return False
        if len(self.labels) < n:
            return False
        return n == 0 or self.labels[-n:] == other.labels

    # -- formatting ---------------------------------------------------------------------------

    def __str__(self) -> str:
        return "." if not self.labels else ".".join(self.labels) + "."

    def __repr__(self) -> str:
        return f"Name({str(self)!r})"

    def to_dn(self) -> DistinguishedName:
        """The derived DN: ``CN=<label>`` then one ``OU=<label>`` per enclosing label."""
        if not self.labels:
            return DistinguishedName(())
        rdns = [("CN", self.labels[0])] + [("OU", label) for label in self.labels[1:]]
        return DistinguishedName(tuple(rdns))

    @classmethod
    def from_dn(cls, dn: DistinguishedName | str) -> Name:
        """Invert :meth:`to_dn`. Declared DN aliases (O=, C=, …) need the zone tree instead."""
        parsed = DistinguishedName.parse(dn) if isinstance(dn, str) else dn
        if not parsed.rdns:
            return ROOT
        types = [t for t, _ in parsed.rdns]
        if types[0] != "CN" or any(t != "OU" for t in types[1:]):
            raise InvalidName(
                f"{parsed} is not a derived DN (CN=…,OU=…,OU=…); a declared alias needs the zone tree"
            )
        return Name.parse(".".join(v for _, v in parsed.rdns))


ROOT = Name(())


# -- distinguished names (RFC 4514 string form) ----------------------------------------------

_DN_SPECIAL = set(',+"\\<>;=')


def _escape_dn_value(value: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(value):
        if ch in _DN_SPECIAL or (ch == "#" and i == 0) or (ch == " " and (i == 0 or i == len(value) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


_ATTR_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class DistinguishedName:
    """An X.500 distinguished name as a sequence of (type, value) pairs, most specific first.

    Attribute types are compared case-insensitively (stored upper-case); values keep their case for
    printing and compare case-insensitively through :meth:`key`.
    """

    rdns: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str) -> DistinguishedName:
        """Parse ``CN=Contracts, OU=Legal`` (RFC 4514 escaping; spaces around separators ignored)."""
        if not isinstance(text, str):
            raise InvalidName(f"invalid DN {text!r}: expected a string")
        if not text.strip():
            return cls(())
        rdns: list[tuple[str, str]] = []
        i, n = 0, len(text)
        while i < n:
            # attribute type
            eq = text.find("=", i)
            if eq < 0:
                raise InvalidName(f"invalid DN {text!r}: component {text[i:].strip()!r} has no '='")
            attr = text[i:eq].strip()
            if not _ATTR_RE.match(attr):
                raise InvalidName(f"invalid DN {text!r}: bad attribute type {attr!r}")
            i = eq + 1
            value_chars: list[str] = []
            trailing_ws = 0
            while i < n and text[i] == " ":
                i += 1
            while i < n:
                ch = text[i]
                if ch == "\\":
                    if i + 1 >= n:
                        raise InvalidName(f"invalid DN {text!r}: dangling '\\' at the end")
                    value_chars.append(text[i + 1])
                    trailing_ws = 0
                    i += 2
                    continue
                if ch in ",;":
                    break
                if ch == "+":
                    raise InvalidName(f"invalid DN {text!r}: multi-valued RDNs ('+') are not supported")
                if ch in '"<>=':
                    raise InvalidName(f"invalid DN {text!r}: unescaped {ch!r} in a value")
                value_chars.append(ch)
                trailing_ws = trailing_ws + 1 if ch == " " else 0
                i += 1
            value = "".join(value_chars[: len(value_chars) - trailing_ws] if trailing_ws else value_chars)
            if not value:
                raise InvalidName(f"invalid DN {text!r}: {attr}= has an empty value")
            rdns.append((attr.upper(), value))
            if i < n:  # skip the separator
                i += 1
                if i >= n or not text[i:].strip():
                    raise InvalidName(f"invalid DN {text!r}: trailing separator")
        return cls(tuple(rdns))

    def __str__(self) -> str:
        return ",".join(f"{t}={_escape_dn_value(v)}" for t, v in self.rdns)

    def key(self) -> tuple[tuple[str, str], ...]:
        """Case-insensitive identity, for alias lookups."""
        return tuple((t, v.lower()) for t, v in self.rdns)

    @property
    def is_empty(self) -> bool:
        return not self.rdns


def looks_like_dn(text: str) -> bool:
    """True when ``text`` is written as a DN (``CN=…``) rather than a dotted name."""
    head = text.split(",", 1)[0]
    return "=" in head and bool(_ATTR_RE.match(head.split("=", 1)[0].strip()))
