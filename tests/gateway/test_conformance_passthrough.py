"""OpenAI conformance through a pass-through engine, driven by the official ``openai`` client (sync,
async and streaming): every parameter reaches the backend untouched, and what a conformant backend
answers (tool calls, ``n`` choices, logprobs, JSON, the usage chunk) comes back as it came.

The backend is the project's fake OpenAI server (``semdns.testing``) on a real port: it honours those
parameters the way vLLM or llama.cpp's server do, with fixed values that the tests recognise. One
gateway and its backends serve the whole module.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from gateway.helpers import Backend, Gateway, StubResolver, backends, engine, gateway, make_tree

pytestmark = pytest.mark.anyio

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
USER = [{"role": "user", "content": "hello"}]


@dataclass
class Stack:
    gw: Gateway
    fakes: dict[str, Backend]
    client: openai.AsyncOpenAI
    sync: openai.OpenAI


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("conformance")
    async with backends("root", "a", "b") as fakes:
        tree = make_tree(
            tmp,
            {
                "@": {"engines": [engine(fakes["root"])]},
                "a": {"engines": [engine(fakes["a"])]},
                "b": {"engines": [engine(fakes["b"])]},
                # A local engine under a pass-through root: it refuses what llama.cpp cannot do, and
                # such requests must fall back to the root rather than lose the parameter.
                "loc": {"engines": [{"kind": "local"}]},
            },
        )
        resolver = StubResolver([("both", "a."), ("both", "b.")], names=["a.", "b."])
        async with gateway(tree, resolver) as gw:
            base = f"{gw.url}/v1"
            client = openai.AsyncOpenAI(base_url=base, api_key="unused", max_retries=0)
            sync = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
            yield Stack(gw, fakes, client, sync)
            await client.close()
            sync.close()


async def test_every_chat_parameter_reaches_the_backend_untouched(stack: Stack) -> None:
    sent: dict[str, Any] = {
        "frequency_penalty": 0.5,
        "presence_penalty": -0.5,
        "logit_bias": {"50256": -100},
        "logprobs": True,
        "top_logprobs": 2,
        "max_completion_tokens": 9,
        "metadata": {"team": "qa"},
        "n": 2,
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "seed": 42,
        "service_tier": "default",
        "stop": ["\n\n", "END"],
        "store": False,
        "temperature": 0.3,
        "top_p": 0.9,
        "user": "user-7",
        "safety_identifier": "sid",
        "prompt_cache_key": "k1",
        "reasoning_effort": "low",
        "verbosity": "low",
    }
    completion = await stack.client.chat.completions.create(
        model="a", messages=USER, extra_body={"top_k": 5, "guided_choice": ["x"]}, **sent
    )
    body = stack.fakes["a"].fake.last_body
    assert body is not None
    assert body["model"] == "a"  # the backend's own model name replaces the semantic one
    for key, value in {**sent, "top_k": 5, "guided_choice": ["x"]}.items():
        assert body[key] == value, key
    assert body["messages"] == USER
    assert len(completion.choices) == 2
    assert [c.index for c in completion.choices] == [0, 1]
    first = completion.choices[0]
    assert first.logprobs is not None and first.logprobs.content is not None
    assert first.logprobs.content[0].logprob == -0.25
    assert json.loads(first.message.content or "") == {"reply": "hello from a"}
    assert completion.usage is not None and completion.usage.total_tokens == 4


async def test_every_completions_parameter_reaches_the_backend_untouched(stack: Stack) -> None:
    sent: dict[str, Any] = {
        "best_of": 3,
        "echo": True,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.1,
        "logit_bias": {"1": 2},
        "logprobs": 2,
        "max_tokens": 5,
        "n": 2,
        "seed": 1,
        "stop": "END",
        "suffix": "!",
        "temperature": 0.0,
        "top_p": 1.0,
        "user": "u",
    }
    completion = await stack.client.completions.create(model="a", prompt="Once", **sent)
    body = stack.fakes["a"].fake.last_body
    assert body is not None
    for key, value in sent.items():
        assert body[key] == value, key
    assert len(completion.choices) == 2
    assert completion.choices[0].logprobs is not None
    assert completion.choices[0].logprobs.token_logprobs == [-0.25]


async def test_a_tool_call_comes_back_as_a_tool_call_with_the_sync_client(stack: Stack) -> None:
    def call() -> Any:
        return stack.sync.chat.completions.create(
            model="b", messages=USER, tools=[WEATHER], tool_choice="required"
        )

    completion = await asyncio.to_thread(call)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert choice.message.tool_calls[0].function.name == "get_weather"
    assert stack.fakes["b"].fake.last_body is not None
    assert stack.fakes["b"].fake.last_body["tools"] == [WEATHER]


async def test_a_stream_with_include_usage_ends_with_usage_and_streams_tool_calls(stack: Stack) -> None:
    stream = await stack.client.chat.completions.create(
        model="a", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello from a"

    stream = await stack.client.chat.completions.create(
        model="a", messages=USER, stream=True, tools=[WEATHER]
    )
    calls = [c.choices[0].delta.tool_calls for c in [x async for x in stream] if c.choices]
    named = [tc[0].function.name for tc in calls if tc and tc[0].function]
    assert named == ["get_weather"]


async def test_a_stream_without_include_usage_has_no_usage_chunk(stack: Stack) -> None:
    stream = await stack.client.completions.create(model="a", prompt="Once", stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(c.usage is None for c in chunks)
    assert stack.fakes["a"].fake.last_body is not None
    assert "stream_options" not in stack.fakes["a"].fake.last_body


async def test_a_fallback_engine_that_cannot_honour_a_parameter_is_skipped_not_used_without_it(
    stack: Stack,
) -> None:
    """``loc.`` runs the local engine, which has no predicted outputs: the request goes to the root's
    pass-through engine with ``prediction`` intact, flagged degraded (no model is loaded for this)."""
    prediction = {"type": "content", "content": "hello"}
    raw = await stack.client.chat.completions.with_raw_response.create(
        model="loc", messages=USER, prediction=prediction
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello from root"
    assert raw.headers["x-semdns-name"] == "."
    assert raw.headers["x-semdns-fallback"] == "loc.->."
    assert stack.fakes["root"].fake.last_body is not None
    assert stack.fakes["root"].fake.last_body["prediction"] == prediction
    explained = raw.http_response.json()["semdns"]
    assert explained["fallback"] == [{"name": "loc.", "reason": "unsupported"}]


async def test_cross_domain_tool_calls_come_from_one_name_and_text_is_aggregated(stack: Stack) -> None:
    before_b = stack.fakes["b"].fake.requests
    raw = await stack.client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "both please"}], tools=[WEATHER]
    )
    assert raw.headers["x-semdns-name"] == "a."
    assert raw.headers["x-semdns-names"] == "a.,b."
    assert raw.headers["x-semdns-single-name"] == "tools"
    assert stack.fakes["b"].fake.requests == before_b
    assert raw.parse().choices[0].message.tool_calls is not None

    plain = await stack.client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "both please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in plain]
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 8  # two parts, summed
    assert stack.fakes["b"].fake.requests == before_b + 1


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"n": 0}, "n"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0]"),
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
        ),
        ({"logit_bias": {"abc": 1}}, "logit_bias"),
        ({"stop": ["a", 1]}, "stop"),
        ({"reasoning_effort": 3}, "reasoning_effort"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"seed": "x"}, "seed"),
    ],
)
async def test_malformed_parameters_raise_bad_request_naming_them(
    stack: Stack, kwargs: dict[str, Any], param: str
) -> None:
    before = stack.fakes["a"].fake.requests
    with pytest.raises(openai.BadRequestError) as caught:
        await stack.client.chat.completions.create(model="a", messages=USER, **kwargs)
    assert caught.value.status_code == 400
    assert caught.value.param == param
    assert param.split("[")[0].split(".")[0] in caught.value.message
    assert stack.fakes["a"].fake.requests == before  # refused before any engine was asked


async def test_error_shapes_map_to_the_clients_exception_classes(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await stack.client.chat.completions.create(model="no.such.name", messages=USER)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        await stack.client.chat.completions.create(model="a", messages=[])
    stack.fakes["a"].fake.behaviour.fail_status = 422
    try:
        with pytest.raises(openai.UnprocessableEntityError):  # a backend's 4xx is passed on
            await stack.client.chat.completions.create(model="a", messages=USER)
    finally:
        stack.fakes["a"].fake.behaviour.fail_status = None
    stack.fakes["root"].fake.behaviour.fail_status = 500
    try:
        with pytest.raises(openai.InternalServerError):  # every engine failed: 5xx
            await stack.client.completions.create(model=".", prompt="x")
    finally:
        stack.fakes["root"].fake.behaviour.fail_status = None


async def test_refusals_without_any_model_loaded(tmp_path: Path) -> None:
    """The local engine decides what it refuses before the model is loaded: a local-only tree answers
    400 naming the parameter; a tree whose pass-through fallback is down answers 502 listing the
    refusal and the failure (some engine could have honoured the request)."""
    async with backends("root") as fakes:
        (tmp_path / "local").mkdir()
        only_local = make_tree(tmp_path / "local", {"@": {"engines": [{"kind": "local"}]}})
        async with gateway(only_local) as gw:
            client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(model=".", messages=USER, verbosity="high")
            assert caught.value.param == "verbosity" and caught.value.code == "unsupported_parameter"
            bad_schema = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nonsense"}}}
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(model=".", messages=USER, response_format=bad_schema)
            assert caught.value.param == "response_format.json_schema.schema"
            await client.close()
        fakes["root"].fake.behaviour.fail_status = 500
        mixed = make_tree(
            tmp_path,
            {"@": {"engines": [engine(fakes["root"])]}, "loc": {"engines": [{"kind": "local"}]}},
        )
        async with gateway(mixed) as gw:
            client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
            with pytest.raises(openai.InternalServerError) as failed:
                await client.chat.completions.create(model="loc", messages=USER, verbosity="high")
            await client.close()
    assert failed.value.status_code == 502
    assert "'verbosity' is not supported by the local engine" in failed.value.message
    assert "HTTP 500" in failed.value.message


async def test_response_cache_replays_keep_tool_calls_logprobs_and_the_asked_usage(stack: Stack) -> None:
    """A cached answer replayed in the other form (JSON <-> stream) keeps its tool calls and logprobs,
    and a replayed stream carries a usage chunk exactly when this client asked for it."""
    cache = stack.gw.runtime.edge.cache  # type: ignore[union-attr]
    assert cache is not None
    ask = {"model": "b", "messages": [{"role": "user", "content": "cached tool"}], "temperature": 0}
    first = await stack.client.chat.completions.create(**ask, tools=[WEATHER], logprobs=True)
    await cache.drain()
    before = stack.fakes["b"].fake.requests
    stream = await stack.client.chat.completions.create(
        **ask, tools=[WEATHER], logprobs=True, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert stack.fakes["b"].fake.requests == before  # served from the cache
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or ())]
    assert first.choices[0].message.tool_calls is not None
    assert [tc.function.name for tc in calls if tc.function] == ["get_weather"]
    assert [c for c in chunks if c.choices and c.choices[0].logprobs is not None]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 4

    plain = {"model": "b", "messages": [{"role": "user", "content": "cached stream"}], "temperature": 0}
    stream = await stack.client.chat.completions.create(
        **plain, tools=[WEATHER], stream=True, stream_options={"include_usage": True}
    )
    [c async for c in stream]
    await cache.drain()
    before = stack.fakes["b"].fake.requests
    replayed = await stack.client.chat.completions.create(**plain, tools=[WEATHER], stream=True)
    again = [c async for c in replayed]
    assert stack.fakes["b"].fake.requests == before
    assert all(c.usage is None for c in again) and all(c.choices for c in again)
    as_json = await stack.client.chat.completions.create(**plain, tools=[WEATHER])
    assert stack.fakes["b"].fake.requests == before
    assert as_json.choices[0].message.tool_calls is not None
    assert as_json.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert as_json.choices[0].finish_reason == "tool_calls"
