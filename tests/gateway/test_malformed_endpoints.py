"""Malformed bodies on ``/v1/responses`` and ``/v1/embeddings`` and malformed admin query parameters that
no other test feeds: each is a 400 in OpenAI's error shape naming the field, and nothing reaches a
backend or the cache (the packaged encoder is never loaded: validation comes first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway.helpers import backends, engine, gateway, make_tree
from semdns.gateway import GatewaySettings
from semdns.tenancy import add_tenant_key

pytestmark = pytest.mark.anyio


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


async def _each_names_its_field(
    client: httpx.AsyncClient,
    route: str,
    base: dict[str, Any],
    cases: list[tuple[str, dict[str, Any], str, str]],
) -> None:
    """Every case (``base`` with its fields) is a 400 naming its field, with its words in the message."""
    for case, extra, param, message in cases:
        response = await client.post(route, content=orjson.dumps({**base, **extra}))
        error = _error(response, 400)
        assert error["param"] == param, (case, error)
        assert message in error["message"], (case, error["message"])


RESPONSES: list[tuple[str, dict[str, Any], str, str]] = [
    ("instructions-number", {"instructions": 5}, "instructions", "must be a string"),
    ("text-string", {"text": "json"}, "text", "must be an object"),
    ("text-format-type", {"text": {"format": {"type": "yaml"}}}, "text.format", "text.format.type"),
    ("text-format-string", {"text": {"format": "json"}}, "text.format", "text.format.type"),
    ("stream-string", {"stream": "yes"}, "stream", "true or false"),
    ("unknown-field", {"colour": "red"}, "colour", "not supported"),
    ("input-missing", {"input": None}, "input", "required"),
    ("input-number", {"input": 7}, "input", "required"),
    ("input-empty-list", {"input": []}, "input", "required"),
    ("input-item-string", {"input": ["hi"]}, "input[0]", "only messages"),
    ("input-bad-role", {"input": [{"role": "robot", "content": "x"}]}, "input[0]", "role"),
    ("input-content-number", {"input": [{"role": "user", "content": 3}]}, "input[0]", "content"),
    ("input-part-string", {"input": [{"role": "user", "content": ["x"]}]}, "input[0].content[0]", "text"),
    ("model-number", {"model": 3}, "model", "must be a string"),
]


async def test_malformed_responses_requests_name_the_field(tmp_path: Path) -> None:
    async with backends("root") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["root"])]}})
        async with gateway(tree) as gw:
            await _each_names_its_field(
                gw.client, "/v1/responses", {"model": "auto", "input": "hi"}, RESPONSES
            )
            for raw in (b"", b"[]", b'"hi"', b"{", b"\xff\xfe{}"):
                error = _error(await gw.client.post("/v1/responses", content=raw), 400)
                assert error["param"] is None, raw
            still = await gw.client.post("/v1/responses", content=orjson.dumps({"input": "still there?"}))
    assert still.status_code == 200, still.text
    assert bk["root"].fake.requests == 1  # only the good request reached the backend


async def test_a_bad_max_output_tokens_is_named_as_sent(tmp_path: Path) -> None:
    async with backends("root") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["root"])]}})
        async with gateway(tree) as gw:
            body = {"model": "auto", "input": "hi", "max_output_tokens": "ten"}
            response = await gw.client.post("/v1/responses", content=orjson.dumps(body))
    error = _error(response, 400)
    assert bk["root"].fake.requests == 0
    assert error["param"] == "max_output_tokens" and "max_output_tokens" in error["message"]


EMBEDDINGS: list[tuple[str, dict[str, Any], str, str]] = [
    ("dimensions-string", {"dimensions": "384"}, "dimensions", "positive integer"),
    ("dimensions-bool", {"dimensions": True}, "dimensions", "positive integer"),
    ("dimensions-zero", {"dimensions": 0}, "dimensions", "positive integer"),
    ("dimensions-float", {"dimensions": 384.0}, "dimensions", "positive integer"),
    ("user-number", {"user": 5}, "user", "must be a string"),
    ("input-number", {"input": 5}, "input", "string or a list"),
    ("input-object", {"input": {"text": "x"}}, "input", "string or a list"),
    ("input-blank-item", {"input": ["fine", "  "]}, "input", "input[1] is empty"),
    ("input-blank-string", {"input": ""}, "input", "input[0] is empty"),
    ("input-too-many", {"input": ["x"] * 2049}, "input", "1 to 2048 items"),
    ("unknown-field", {"colour": "red"}, "colour", "not supported"),
    ("model-number", {"model": 1}, "model", "is required"),
    ("model-blank", {"model": "  "}, "model", "is required"),
]


async def test_malformed_embeddings_requests_name_the_field(tmp_path: Path) -> None:
    async with backends("root") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["root"])]}})
        async with gateway(tree) as gw:
            base = {"model": "all-MiniLM-L6-v2", "input": "hi"}
            await _each_names_its_field(gw.client, "/v1/embeddings", base, EMBEDDINGS)
            # A name's own server: the same checks come before the pass-through.
            passed = {"model": ".", "input": "hi", "dimensions": "many"}
            error = _error(await gw.client.post("/v1/embeddings", content=orjson.dumps(passed)), 400)
            assert error["param"] == "dimensions"
    assert bk["root"].fake.requests == 0


@pytest.mark.parametrize("route", ["/v1/responses", "/v1/embeddings"])
async def test_an_oversized_body_is_a_413(tmp_path: Path, route: str) -> None:
    async with backends("root") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["root"])]}})
        settings = GatewaySettings(probes=False, warm_local=False, max_body_bytes=1000)
        async with gateway(tree, settings=settings) as gw:
            big = orjson.dumps({"model": ".", "input": "x" * 5000})
            response = await gw.client.post(route, content=big)
    assert bk["root"].fake.requests == 0
    assert response.json()["error"]["message"].endswith("the limit is 1000")
    error = _error(response, 413)
    assert error["code"] == "request_too_large" and "limit" in error["message"]


ADMIN_KEY = "sk-semdns-operator-malformed"


async def test_cache_purge_refuses_an_unknown_tenant_and_a_malformed_name(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.yaml"
    key = add_tenant_key(tenants, "acme")
    async with backends("root") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["root"])]}})
        settings = GatewaySettings(
            probes=False, warm_local=False, tenants_file=str(tenants), admin_key=ADMIN_KEY
        )
        async with gateway(tree, settings=settings) as gw:
            chat = {"model": ".", "temperature": 0, "messages": [{"role": "user", "content": "keep me"}]}
            user = {"authorization": f"Bearer {key}"}
            first = await gw.client.post("/v1/chat/completions", content=orjson.dumps(chat), headers=user)
            assert first.status_code == 200, first.text
            await gw.runtime.edge.cache.drain()  # type: ignore[union-attr]
            admin = {"authorization": f"Bearer {ADMIN_KEY}"}
            unknown = await gw.client.post("/admin/cache/purge", params={"tenant": "nobody"}, headers=admin)
            error = _error(unknown, 400)
            assert error["param"] == "tenant" and "nobody" in error["message"]
            malformed = await gw.client.post("/admin/cache/purge", params={"name": "a..b"}, headers=admin)
            assert malformed.status_code in (400, 404), malformed.text
            assert set(malformed.json()["error"]) == {"message", "type", "param", "code"}
            again = await gw.client.post("/v1/chat/completions", content=orjson.dumps(chat), headers=user)
    assert again.headers["x-semdns-response-cache"] == "hit"  # the refused purges removed nothing
    assert bk["root"].fake.requests == 1
