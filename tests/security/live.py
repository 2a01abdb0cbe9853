"""A gateway (and its fake engines) on real 127.0.0.1 ports in a background thread, for synchronous
tests: hypothesis drives them with a blocking client, and raw sockets play slow or hostile clients."""

from __future__ import annotations

import asyncio
import random
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.helpers import StubResolver, backends, engine, make_tree
from semdns.delegation.http import ProtocolRoutes
from semdns.gateway import GatewaySettings, Runtime, create_app
from semdns.testing import FakeOpenAI, serve_app


class LiveGateway(threading.Thread):
    """``start()``, then ``wait()``; ``url``, ``port``, ``fakes`` and ``runtime`` are set once it runs."""

    def __init__(
        self,
        settings: GatewaySettings | None = None,
        *,
        nodes: Mapping[str, Mapping[str, Any]] | None = None,
        protocol: Path | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.settings = settings or GatewaySettings(probes=False, warm_local=False)
        self.nodes = nodes
        self.protocol = protocol
        self.url = ""
        self.port = 0
        self.fakes: dict[str, FakeOpenAI] = {}
        self.runtime: Runtime | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by wait()
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            async with backends("root", "legal") as b:
                nodes = self.nodes or {
                    "@": {"engines": [engine(b["root"])]},
                    "legal": {"engines": [engine(b["legal"])], "privacy": {"action": "mask"}},
                    "contracts.legal": {"engines": [engine(b["legal"])]},
                }
                tree = make_tree(Path(tmp), nodes)
                resolver = StubResolver([("contract", "contracts.legal."), ("law", "legal.")])
                self.runtime = Runtime.build(tree, resolver, self.settings, rng=random.Random(3))
                extra = []
                if self.protocol is not None:
                    extra = ProtocolRoutes(_authority(self.protocol), body_timeout_s=2.0).routes()
                async with serve_app(create_app(self.runtime, extra_routes=extra)) as server:
                    self.url, self.port = server.url, server.port
                    self.fakes = {name: backend.fake for name, backend in b.items()}
                    self.ready.set()
                    while not self._halt.is_set():
                        await asyncio.sleep(0.05)

    def wait_started(self) -> LiveGateway:
        self.start()
        return self.wait()

    def wait(self) -> LiveGateway:
        if not self.ready.wait(30):
            raise RuntimeError("the live gateway did not start within 30 s")
        if self.error is not None:
            raise self.error
        return self

    def stop(self) -> None:
        self._halt.set()
        self.join(15)


def _authority(zone: Path) -> Any:
    """A resolver-protocol authority for the zone file ``zone`` (its signing key signs the answers),
    with the real resolver and encoder."""
    from semdns.delegation.server import build_authority
    from semdns.resolve import Resolver
    from semdns.resolve.encoder import MiniLMEncoder
    from semdns.zone import load_zone_files

    tree = load_zone_files([zone])
    return build_authority(tree, Resolver(tree, MiniLMEncoder()), server_url="http://127.0.0.1:1")
