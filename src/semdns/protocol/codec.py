"""Encoding and decoding of protocol messages: MessagePack for resolvers, JSON for people.

The content type picks the form (``application/vnd.semdns+msgpack`` or ``application/json``); both
carry the same fields. Decoding never raises anything but :class:`~semdns.errors.ProtocolError` and its
subclasses, whatever the bytes: random, truncated, oversized or of a newer major version. Decoders are
built once per message type (msgspec compiles them), which is what keeps a query's round trip in the
microseconds.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec

from semdns.errors import MessageTooLarge, ProtocolError, UnsupportedVersion
from semdns.protocol.messages import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, ContentType

T = TypeVar("T", bound=msgspec.Struct)

MSGPACK_TYPE = "application/vnd.semdns+msgpack"
JSON_TYPE = "application/json"
CONTENT_TYPES: dict[ContentType, str] = {"msgpack": MSGPACK_TYPE, "json": JSON_TYPE}

SUPPORTED_MAJOR = int(PROTOCOL_VERSION.split(".")[0])
SUPPORTED_MINOR = int(PROTOCOL_VERSION.split(".")[1])

_msgpack_encoder = msgspec.msgpack.Encoder()
_json_encoder = msgspec.json.Encoder()


class _Head(msgspec.Struct, forbid_unknown_fields=False):
    """Only the version: read when a message does not decode, to tell a newer major apart."""

    v: str = PROTOCOL_VERSION


def content_type_of(header: str | None) -> ContentType:
    """The form named by a ``Content-Type``/``Accept`` header; MessagePack unless JSON is asked for."""
    if header and "json" in header.lower():
        return "json"
    if not header or "msgpack" in header.lower() or header.strip() in ("*/*", ""):
        return "msgpack"
    raise ProtocolError(
        f"unsupported content type {header!r}: send {MSGPACK_TYPE} (binary) or {JSON_TYPE} (JSON)"
    )


def encode(message: msgspec.Struct, form: ContentType = "msgpack") -> bytes:
    """The wire bytes of ``message``."""
    return _msgpack_encoder.encode(message) if form == "msgpack" else _json_encoder.encode(message)


@cache
def _decoder(cls: type[Any], form: ContentType) -> Any:
    return msgspec.msgpack.Decoder(cls) if form == "msgpack" else msgspec.json.Decoder(cls)


def parse_version(text: str) -> tuple[int, int]:
    """``"1.2"`` → ``(1, 2)``; raise :class:`ProtocolError` for anything else."""
    major, dot, minor = text.partition(".")
    if not dot or not major.isdigit() or not minor.isdigit():
        raise ProtocolError(f"malformed protocol version {text!r}: expected major.minor such as 1.0")
    return int(major), int(minor)


def check_version(text: str) -> tuple[int, int]:
    """Accept any minor of our major (newer minors only add fields, which we ignore); refuse others."""
    major, minor = parse_version(text)
    if major != SUPPORTED_MAJOR:
        raise UnsupportedVersion(
            f"protocol version {text} is not supported: this resolver speaks {SUPPORTED_MAJOR}.x "
            f"(up to {PROTOCOL_VERSION}); upgrade the older side or downgrade the newer one"
        )
    return major, minor


def decode(
    data: bytes | bytearray | memoryview,
    cls: type[T],
    form: ContentType = "msgpack",
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> T:
    """Decode and validate one ``cls`` message; every failure is a :class:`ProtocolError`."""
    if len(data) > max_bytes:
        raise MessageTooLarge(
            f"{cls.__name__} message of {len(data)} bytes exceeds the limit of {max_bytes} bytes"
        )
    if not data:
        raise ProtocolError(f"empty {cls.__name__} message")
    try:
        message: T = _decoder(cls, form).decode(data)
    except msgspec.ValidationError as exc:
        _raise_newer_major(data, form, cls)
        text = str(exc)
        kind = MessageTooLarge if "length <=" in text else ProtocolError
        raise kind(f"invalid {cls.__name__} ({form}): {text}") from None
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"malformed {cls.__name__} ({form}): {exc}") from None
    version = getattr(message, "v", None)
    if isinstance(version, str):
        check_version(version)
    return message


def _raise_newer_major(data: bytes | bytearray | memoryview, form: ContentType, cls: type[Any]) -> None:
    """When a message fails validation, a newer major version is the clearer explanation."""
    try:
        head = _decoder(_Head, form).decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError):
        return
    check_version(head.v)
