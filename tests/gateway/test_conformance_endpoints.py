"""``/v1/embeddings`` and ``/v1/responses`` driven by the official ``openai`` client: the packaged
MiniLM encoder, embeddings passed through to a name's server (the project's fake on a real port), and
the Responses API routed like chat, streaming included, with its refusals."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import openai
import pytest

from gateway.helpers import Backend, Gateway, StubResolver, backends, engine, gateway, make_tree
from semdns.resolve import MiniLMEncoder

pytestmark = pytest.mark.anyio


@dataclass
class Stack:
    gw: Gateway
    fakes: dict[str, Backend]
    client: openai.AsyncOpenAI
    encoder: MiniLMEncoder


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory, encoder: MiniLMEncoder) -> AsyncIterator[Stack]:
    async with backends("root", "a", "b") as fakes:
        tree = make_tree(
            tmp_path_factory.mktemp("endpoints"),
            {
                "@": {"engines": [engine(fakes["root"])]},
                "a": {"engines": [engine(fakes["a"])]},
                "b": {"engines": [engine(fakes["b"])]},
                "loc": {"engines": [{"kind": "local"}]},
            },
        )
        resolver = StubResolver([("legal", "b.")])
        resolver.encoder = encoder  # type: ignore[attr-defined]  # the encoder the gateway reuses
        async with gateway(tree, resolver) as gw:
            client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
            yield Stack(gw, fakes, client, encoder)
            await client.close()


# -- embeddings ------------------------------------------------------------------------------------


async def test_the_packaged_encoder_serves_embeddings(stack: Stack) -> None:
    texts = ["cats purr on the sofa", "the court dismissed the appeal", "a kitten is purring"]
    result = await stack.client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    assert result.model == "all-MiniLM-L6-v2"
    vectors = np.array([d.embedding for d in sorted(result.data, key=lambda d: d.index)], dtype=np.float32)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(vectors, stack.encoder.encode(texts), atol=1e-5)
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]  # cats are nearer kittens than courts
    assert result.usage.prompt_tokens == sum(len(stack.encoder.token_ids(t)) for t in texts)


async def test_float_and_base64_encodings_agree(stack: Stack) -> None:
    plain = await stack.client.embeddings.create(model="auto", input="hello", encoding_format="float")
    raw = await stack.client.embeddings.with_raw_response.create(
        model="auto", input="hello", encoding_format="base64"
    )
    packed = raw.http_response.json()["data"][0]["embedding"]
    decoded = np.frombuffer(base64.b64decode(packed), dtype="<f4")
    np.testing.assert_allclose(decoded, plain.data[0].embedding, atol=1e-6)


async def test_embeddings_pass_through_to_a_names_server(stack: Stack) -> None:
    raw = await stack.client.embeddings.with_raw_response.create(
        model="a", input=["x", "y"], dimensions=3, user="u1"
    )
    result = raw.parse()
    assert raw.headers["x-semdns-name"] == "a."
    assert [d.embedding for d in result.data] == [[0.5, 0.25, 0.0], [0.5, 0.25, 1.0]]
    body = stack.fakes["a"].fake.last_body
    assert body is not None
    assert body["model"] == "a" and body["input"] == ["x", "y"]
    assert body["dimensions"] == 3 and body["user"] == "u1"


@pytest.mark.parametrize(
    ("kwargs", "param", "error"),
    [
        (
            {"model": "all-MiniLM-L6-v2", "input": "x", "dimensions": 128},
            "dimensions",
            openai.BadRequestError,
        ),
        ({"model": "all-MiniLM-L6-v2", "input": [[1, 2, 3]]}, "input", openai.BadRequestError),
        ({"model": "all-MiniLM-L6-v2", "input": []}, "input", openai.BadRequestError),
        (
            {"model": "all-MiniLM-L6-v2", "input": "x", "encoding_format": "int8"},
            "encoding_format",
            openai.BadRequestError,
        ),
        ({"model": "loc", "input": "x"}, "model", openai.BadRequestError),
        ({"model": "no.such.name", "input": "x"}, None, openai.NotFoundError),
    ],
)
async def test_embedding_errors(stack: Stack, kwargs: dict[str, Any], param: str | None, error: type) -> None:
    with pytest.raises(error) as caught:
        await stack.client.embeddings.create(**kwargs)
    assert getattr(caught.value, "param", None) == param


async def test_embeddings_malformed_bodies(stack: Stack) -> None:
    for body in (b"", b"[1]", b"{", b'{"input": "x"}', b'{"model": "auto"}'):
        response = await stack.gw.client.post("/v1/embeddings", content=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["type"] == "invalid_request_error"


# -- responses -------------------------------------------------------------------------------------


async def test_a_response_is_routed_like_chat(stack: Stack) -> None:
    raw = await stack.client.responses.with_raw_response.create(
        model="auto",
        input="a legal question",
        instructions="Be brief.",
        max_output_tokens=5,
        temperature=0.2,
        metadata={"k": "v"},
    )
    response = raw.parse()
    assert raw.headers["x-semdns-name"] == "b."
    assert response.output_text == "hello from b"
    assert response.status == "completed"
    assert (
        response.usage is not None and response.usage.input_tokens == 1 and response.usage.total_tokens == 4
    )
    sent = stack.fakes["b"].fake.last_body
    assert sent is not None
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a legal question"},
    ]
    assert (
        sent["max_completion_tokens"] == 5 and sent["temperature"] == 0.2 and sent["metadata"] == {"k": "v"}
    )


async def test_a_response_from_message_items_with_the_sync_client(stack: Stack) -> None:
    def call() -> Any:
        with openai.OpenAI(base_url=str(stack.client.base_url), api_key="unused", max_retries=0) as sync:
            return sync.responses.create(
                model="a",
                input=[
                    {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
                    {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "again"},
                ],
                text={"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}}},
            )

    response = await asyncio.to_thread(call)
    assert json.loads(response.output_text) == {"reply": "hello from a"}
    sent = stack.fakes["a"].fake.last_body
    assert sent is not None
    assert [m["content"] for m in sent["messages"]] == ["hi", "hello", "again"]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "r", "schema": {"type": "object"}},
    }


async def test_a_streamed_response(stack: Stack) -> None:
    stack.fakes["a"].fake.behaviour.reply = "one two three"
    try:
        stream = await stack.client.responses.create(model="a", input="hi", stream=True)
        events = [event async for event in stream]
    finally:
        stack.fakes["a"].fake.behaviour.reply = None
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "one two three"
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == "one two three"
    assert final.usage is not None and final.usage.total_tokens == 4
    sent = stack.fakes["a"].fake.last_body
    assert sent is not None and sent["stream"] is True and sent["stream_options"] == {"include_usage": True}


async def test_the_stream_helper_accumulates_the_response(stack: Stack) -> None:
    async with stack.client.responses.stream(model="a", input="hi") as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()
    assert final.output_text == "hello from a"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"tools": [{"type": "function", "name": "f", "parameters": {}}]}, "tools"),
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"reasoning": {"effort": "low"}}, "reasoning"),
        ({"store": True}, "store"),
        ({"truncation": "auto"}, "truncation"),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "input[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input[0].content[0]",
        ),
        ({"input": ""}, "input"),
        ({"temperature": 5}, "temperature"),
    ],
)
async def test_response_refusals_name_the_parameter(stack: Stack, kwargs: dict[str, Any], param: str) -> None:
    arguments = {"model": "a", "input": "hi", **kwargs}
    with pytest.raises(openai.BadRequestError) as caught:
        await stack.client.responses.create(**arguments)
    assert caught.value.param == param


async def test_response_errors_keep_their_class(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError):
        await stack.client.responses.create(model="no.such.name", input="hi")
    response = await stack.gw.client.post("/v1/responses", content=b"{nope")
    assert response.status_code == 400
