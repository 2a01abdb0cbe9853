"""The engine protocol: one replica that can answer chat and completion requests.

Engines speak the OpenAI wire format on both sides so that the gateway can pass requests and streams
through with as little re-encoding as possible: a request is the client's JSON object (the gateway has
validated it); a non-streaming answer is the backend's JSON object; a streaming answer is an async
iterator of complete SSE events (``b"data: {...}\\n\\n"``), ending with ``b"data: [DONE]\\n\\n"``.

Failures are :class:`semdns.errors.EngineError` values whose ``retryable`` flag drives the dispatcher.
A streaming engine must raise *before yielding anything* for failures that happen before the backend
sent its first byte, so that the dispatcher can still retry, fail over or fall back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Endpoint = Literal["chat", "completion"]


@dataclass(slots=True)
class EngineCall:
    """One attempt: what to send, and how long the attempt may take (already capped by the deadline).

    ``system_prompt`` is the served name's prompt; engines that stand in for a specialist (the local
    one) prepend it, remote specialists ignore it because they are specialised already.

    ``coalesce`` (streams): the caller passes the events through untouched, so an engine may yield
    every complete event it has at hand as one item (``b"data: …\n\ndata: …\n\n"``) instead of one
    item per event: one write to the client per read from the backend, not one per token. Items still
    end on event boundaries; an engine that ignores the flag (one event per item) is correct too.
    """

    endpoint: Endpoint
    body: dict[str, Any]
    timeout_s: float
    system_prompt: str | None = None
    coalesce: bool = False


class Engine(Protocol):
    """One replica of a name."""

    @property
    def label(self) -> str:
        """A short, stable, human-readable id (used in metrics, headers and error messages)."""
        ...

    async def complete(self, call: EngineCall) -> dict[str, Any]:
        """Answer without streaming; returns the OpenAI response object."""
        ...

    def stream(self, call: EngineCall) -> AsyncIterator[bytes]:
        """Answer as SSE events; raises before the first event for failures before the first byte."""
        ...

    async def probe(self) -> bool:
        """Active health check: True when the replica can take traffic."""
        ...

    async def aclose(self) -> None:
        """Release what the engine holds (connections, threads)."""
        ...
