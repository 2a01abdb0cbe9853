"""A gateway for console tests: fake OpenAI backends on real ports, one replica on a closed port (a
broken engine), optionally a tenants file with an admin and a limited tenant."""

from __future__ import annotations

import contextlib
import random
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from gateway.helpers import StubResolver, backends, engine, make_tree
from semdns.gateway import GatewaySettings, Runtime, create_app
from semdns.tenancy.keys import add_tenant_key
from semdns.testing import serve_app


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Console:
    url: str
    runtime: Runtime
    client: httpx.AsyncClient
    keys: dict[str, str] = field(default_factory=dict)

    async def chat(self, content: str, key: str | None = None, **body: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        payload = {"model": "auto", "messages": [{"role": "user", "content": content}], **body}
        return await self.client.post("/v1/chat/completions", content=orjson.dumps(payload), headers=headers)


@contextlib.asynccontextmanager
async def console_gateway(
    tmp_path: Path, *, tenants: bool = False, settings: dict[str, Any] | None = None
) -> AsyncIterator[Console]:
    """Names ``.`` and ``legal.`` on live fakes, ``medical.`` on a closed port, ``ip.legal.`` delegated
    (unsigned) to a resolver that is not there; a keyword resolver."""
    async with backends("general", "legal") as fakes:
        dead = {"kind": "openai", "url": f"http://127.0.0.1:{closed_port()}/v1", "model": "gone"}
        tree = make_tree(
            tmp_path,
            {
                "@": {"description": "everything else", "engines": [engine(fakes["general"])]},
                "legal": {
                    "description": "law and contracts",
                    "dn": "CN=Legal,O=Test",
                    "engines": [engine(fakes["legal"])],
                },
                "medical": {"description": "health questions", "engines": [dead]},
                "ip.legal": {
                    "description": "patents and trademarks, served by another resolver",
                    "delegation": {"servers": [f"http://127.0.0.1:{closed_port()}"], "ttl": 600},
                },
            },
        )
        keys: dict[str, str] = {}
        options: dict[str, Any] = {"probes": True, "warm_local": False, **(settings or {})}
        if tenants:
            path = tmp_path / "tenants.yaml"
            keys["ops"] = add_tenant_key(path, "ops", admin=True)
            keys["acme"] = add_tenant_key(
                path, "acme", requests_per_min=100, tokens_per_min=10_000, daily_tokens=100_000
            )
            options["tenants_file"] = str(path)
        resolver = StubResolver([("contract", "legal"), ("doctor", "medical")])
        runtime = Runtime.build(tree, resolver, GatewaySettings(**options), rng=random.Random(3))
        async with (
            serve_app(create_app(runtime)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as client,
        ):
            assert runtime.prober is not None
            await runtime.prober.probe_once()  # the closed port is found down now, not in 5 s
            yield Console(server.url, runtime, client, keys)
