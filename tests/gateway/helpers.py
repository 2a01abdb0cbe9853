"""Building blocks for gateway tests: fake backends on real ports, zones that point at them, a stub
resolver (the real one is exercised by the end-to-end test), and a running gateway with a client."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from semdns.gateway import GatewaySettings, Runtime, create_app
from semdns.names import Name
from semdns.resolve.decision import Answer, LevelTrace, RoutingDecision
from semdns.testing import FakeOpenAI, serve_app
from semdns.zone import ZoneTree, load_zone_files


@dataclass
class Backend:
    fake: FakeOpenAI
    url: str  # ends in /v1


@contextlib.asynccontextmanager
async def backends(*names: str) -> AsyncIterator[dict[str, Backend]]:
    """Fake OpenAI-compatible servers, one per name, each on its own port (stopped together: uvicorn
    takes a tenth of a second to notice it should exit)."""
    fakes = [FakeOpenAI(name) for name in names]
    managers = [serve_app(fake) for fake in fakes]
    servers = await asyncio.gather(*(m.__aenter__() for m in managers))
    try:
        yield {f.name: Backend(f, f"{s.url}/v1") for f, s in zip(fakes, servers, strict=True)}
    finally:
        await asyncio.gather(*(m.__aexit__(None, None, None) for m in managers))


def engine(backend: Backend, **extra: Any) -> dict[str, Any]:
    return {"kind": "openai", "url": backend.url, "model": backend.fake.name, **extra}


def make_tree(tmp_path: Path, nodes: Mapping[str, Mapping[str, Any]]) -> ZoneTree:
    """A zone rooted at ``.`` from node specs (keys as in a zone file: '@', 'legal', 'contracts.legal')."""
    path = tmp_path / "gateway-zone.yaml"
    path.write_text(yaml.safe_dump({"origin": ".", "ttl": 60, "nodes": dict(nodes)}), encoding="utf-8")
    return load_zone_files([path])


class StubResolver:
    """Resolves by keyword: the first rule whose word occurs in the query wins, else the root.

    Stands in for the real resolver (built from MiniLM in ~2 s) so that gateway tests stay fast and
    deterministic; it records the context it was given.
    """

    def __init__(self, rules: Sequence[tuple[str, str]] = (), *, names: Sequence[str] = ()) -> None:
        self.rules = [(word, Name.parse(name)) for word, name in rules]
        self.multi = [Name.parse(n) for n in names]
        self.contexts: list[str | None] = []
        self.calls = 0

    async def aresolve(self, query: str, context: str | None = None) -> RoutingDecision:
        self.calls += 1
        self.contexts.append(context)
        chosen = [name for word, name in self.rules if word in query.lower()] or [Name.parse(".")]
        if self.multi and any(n in chosen for n in self.multi):
            chosen = list(self.multi)
        answers = tuple(Answer(n, str(n.to_dn()), 0.9) for n in chosen)
        trace = (LevelTrace(Name.parse("."), "keyword", tuple(chosen), (), ("keyword",), 5.0),)
        return RoutingDecision(query, answers, trace, 0.9, "keyword", 60, "miss", 5.0)


@dataclass
class Gateway:
    client: httpx.AsyncClient
    runtime: Runtime
    url: str

    async def chat(self, content: str = "hello", **body: Any) -> httpx.Response:
        payload = {"messages": [{"role": "user", "content": content}], **body}
        return await self.client.post("/v1/chat/completions", content=orjson.dumps(payload))


@contextlib.asynccontextmanager
async def gateway(
    tree: ZoneTree,
    resolver: Any = None,
    settings: GatewaySettings | None = None,
    *,
    seed: int = 7,
) -> AsyncIterator[Gateway]:
    """A running gateway (probes off unless the settings turn them on) and a client for it."""
    settings = settings or GatewaySettings(probes=False, warm_local=False)
    runtime = Runtime.build(tree, resolver or StubResolver(), settings, rng=random.Random(seed))
    async with (
        serve_app(create_app(runtime)) as server,
        httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as client,
    ):
        yield Gateway(client, runtime, server.url)


def sse_events(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]
