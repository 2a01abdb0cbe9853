"""Property tests over the resolver protocol (``POST /semdns/v1/query``): any bytes, any JSON or
MessagePack, and well-formed queries with hostile fields get a sealed answer envelope — an error
answer for what cannot be accepted — never a crash and never a hang; oversized messages are refused at
the cap."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from security.live import LiveGateway
from semdns.protocol.codec import JSON_TYPE, MSGPACK_TYPE, decode
from semdns.protocol.messages import MAX_MESSAGE_BYTES, Answer, Envelope

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "delegation" / "legal.yaml"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=15,
)
queries = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 2, 0, -1]) | values, "id": st.text(max_size=40) | values},
    optional={
        "text": st.text(max_size=200) | values,
        "zone": st.sampled_from(["legal.", ".", "code.", "legal.\r\nx-evil: 1"]) | st.text(max_size=20),
        "embedding": st.lists(st.floats(allow_nan=False, width=32), max_size=8) | values,
        "context": st.text(max_size=50),
        "recursive": st.booleans() | values,
        "hops": st.integers(-5, 100),
        "hop_limit": st.integers(-5, 100),
        "timeout_ms": st.integers(-5, 10**7),
        "path": st.lists(
            st.fixed_dictionaries({"zone": st.text(max_size=10), "server": st.text(max_size=20)}), max_size=20
        ),
        "constraints": values,
        "text_compressed": values,
    },
)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveGateway]:
    gateway = LiveGateway(protocol=EXAMPLE).wait_started()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def client(live: LiveGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=15, trust_env=False) as c:
        yield c


def check(response: httpx.Response) -> Answer:
    assert response.status_code < 500 or response.status_code in (502, 503, 504, 508), response.text
    form = "json" if "json" in response.headers["content-type"] else "msgpack"
    envelope = decode(response.content, Envelope, form)  # type: ignore[arg-type]
    assert envelope.sig is not None  # even error answers are signed
    answer = decode(bytes(envelope.payload), Answer, form)  # type: ignore[arg-type]
    for value in response.headers.values():
        assert "\r" not in value and "\n" not in value
    return answer


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=400), form=st.sampled_from([JSON_TYPE, MSGPACK_TYPE]))
def test_any_bytes(client: httpx.Client, raw: bytes, form: str) -> None:
    check(client.post("/semdns/v1/query", content=raw, headers={"content-type": form}))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries, form=st.sampled_from(["json", "msgpack"]))
def test_hostile_queries(client: httpx.Client, query: dict[str, Any], form: str) -> None:
    raw = json.dumps(query).encode() if form == "json" else msgspec.msgpack.encode(query)
    content_type = JSON_TYPE if form == "json" else MSGPACK_TYPE
    check(client.post("/semdns/v1/query", content=raw, headers={"content-type": content_type}))


def test_an_oversized_query_is_refused_at_the_cap(client: httpx.Client) -> None:
    raw = b"{" + b" " * (MAX_MESSAGE_BYTES + 10) + b"}"
    response = client.post("/semdns/v1/query", content=raw, headers={"content-type": JSON_TYPE})
    assert response.status_code == 413
    check(response)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ident=st.text(max_size=60))
@example(ident="0/")  # found by this test: the router redirected .../0%2F to .../0 (another id)
def test_dictionary_ids(client: httpx.Client, ident: str) -> None:
    response = client.get("/semdns/v1/dictionaries/" + (quote(ident, safe="") or "x"))
    assert response.status_code in (200, 404, 405), response.text


def test_a_dictionary_id_with_a_slash_is_not_found_not_redirected(client: httpx.Client) -> None:
    for path in ("0%2F", "a%2Fb", "x/y", "0/"):
        response = client.get("/semdns/v1/dictionaries/" + path, follow_redirects=False)
        assert response.status_code == 404, (path, response.status_code)
        assert response.json()["error"]["message"].startswith("dictionary "), response.text
