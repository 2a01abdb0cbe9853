"""Wiring: build the protocol service for a tree, and a minimal app that serves only the protocol.

``semdns serve`` mounts :class:`~semdns.delegation.http.ProtocolRoutes` beside the OpenAI-compatible
API; :func:`create_protocol_app` serves the protocol alone (tests, benchmarks, a resolver that only
delegates). ``python -m semdns.delegation.server --zone FILE --port N`` runs the latter.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from semdns.delegation.authority import Authority
from semdns.delegation.cache import DEFAULT_MAX_STALE_S
from semdns.delegation.client import PeerClient
from semdns.delegation.follower import DEFAULT_HOP_TIMEOUT_S, Follower
from semdns.delegation.http import ProtocolRoutes
from semdns.resolve.resolver import Resolver
from semdns.zone.tree import ZoneTree


def build_authority(
    tree: ZoneTree,
    resolver: Resolver,
    *,
    server_url: str,
    hop_timeout_s: float = DEFAULT_HOP_TIMEOUT_S,
    max_stale_s: float = DEFAULT_MAX_STALE_S,
) -> Authority:
    """The authority for ``tree`` with its own follower (for recursive queries) and peer client."""
    follower = Follower(PeerClient(), hop_timeout_s=hop_timeout_s, max_stale_s=max_stale_s)
    return Authority.build(tree, resolver, follower, server_url)


def create_protocol_app(authority: Authority) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await authority.follower.peers.aclose()

    return Starlette(routes=ProtocolRoutes(authority).routes(), lifespan=lifespan)


def main() -> None:  # pragma: no cover - a thin CLI over the functions above
    import uvicorn

    from semdns.resolve import MiniLMEncoder
    from semdns.zone import load_zone_files

    parser = argparse.ArgumentParser(description="Serve the semdns protocol only.")
    parser.add_argument("--zone", action="append", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    tree = load_zone_files(args.zone)
    resolver = Resolver(tree, MiniLMEncoder())
    authority = build_authority(tree, resolver, server_url=f"http://{args.host}:{args.port}")
    uvicorn.run(create_protocol_app(authority), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    main()
