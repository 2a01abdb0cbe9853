"""Console tests run real gateways on 127.0.0.1 inside the test's event loop (anyio, asyncio)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
