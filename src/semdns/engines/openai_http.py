"""The ``openai`` engine: any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, SGLang, TGI,
OpenAI itself) reached over HTTP.

All engines share one pooled :class:`httpx.AsyncClient` (owned by the runtime), so connections are
kept alive across requests and names. The request body is the client's, with ``model`` replaced by the
model this server serves; streams are passed through event by event (never re-encoded), and split on
event boundaries only so that a failure can be reported between two events rather than inside one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from semdns.engines.protocol import EngineCall
from semdns.errors import EngineError, EngineRejected, EngineTimeout

_DONE = b"data: [DONE]"


class OpenAIHTTPEngine:
    """One replica: ``base_url`` (ending in ``/v1``, as OpenAI clients expect) serving ``model``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        label: str | None = None,
    ) -> None:
        self._client = client
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._urls = {
            "chat": self.base_url + "/chat/completions",
            "completion": self.base_url + "/completions",
        }
        self._headers = {"content-type": "application/json"}
        if api_key_env:
            # Read once: the key does not change while the server runs, and the hot path stays lean.
            key = os.environ.get(api_key_env)
            if key:
                self._headers["authorization"] = f"Bearer {key}"
        self._label = label or f"{self.base_url}#{model}"

    @property
    def label(self) -> str:
        return self._label

    def _payload(self, call: EngineCall) -> bytes:
        body = call.body
        if body.get("model") == self.model:
            return orjson.dumps(body)
        return orjson.dumps({**body, "model": self.model})

    async def complete(self, call: EngineCall) -> dict[str, Any]:
        url = self._urls[call.endpoint]
        try:
            # One asyncio timeout bounds the whole attempt; the shared client has no per-operation
            # timeouts of its own (they cost more per request than the rest of the hot path).
            async with asyncio.timeout(call.timeout_s):
                response = await self._client.post(url, content=self._payload(call), headers=self._headers)
        except TimeoutError:
            raise EngineTimeout(f"{self._label}: no answer within {call.timeout_s:.3g} s") from None
        except httpx.HTTPError as exc:
            raise _transport_error(self._label, exc) from None
        if response.status_code != 200:
            raise _status_error(self._label, response.status_code, response.content)
        try:
            result = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise EngineError(f"{self._label}: the backend answered invalid JSON", kind="protocol") from None
        if not isinstance(result, dict):
            raise EngineError(
                f"{self._label}: the backend answered JSON that is not an object", kind="protocol"
            )
        return result

    async def stream(self, call: EngineCall) -> AsyncIterator[bytes]:
        """SSE events from the backend; raises before the first event for failures before the first byte,
        and raises :class:`EngineError` mid-stream when the backend stalls or drops the connection."""
        url = self._urls[call.endpoint]
        body = call.body if call.body.get("stream") else {**call.body, "stream": True}
        request = self._client.build_request(
            "POST", url, content=orjson.dumps({**body, "model": self.model}), headers=self._headers
        )
        try:
            async with asyncio.timeout(call.timeout_s):
                response = await self._client.send(request, stream=True)
        except TimeoutError:
            raise EngineTimeout(f"{self._label}: no answer within {call.timeout_s:.3g} s") from None
        except httpx.HTTPError as exc:
            raise _transport_error(self._label, exc) from None
        try:
            if response.status_code != 200:
                async with asyncio.timeout(call.timeout_s):
                    content = await response.aread()
                raise _status_error(self._label, response.status_code, content)
            done = False
            pending = b""
            chunks = response.aiter_raw()
            while True:
                # Stall detection: each chunk must arrive within the attempt timeout.
                try:
                    async with asyncio.timeout(call.timeout_s):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise EngineTimeout(
                        f"{self._label}: the stream stalled for {call.timeout_s:.3g} s"
                    ) from None
                pending += chunk
                if b"\r" in pending:
                    pending = pending.replace(b"\r\n", b"\n")
                while True:
                    end = pending.find(b"\n\n")
                    if end < 0:
                        break
                    event = pending[: end + 2]
                    pending = pending[end + 2 :]
                    if event.startswith(_DONE):
                        done = True
                    yield event
            if not done:
                raise EngineError(f"{self._label}: the stream ended without [DONE]", kind="truncated")
        except TimeoutError:
            raise EngineTimeout(f"{self._label}: no answer within {call.timeout_s:.3g} s") from None
        except httpx.HTTPError as exc:
            raise _transport_error(self._label, exc) from None
        finally:
            await response.aclose()

    async def probe(self) -> bool:
        """Up when ``GET /models`` answers below 500 (some servers need auth for it; a 401 still proves
        the server is up)."""
        try:
            response = await self._client.get(self.base_url + "/models", headers=self._headers, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    async def aclose(self) -> None:
        """Nothing to release: the shared client belongs to the runtime."""


def _transport_error(label: str, exc: httpx.HTTPError) -> EngineError:
    kind = "connect" if isinstance(exc, httpx.ConnectError) else "transport"
    detail = str(exc) or type(exc).__name__
    return EngineError(f"{label}: {kind} error: {detail}", kind=kind)


def _status_error(label: str, status: int, content: bytes) -> EngineError:
    message = _backend_message(content)
    text = f"{label}: HTTP {status}" + (f": {message}" if message else "")
    if status == 429 or status >= 500:
        return EngineError(text, status=status, kind="status")
    return EngineRejected(text, status=status)


def _backend_message(content: bytes) -> str:
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError:
        return content[:200].decode("utf-8", "replace").strip()
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:500]
        if isinstance(error, str):
            return error[:500]
    return ""
