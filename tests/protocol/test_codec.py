"""The codec: every message round-trips (hypothesis), golden vectors, versions, and hostile bytes."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import random
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from semdns.errors import MessageTooLarge, ProtocolError, UnsupportedVersion
from semdns.protocol import codec
from semdns.protocol.messages import MESSAGES, PROTOCOL_VERSION, Answer, Envelope, Query
from semdns.protocol.schema import json_schema, render
from semdns.protocol.signing import verify
from semdns.protocol.vectors import TEST_KEY_SEED, fixed_test_key, invalid_vectors, render_all

REPO = Path(__file__).parent.parent.parent
VECTORS = REPO / "docs" / "protocol" / "vectors"
FORMS: tuple[Literal["msgpack", "json"], ...] = ("msgpack", "json")


# -- a strategy for any message, derived from the message types themselves -------------------------


def _strategy(t: msgspec.inspect.Type) -> st.SearchStrategy[Any]:
    mi = msgspec.inspect
    if isinstance(t, mi.StructType):
        fields = {f.name: _field(f) for f in t.fields if f.required}
        optional = {f.name: _field(f) for f in t.fields if not f.required}
        return st.builds(t.cls, **fields, **{k: v for k, v in optional.items()})
    if isinstance(t, mi.StrType):
        if t.pattern == r"^https?://":
            return st.sampled_from(["http://127.0.0.1:18941", "https://legal.example/x"])
        if t.pattern:
            return st.from_regex(t.pattern, fullmatch=True).filter(
                lambda s: (t.max_length is None or len(s) <= t.max_length) and len(s) >= (t.min_length or 0)
            )
        low = t.min_length or 0
        return st.text(min_size=low, max_size=max(low, min(t.max_length or 40, 40)))
    if isinstance(t, mi.BytesType):
        return st.binary(min_size=t.min_length or 0, max_size=min(t.max_length or 64, 64))
    if isinstance(t, mi.IntType):
        return st.integers(
            min_value=t.ge if t.ge is not None else -(2**40), max_value=t.le if t.le is not None else 2**40
        )
    if isinstance(t, mi.FloatType):
        return st.floats(
            min_value=t.ge if t.ge is not None else -1e9,
            max_value=t.le if t.le is not None else 1e9,
            allow_nan=False,
        )
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.UnionType):
        return st.one_of(*[_strategy(x) for x in t.types])
    if isinstance(t, mi.ListType):
        return st.lists(
            _strategy(t.item_type), min_size=t.min_length or 0, max_size=min(t.max_length or 3, 3)
        )
    if isinstance(t, mi.RawType):
        return st.just(msgspec.Raw(msgspec.msgpack.encode({"id": "x"})))
    raise AssertionError(f"no strategy for {t}")


def _field(f: msgspec.inspect.Field) -> st.SearchStrategy[Any]:
    if f.name == "v":  # any version this reader accepts: same major, any minor
        return st.from_regex(r"1\.[0-9]{1,3}", fullmatch=True)
    return _strategy(f.type)


ROUND_TRIP = [name for name in MESSAGES if name != "Envelope"]


@pytest.mark.parametrize("name", ROUND_TRIP)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_message_round_trips_in_both_forms(name: str, data: st.DataObject) -> None:
    cls = MESSAGES[name]
    message = data.draw(_strategy(msgspec.inspect.type_info(cls)))
    for form in FORMS:
        assert codec.decode(codec.encode(message, form), cls, form) == message


@pytest.mark.parametrize("form", FORMS)
def test_envelope_round_trip_keeps_the_exact_payload_bytes(form: Literal["msgpack", "json"]) -> None:
    payload = codec.encode(Answer(id="q1", zone="legal."), form)
    envelope = Envelope(zone="legal.", payload=msgspec.Raw(payload), sig=b"s" * 64)
    decoded = codec.decode(codec.encode(envelope, form), Envelope, form)
    assert bytes(decoded.payload) == payload
    assert codec.decode(bytes(decoded.payload), Answer, form) == Answer(id="q1", zone="legal.")


# -- golden vectors -------------------------------------------------------------------------------


def _meaning(text: str) -> Any:
    """A published vector as data: its JSON, with the embedded ``json_text`` parsed too, so that the
    comparison is about fields and bytes, not about how a library lays out whitespace."""
    value = json.loads(text)
    if isinstance(value, dict) and isinstance(value.get("json_text"), str):
        value["json_text"] = json.loads(value["json_text"])
    return value


def test_published_vectors_and_schema_are_up_to_date() -> None:
    rendered = render_all()
    assert sorted(rendered) == sorted(p.name for p in VECTORS.glob("*.json")), (
        "docs/protocol/vectors/ is stale: python -m semdns.protocol.vectors"
    )
    for name, text in rendered.items():
        assert _meaning((VECTORS / name).read_text(encoding="utf-8")) == _meaning(text), (
            f"docs/protocol/vectors/{name} is stale: python -m semdns.protocol.vectors"
        )
    published = json.loads((REPO / "docs" / "protocol" / "schema.json").read_text(encoding="utf-8"))
    assert published == json.loads(render()), (
        "docs/protocol/schema.json is stale: python -m semdns.protocol.schema > docs/protocol/schema.json"
    )


def test_schema_descriptions_do_not_depend_on_docstring_indentation() -> None:
    """msgspec 0.23 dedents docstrings and earlier releases did not: the schema cleans them itself."""
    for definition in json_schema()["$defs"].values():
        description = definition.get("description", "")
        assert description == inspect.cleandoc(description)


@pytest.mark.parametrize("path", sorted(VECTORS.glob("*.json")), ids=lambda p: p.stem)
def test_golden_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    cls = MESSAGES[vector["message"]]
    data = bytes.fromhex(vector["msgpack_hex"])
    if vector["kind"] == "invalid":
        with pytest.raises(ProtocolError) as info:
            codec.decode(data, cls)
        assert info.value.code == vector["error_code"]
        return
    from_msgpack = codec.decode(data, cls, "msgpack")
    assert codec.encode(from_msgpack, "msgpack") == data, "re-encoding must give the same bytes"
    json_bytes = vector.get("json_text", json.dumps(vector["json"])).encode()
    from_json = codec.decode(json_bytes, cls, "json")
    if cls is Envelope:
        key = fixed_test_key()
        assert vector["signing"]["public_key"] == key.public_text
        assert bytes.fromhex(vector["signing"]["test_private_seed_hex"]) == TEST_KEY_SEED
        verify(key.public_text, bytes(from_msgpack.payload), from_msgpack.sig, who="vector")
        verify(key.public_text, bytes(from_json.payload), from_json.sig, who="vector")
        assert codec.decode(bytes(from_json.payload), Answer, "json") == codec.decode(
            bytes(from_msgpack.payload), Answer, "msgpack"
        )
    else:
        assert from_json == from_msgpack


def test_invalid_vectors_cover_the_error_codes() -> None:
    codes = {code for _, _, code in invalid_vectors().values()}
    assert codes == {"unsupported_version", "malformed_message", "message_too_large"}


# -- versions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_newer_minor_is_read_and_unknown_fields_ignored(form: Literal["msgpack", "json"]) -> None:
    raw = {"v": "1.9", "id": "q-1", "text": "hello", "a_future_field": {"x": [1, 2]}, "hops": 1}
    data = msgspec.msgpack.encode(raw) if form == "msgpack" else json.dumps(raw).encode()
    query = codec.decode(data, Query, form)
    assert (query.v, query.text, query.hops) == ("1.9", "hello", 1)


@pytest.mark.parametrize("form", FORMS)
def test_newer_major_is_refused_with_a_clear_error(form: Literal["msgpack", "json"]) -> None:
    # A 2.x message may change anything, even the type of a 1.x field: still refused by version.
    raw = {"v": "2.0", "id": 17, "text": ["restructured"]}
    data = msgspec.msgpack.encode(raw) if form == "msgpack" else json.dumps(raw).encode()
    with pytest.raises(UnsupportedVersion, match=r"protocol version 2\.0 is not supported.*1\.x"):
        codec.decode(data, Query, form)


def test_malformed_version_string() -> None:
    with pytest.raises(ProtocolError, match="malformed protocol version"):
        codec.check_version("one")
    assert codec.check_version(PROTOCOL_VERSION) == (1, 2)


def test_content_types() -> None:
    assert codec.content_type_of("application/json; charset=utf-8") == "json"
    assert codec.content_type_of("application/vnd.semdns+msgpack") == "msgpack"
    assert codec.content_type_of(None) == "msgpack"
    with pytest.raises(ProtocolError, match="unsupported content type 'text/html'"):
        codec.content_type_of("text/html")


# -- hostile input --------------------------------------------------------------------------------


def test_oversized_message_is_refused_before_parsing() -> None:
    with pytest.raises(MessageTooLarge, match="exceeds the limit of 1000 bytes"):
        codec.decode(b"\x80" * 1001, Query, max_bytes=1000)


def test_empty_message() -> None:
    with pytest.raises(ProtocolError, match="empty Query message"):
        codec.decode(b"", Query)


def test_deeply_nested_input_is_a_clean_error() -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ProtocolError):
        codec.decode(nested, Query, "json")


@pytest.mark.parametrize("name", list(MESSAGES))
@pytest.mark.parametrize("form", FORMS)
def test_random_and_truncated_bytes_give_clean_errors(name: str, form: Literal["msgpack", "json"]) -> None:
    cls = MESSAGES[name]
    rng = random.Random(f"{name}-{form}")
    good = codec.encode(
        Query(id="q-1", text="Can my landlord keep my deposit?", hops=2, tenant="t1")
        if cls is Query
        else Answer(id="q-1", zone="legal."),
        form,
    )
    samples = [os.urandom(rng.randint(1, 200)) for _ in range(150)]
    samples += [good[:cut] for cut in range(1, len(good))]
    samples += [
        bytes(b ^ (1 << rng.randrange(8)) if rng.random() < 0.05 else b for b in good) for _ in range(150)
    ]
    for data in samples:
        try:
            codec.decode(data, cls, form)
        except ProtocolError as exc:
            assert str(exc), "errors must say what is wrong"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_decoder_never_crashes_on_arbitrary_bytes(data: bytes) -> None:
    for form in FORMS:
        for cls in (Query, Answer, Envelope):
            with contextlib.suppress(ProtocolError):
                codec.decode(data, cls, form)


def test_literal_fields_have_the_documented_values() -> None:
    from semdns.protocol.messages import HopKind

    assert set(get_args(HopKind)) == {"answer", "referral", "error", "stale", "cached"}
