"""Response-cache tests: the in-process state, a real redis-server where a test asks for one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from semdns.testing.redis_server import RedisServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()
