"""In-process delegation harness: several resolvers as ASGI apps behind one routing HTTP transport.

Every byte goes through the real codec, signatures and HTTP handlers (httpx's ASGI transport), only
the sockets are left out, so failure cases (a forged key, a cycle, a server that goes away) are quick
to set up. tests/delegation/test_processes.py runs the same resolvers as real processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from starlette.types import ASGIApp

from semdns.delegation.authority import Authority
from semdns.delegation.client import PeerClient
from semdns.delegation.follower import Follower
from semdns.delegation.server import create_protocol_app
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder, Vectors
from semdns.resolve.shallow import IdsEncoder, shallow_encoder
from semdns.zone import ZoneTree, load_zone_files

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "delegation"
ROOT_URL, LEGAL_URL, CODE_URL = "http://127.0.0.1:18940", "http://127.0.0.1:18941", "http://127.0.0.1:18942"


class CountingShallow:
    """A model counting the texts it embedded (to prove a carried vector was reused): the shallow
    pass's, or the full encoder's (:class:`CountingEncoder`)."""

    def __init__(self, inner: IdsEncoder) -> None:
        self.inner = inner
        self.texts = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.texts += len(texts)
        return self.inner.encode(texts)

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors:
        self.texts += len(token_ids)
        return self.inner.encode_ids(token_ids)


class CountingEncoder(CountingShallow):
    """The real encoder, counting how many texts it embedded (to prove an embedding was reused)."""

    def __init__(self, inner: MiniLMEncoder) -> None:
        super().__init__(inner)
        self.full = inner

    # Tokenising, the token table and the shallow pass make it a TokenEncoder with a shallow encoder,
    # so that the resolvers built on it have the lexical and shallow stages the shipped zones list,
    # like a resolver on the plain encoder.
    def token_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self.full.token_ids_batch(texts)

    def token_ids(self, text: str) -> list[int]:
        return self.full.token_ids(text)

    def shallow_encoder(self, layers: int) -> CountingShallow | None:
        """The inner encoder's shallow pass, counted too."""
        inner = shallow_encoder(self.full, layers)
        return CountingShallow(inner) if inner is not None else None

    def token_table(self, *, use_disk: bool = True) -> npt.NDArray[np.float16]:
        return self.full.token_table(use_disk=use_disk)


class Router(httpx.AsyncBaseTransport):
    """Routes each request to the app registered for its host:port; others are refused."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}

    def add(self, url: str, app: ASGIApp) -> None:
        self.apps[httpx.URL(url).netloc.decode()] = httpx.ASGITransport(app=app)

    def remove(self, url: str) -> None:
        self.apps.pop(httpx.URL(url).netloc.decode(), None)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.apps.get(request.url.netloc.decode())
        if transport is None:
            raise httpx.ConnectError("connection refused", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Cluster:
    router: Router
    authorities: dict[str, Authority] = field(default_factory=dict)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.router)

    def peers(self) -> PeerClient:
        return PeerClient(self.client())

    def serve(self, url: str, tree: ZoneTree, resolver: Resolver) -> Authority:
        authority = Authority.build(tree, resolver, Follower(self.peers()), url)
        self.authorities[url] = authority
        self.router.add(url, create_protocol_app(authority))
        return authority


@pytest.fixture(scope="session")
def example_resolvers(encoder: MiniLMEncoder) -> dict[str, Resolver]:
    """Resolvers for the three example zones, each with its own counting encoder."""
    out: dict[str, Resolver] = {}
    for name in ("root", "legal", "code"):
        tree = load_zone_files([EXAMPLE / f"{name}.yaml"])
        out[name] = Resolver(tree, CountingEncoder(encoder))  # type: ignore[arg-type]
    return out


@pytest.fixture
def cluster(example_resolvers: dict[str, Resolver]) -> Cluster:
    """The example's three resolvers, fresh caches each test."""
    for resolver in example_resolvers.values():
        if resolver.cache is not None:
            resolver.cache.clear()
    made = Cluster(Router())
    for name, url in (("root", ROOT_URL), ("legal", LEGAL_URL), ("code", CODE_URL)):
        resolver = example_resolvers[name]
        made.serve(url, resolver.tree, resolver)
    return made
