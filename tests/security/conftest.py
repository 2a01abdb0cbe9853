"""The attack suite runs real gateways on this machine's addresses (anyio, asyncio backend)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
