"""A real redis-server for the state tests (one per module; killed and restarted by some tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from semdns.testing.redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
