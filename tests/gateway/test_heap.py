"""The gateway freezes what start built out of the collector's scans, and after a hot reload thaws,
collects what the retired configuration left and freezes again (gateway/heap.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from semdns.gateway import GatewaySettings, Runtime, create_app, heap
from semdns.gateway.heap import resettle, settle
from semdns.gateway.live import Live
from semdns.gateway.reload import Reloader
from semdns.testing import serve_app
from semdns.zone import load_zone_files

from .helpers import StubResolver, backends
from .test_reload import zone_text

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    """Leave the test session's collector as it was: nothing frozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_a_frozen_cycle_is_collected_only_after_resettle() -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first  # a cycle: only the collector frees it
    watch = weakref.ref(first)
    settle()
    assert gc.get_freeze_count() > 0
    del first, second
    gc.collect()
    assert watch() is not None  # frozen: out of the collector's sight
    resettle()
    assert watch() is None and gc.get_freeze_count() > 0


async def test_serve_settles_the_heap_and_a_reload_resettles_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resettled: list[int] = []

    def counted() -> None:
        resettled.append(1)
        resettle()

    monkeypatch.setattr(heap, "resettle", counted)
    async with backends("root", "legal", "other") as be:
        zone = tmp_path / "zone.yaml"
        zone.write_text(zone_text(1, be["root"], be["legal"]), encoding="utf-8")
        settings = GatewaySettings(probes=False, warm_local=False, admin_key="heap-admin-key")
        runtime = Runtime.build(load_zone_files([zone]), StubResolver(), settings)
        live = Live(runtime)
        reloader = Reloader(live, lambda tree: StubResolver(), zone_paths=[zone], drain_s=0.5)  # type: ignore[arg-type]
        reloader.settle_heap = True
        headers = {"authorization": "Bearer heap-admin-key"}
        async with (
            serve_app(create_app(live, reloader=reloader, settle_heap=True)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False, headers=headers) as client,
        ):
            assert gc.get_freeze_count() > 0  # settled when the app started
            first = weakref.ref(live.current)
            zone.write_text(zone_text(2, be["root"], be["other"]), encoding="utf-8")
            reply = await client.post("/admin/reload")
            assert reply.status_code == 200 and reply.json()["changed"], reply.text
            for _ in range(100):  # bounded: the old generation drains, retires, then the heap resettles
                if resettled:
                    break
                await asyncio.sleep(0.05)
            assert resettled == [1] and gc.get_freeze_count() > 0
            assert first() is None  # the retired generation was collected, not frozen for good
