"""Bad input gets a clear OpenAI-style 400/413 that names the field, and never hurts the server."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.helpers import backends, engine, gateway, make_tree
from semdns.gateway import GatewaySettings

pytestmark = pytest.mark.anyio

USER = [{"role": "user", "content": "hi"}]

MALFORMED: list[tuple[str, bytes, str | None, str]] = [
    ("not-json", b"{this is not json", None, "not valid JSON"),
    ("empty-body", b"", None, "empty"),
    ("json-array", b"[1, 2]", None, "must be a JSON object"),
    ("json-string", b'"hello"', None, "must be a JSON object"),
    ("no-messages", orjson.dumps({"model": "auto"}), "messages", "'messages' is required"),
    ("empty-messages", orjson.dumps({"messages": []}), "messages", "'messages' is empty"),
    ("messages-not-list", orjson.dumps({"messages": "hi"}), "messages", "must be a list"),
    ("message-not-object", orjson.dumps({"messages": ["hi"]}), "messages[0]", "must be an object"),
    ("bad-role", orjson.dumps({"messages": [{"role": "robot", "content": "x"}]}), "messages[0].role", "role"),
    (
        "content-number",
        orjson.dumps({"messages": [{"role": "user", "content": 5}]}),
        "messages[0].content",
        "string",
    ),
    ("content-missing", orjson.dumps({"messages": [{"role": "user"}]}), "messages[0].content", "missing"),
    (
        "blank-user-text",
        orjson.dumps({"messages": [{"role": "user", "content": "   "}]}),
        "messages[0]",
        "no text",
    ),
    ("model-number", orjson.dumps({"model": 3, "messages": USER}), "model", "must be a string"),
    ("model-empty", orjson.dumps({"model": " ", "messages": USER}), "model", "empty"),
    ("stream-string", orjson.dumps({"stream": "yes", "messages": USER}), "stream", "true or false"),
    ("max-tokens-string", orjson.dumps({"max_tokens": "10", "messages": USER}), "max_tokens", "integer"),
    ("max-tokens-zero", orjson.dumps({"max_tokens": 0, "messages": USER}), "max_tokens", "at least 1"),
    ("max-tokens-bool", orjson.dumps({"max_tokens": True, "messages": USER}), "max_tokens", "integer"),
    ("temperature-high", orjson.dumps({"temperature": 7, "messages": USER}), "temperature", "between"),
    ("user-number", orjson.dumps({"user": 1, "messages": USER}), "user", "string"),
    ("stop-number", orjson.dumps({"stop": 1, "messages": USER}), "stop", "string"),
    (
        "bad-part",
        orjson.dumps({"messages": [{"role": "user", "content": [{"x": 1}]}]}),
        "messages[0].content",
        "type",
    ),
]


async def test_malformed_chat_requests_get_a_400_naming_the_problem(tmp_path: Path) -> None:
    """Every case against one running gateway (a server per case would only add start-up time)."""
    async with backends("root") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["root"])]}})
        async with gateway(tree) as gw:
            for case, raw, param, message in MALFORMED:
                response = await gw.client.post(
                    "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
                )
                assert response.status_code == 400, (case, response.text)
                error = response.json()["error"]
                assert error["type"] == "invalid_request_error", case
                assert error["param"] == param, case
                assert message in error["message"], (case, error["message"])
            still_serving = await gw.chat("still there?")
    assert still_serving.status_code == 200
    assert bk["root"].fake.requests == 1  # only the good request reached the backend


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'prompt' is required"),
        ({"prompt": ""}, "'prompt' is empty"),
        ({"prompt": ["a", "b"]}, "one string"),
        ({"prompt": 42}, "must be a string"),
    ],
)
async def test_malformed_completion_requests(tmp_path: Path, body: dict[str, object], message: str) -> None:
    async with backends("root") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["root"])]}})
        async with gateway(tree) as gw:
            response = await gw.client.post("/v1/completions", content=orjson.dumps(body))
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


async def test_oversized_body_is_a_413_whether_declared_or_streamed(tmp_path: Path) -> None:
    async with backends("root") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["root"])]}})
        settings = GatewaySettings(probes=False, warm_local=False, max_body_bytes=1000)
        async with gateway(tree, settings=settings) as gw:
            big = orjson.dumps({"messages": [{"role": "user", "content": "x" * 5000}]})
            declared = await gw.client.post("/v1/chat/completions", content=big)

            async def chunks():  # no content-length: the limit is enforced while reading
                for _ in range(10):
                    yield b" " * 500

            streamed = await gw.client.post("/v1/chat/completions", content=chunks())
            fits = await gw.chat("small")
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "request_too_large"
    assert streamed.status_code == 413
    assert fits.status_code == 200


async def test_multimodal_parts_and_tool_turns_are_accepted(tmp_path: Path) -> None:
    async with backends("root") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["root"])]}})
        async with gateway(tree) as gw:
            messages = [
                {"role": "user", "content": [{"type": "text", "text": "what is"}, {"type": "image_url"}]},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
                {"role": "tool", "content": "42", "tool_call_id": "1"},
            ]
            response = await gw.client.post(
                "/v1/chat/completions", content=orjson.dumps({"messages": messages})
            )
    assert response.status_code == 200, response.text
