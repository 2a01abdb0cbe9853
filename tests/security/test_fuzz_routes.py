"""Property tests over the OpenAI routes (schemathesis-style, with hypothesis): whatever a client
sends — any JSON, any bytes, hostile headers, names with CR/LF — the gateway answers within a bound,
never with 500, always with an OpenAI-style error body when it refuses, and never lets a client's
text become a response header."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from security.live import LiveGateway
from semdns.gateway import GatewaySettings

pytestmark = pytest.mark.slow

ERROR_CODES_5XX = {"upstream_error", "upstream_rejected", "upstream_timeout", "no_engine_available",
                   "engine_overloaded", "deadline_exceeded", "resolution_failed"}  # fmt: skip
HEADER_SAFE = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)
names = st.sampled_from(["auto", "legal", "contracts.legal.", "CN=Legal", ".", "nope.nowhere", ""]) | st.text(
    max_size=30
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "tool"]) | st.text(max_size=8)},
        optional={"content": st.text(max_size=60) | json_values, "name": json_values},
    ),
    max_size=4,
)
chat_bodies = st.fixed_dictionaries(
    {"messages": messages | json_values},
    optional={
        "model": names | json_values,
        "stream": st.booleans() | json_values,
        "temperature": st.floats(-5, 5) | json_values,
        "max_tokens": st.integers(-10, 10**6) | json_values,
        "n": st.integers(-2, 5),
        "user": st.text(max_size=20) | json_values,
        "stop": json_values,
    },
)
completion_bodies = st.fixed_dictionaries(
    {"prompt": st.text(max_size=60) | json_values}, optional={"model": names, "stream": st.booleans()}
)


@pytest.fixture(scope="module")
def live() -> Iterator[LiveGateway]:
    gateway = LiveGateway(
        GatewaySettings(probes=False, warm_local=False, max_body_bytes=65_536, body_timeout_s=2.0)
    ).wait_started()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(scope="module")
def client(live: LiveGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10, trust_env=False) as c:
        yield c


def _dumps(value: object) -> bytes:
    """Any JSON, big integers included (orjson refuses those; the gateway must still cope)."""
    return json.dumps(value).encode()


def check(response: httpx.Response) -> None:
    """The invariants of every answer."""
    assert response.status_code != 500, response.text
    for key, value in response.headers.items():
        assert "\r" not in value and "\n" not in value
        assert not key.startswith("x-evil")
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        if response.status_code >= 500:
            assert error["code"] in ERROR_CODES_5XX, error
    elif response.headers["content-type"].startswith("application/json"):
        body = response.json()
        assert "semdns" in body


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=chat_bodies)
def test_chat_completions_never_crash(client: httpx.Client, body: dict[str, Any]) -> None:
    check(client.post("/v1/chat/completions", content=_dumps(body)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=completion_bodies)
def test_completions_never_crash(client: httpx.Client, body: dict[str, Any]) -> None:
    check(client.post("/v1/completions", content=_dumps(body)))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_bytes_get_a_clean_error(client: httpx.Client, raw: bytes) -> None:
    response = client.post("/v1/chat/completions", content=raw)
    check(response)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(authorization=HEADER_SAFE, session=HEADER_SAFE, cache=HEADER_SAFE)
def test_hostile_headers(client: httpx.Client, authorization: str, session: str, cache: str) -> None:
    headers = {
        "authorization": authorization,
        "x-session-id": session,
        "cache-control": cache,
        "x-semdns-cache": cache,
    }
    body = orjson.dumps({"model": "legal", "messages": [{"role": "user", "content": "hi"}]})
    check(client.post("/v1/chat/completions", content=body, headers={k: v for k, v in headers.items() if v}))


@pytest.mark.parametrize(
    ("length", "statuses"),
    [
        ("abc", {400}),
        ("-1", {400}),
        ("1e3", {400}),
        ("99999999999999999999", {400, 413}),
        ("100000", {413}),  # above max_body_bytes: refused before reading
        ("500", {408}),  # more than is sent: the body never completes, 408 after body_timeout_s
    ],
)
def test_lying_content_length(live: LiveGateway, length: str, statuses: set[int]) -> None:
    body = b'{"model": "legal", "messages": [{"role": "user", "content": "hi"}]}'
    head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {length}\r\n\r\n".encode()
    status, elapsed = raw_exchange(live.port, head + body, wait_s=8)
    assert status in statuses
    assert elapsed < 6


def raw_exchange(port: int, data: bytes, *, wait_s: float) -> tuple[int, float]:
    """Send ``data`` on a fresh connection; the status of the first response and how long it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(data)
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 "), reply[:80]
    return int(reply.split(b" ", 2)[1]), time.monotonic() - started


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.text(max_size=40)
    | st.sampled_from(["legal.\r\nx-evil: 1", "CN=Legal\r\nx-evil: 1,O=x", "legal.\nx-evil:1"])
)
def test_names_and_dns_never_become_headers(client: httpx.Client, name: str) -> None:
    body = orjson.dumps({"model": name, "messages": [{"role": "user", "content": "hi"}]})
    check(client.post("/v1/chat/completions", content=body))
    check(client.get("/admin/resolve", params={"q": name}))


def test_memory_stays_bounded_under_hostile_traffic(live: LiveGateway, client: httpx.Client) -> None:
    """Hundreds of distinct hostile requests (new names, keys, sessions, bodies each time) leave the
    gateway's Python heap about where it was: nothing keyed by client input grows without bound."""
    import random
    import tracemalloc

    rng = random.Random(17)

    def burst(n: int) -> None:
        for i in range(n):
            body = {
                "model": rng.choice(["auto", "legal", f"n{i}.nowhere", "CN=x" * 3]),
                "messages": [{"role": "user", "content": f"contract {i} " + "x" * rng.randrange(2000)}],
                "temperature": 0,
                "user": f"session-{i}",
            }
            headers = {"authorization": f"Bearer key-{i}", "x-session-id": f"s{i}"}
            check(client.post("/v1/chat/completions", content=_dumps(body), headers=headers))

    tracemalloc.start()
    try:
        burst(150)  # warm-up: pools, first cache entries, lazy imports
        before = tracemalloc.get_traced_memory()[0]
        burst(450)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # Each cached answer (one per key, 450 keys) is a few kB; 450 of them must not cost 16 MB.
    print(f"heap growth over 450 hostile requests: {(after - before) / 1e6:.2f} MB")
    assert after - before < 16 * 1024 * 1024, (before, after)
