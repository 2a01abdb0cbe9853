"""Gateway tests run real servers on 127.0.0.1 inside the test's event loop (anyio, asyncio backend)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
