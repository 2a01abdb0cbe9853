"""Run an ASGI app on uvicorn on a free 127.0.0.1 port, inside the current event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn

from semdns.testing.fake_openai import FakeOpenAI


@dataclass(frozen=True, slots=True)
class RunningServer:
    """A server started by :func:`serve_app`."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.asynccontextmanager
async def serve_app(
    app: Any, *, host: str = "127.0.0.1", lifespan: Literal["auto", "on", "off"] = "on"
) -> AsyncIterator[RunningServer]:
    """Serve ``app`` until the block ends. The port is chosen by the OS (bound before uvicorn starts,
    so there is no race for it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this; without it a small request/response pays Nagle plus the
    # peer's delayed ACK (about 40 ms on Linux) when uvicorn is handed a pre-bound socket.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan=lifespan,
        access_log=False,
        timeout_graceful_shutdown=1,
        http="h11" if _no_httptools() else "httptools",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()  # re-raise why it stopped
        if not server.started:
            raise RuntimeError("the server did not start within 5 s")
        yield RunningServer(host, port)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        sock.close()


def _no_httptools() -> bool:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return True
    return False


class FakeInThread(threading.Thread):
    """A fake OpenAI backend on its own event loop in a daemon thread, for tests whose gateways are
    other processes (their own test code is synchronous). ``start()``, wait on ``ready``, read ``url``,
    and ``stop()`` at the end."""

    def __init__(self, name: str = "fake") -> None:
        super().__init__(daemon=True)
        self.fake = FakeOpenAI(name)
        self.url = ""
        self.ready = threading.Event()
        self._halt = threading.Event()

    def run(self) -> None:
        async def main() -> None:
            async with serve_app(self.fake) as server:
                self.url = server.url
                self.ready.set()
                while not self._halt.is_set():
                    await asyncio.sleep(0.05)

        asyncio.run(main())

    def stop(self) -> None:
        self._halt.set()
        self.join(10)
