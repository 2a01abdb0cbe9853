"""A cached answer, its wire form in the shared state, and replay between JSON and SSE.

An answer is stored as it arrived (a JSON body, or the list of SSE events of a stream) so that a
stream is replayed byte for byte; a streaming request served from a JSON entry gets the answer as
chunks, and a JSON request served from a stream entry gets the chunks assembled.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import orjson

Vector = npt.NDArray[np.float32]
Kind = Literal["json", "sse"]
DONE = b"data: [DONE]\n\n"


@dataclass(slots=True)
class CacheEntry:
    """One cached answer."""

    id: str
    scope: str
    name: str
    endpoint: str
    prefix: str
    prompt: str
    kind: Kind
    payload: bytes | list[bytes]
    created: float
    ttl: int
    stale_ttl: int
    usage_tokens: int = 0
    engine_s: float = 0.0
    vector: Vector | None = None
    encoder: str | None = None
    """The ``model_id`` of the encoder that made ``vector`` (None: not recorded, as by older versions)."""

    @property
    def expires_at(self) -> float:
        return self.created + self.ttl

    @property
    def stale_until(self) -> float:
        return self.created + self.ttl + self.stale_ttl

    def fresh(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "scope": self.scope,
                "name": self.name,
                "endpoint": self.endpoint,
                "prefix": self.prefix,
                "prompt": self.prompt,
                "kind": self.kind,
                "payload": (
                    self.payload.decode()
                    if isinstance(self.payload, bytes)
                    else [e.decode() for e in self.payload]
                ),
                "created": self.created,
                "ttl": self.ttl,
                "stale_ttl": self.stale_ttl,
                "usage_tokens": self.usage_tokens,
                "engine_s": self.engine_s,
                "vector": encode_vector(self.vector) if self.vector is not None else None,
                "encoder": self.encoder,
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> CacheEntry:
        d = orjson.loads(raw)
        payload = d["payload"]
        encoder = d.get("encoder")
        if encoder is not None and not isinstance(encoder, str):
            raise ValueError(f"a cache entry's encoder must be a model id, not {encoder!r}")
        return cls(
            id=d["id"],
            scope=d["scope"],
            name=d["name"],
            endpoint=d["endpoint"],
            prefix=d["prefix"],
            prompt=d["prompt"],
            kind=d["kind"],
            payload=payload.encode() if isinstance(payload, str) else [e.encode() for e in payload],
            created=float(d["created"]),
            ttl=int(d["ttl"]),
            stale_ttl=int(d["stale_ttl"]),
            usage_tokens=int(d.get("usage_tokens", 0)),
            engine_s=float(d.get("engine_s", 0.0)),
            vector=decode_vector(d["vector"]) if d.get("vector") else None,
            encoder=encoder,
        )


def encode_vector(vector: Vector) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, dtype=np.float32).tobytes()).decode()


def decode_vector(text: str) -> Vector:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32).copy()


# -- streams --------------------------------------------------------------------------------------


def stream_complete(events: list[bytes]) -> bool:
    """A stream worth storing: it ended with ``[DONE]`` and carried no error event."""
    if not events or not events[-1].rstrip().endswith(b"data: [DONE]"):
        return False
    return not any(b'data: {"error"' in e for e in events)


def _chunks(events: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for event in events:
        for line in event.split(b"\n"):
            if line.startswith(b"data: {"):
                try:
                    value = orjson.loads(line[6:])
                except orjson.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    out.append(value)
    return out


def assemble(events: list[bytes], endpoint: str) -> bytes:
    """The JSON body equivalent to a stored stream (one choice per index, text concatenated)."""
    chunks = _chunks(events)
    first = chunks[0] if chunks else {}
    texts: dict[int, list[str]] = {}
    finish: dict[int, Any] = {}
    calls: dict[int, dict[int, dict[str, Any]]] = {}
    logprobs: dict[int, Any] = {}
    usage = None
    for chunk in chunks:
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            index = int(choice.get("index", 0))
            delta = choice.get("delta") or {}
            piece = delta.get("content") if endpoint == "chat" else choice.get("text")
            if piece:
                texts.setdefault(index, []).append(piece)
            else:
                texts.setdefault(index, [])
            if choice.get("finish_reason") is not None:
                finish[index] = choice["finish_reason"]
            for call in delta.get("tool_calls") or ():
                _merge_call(calls.setdefault(index, {}), call)
            if choice.get("logprobs"):
                logprobs[index] = _merge_logprobs(logprobs.get(index), choice["logprobs"])
    choices: list[dict[str, Any]] = []
    for index in sorted(texts):
        text = "".join(texts[index])
        if endpoint == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if calls.get(index):
                message["tool_calls"] = [calls[index][i] for i in sorted(calls[index])]
                message["content"] = text or None
            choices.append({"index": index, "message": message, "finish_reason": finish.get(index)})
        else:
            choices.append({"index": index, "text": text, "finish_reason": finish.get(index)})
        if index in logprobs:
            choices[-1]["logprobs"] = logprobs[index]
    body: dict[str, Any] = {
        "id": first.get("id", "semdns-cache"),
        "object": "chat.completion" if endpoint == "chat" else "text_completion",
        "created": first.get("created", int(time.time())),
        "model": first.get("model", ""),
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return orjson.dumps(body)


def _merge_call(calls: dict[int, dict[str, Any]], delta: Any) -> None:
    """One streamed tool-call delta into the call it continues (arguments arrive in pieces)."""
    if not isinstance(delta, dict):
        return
    call = calls.setdefault(int(delta.get("index", 0)), {"type": "function", "function": {}})
    for key in ("id", "type"):
        if delta.get(key):
            call[key] = delta[key]
    function = delta.get("function") or {}
    if function.get("name"):
        call["function"]["name"] = function["name"]
    if function.get("arguments"):
        call["function"]["arguments"] = call["function"].get("arguments", "") + function["arguments"]


def _merge_logprobs(merged: Any, piece: Any) -> Any:
    """Logprobs of consecutive chunks, concatenated (chat's ``content`` list, or the legacy lists)."""
    if not isinstance(piece, dict):
        return merged
    if merged is None:
        return {k: list(v) if isinstance(v, list) else v for k, v in piece.items()}
    for key, value in piece.items():
        if isinstance(value, list):
            merged[key] = (merged.get(key) or []) + value
    return merged


def synthesize(body: bytes, endpoint: str) -> list[bytes]:
    """SSE events equivalent to a stored JSON answer: one chunk with the text, one with the finish
    reason (and usage), then ``[DONE]``."""
    value = orjson.loads(body)
    base = {
        "id": value.get("id", "semdns-cache"),
        "created": value.get("created", 0),
        "model": value.get("model", ""),
    }
    events: list[bytes] = []
    finals: list[dict[str, Any]] = []
    for choice in value.get("choices") or []:
        index = choice.get("index", 0)
        if endpoint == "chat":
            message = choice.get("message") or {}
            content = {
                "index": index,
                "delta": {"role": "assistant", "content": message.get("content") or ""},
            }
            if message.get("tool_calls"):
                content["delta"]["content"] = message.get("content")
                content["delta"]["tool_calls"] = [
                    {"index": i, **call} for i, call in enumerate(message["tool_calls"])
                ]
            content["finish_reason"] = None
            finals.append({"index": index, "delta": {}, "finish_reason": choice.get("finish_reason")})
        else:
            content = {"index": index, "text": choice.get("text") or "", "finish_reason": None}
            finals.append({"index": index, "text": "", "finish_reason": choice.get("finish_reason")})
        if choice.get("logprobs"):
            content["logprobs"] = choice["logprobs"]
        events.append(_event({**base, "object": _chunk_object(endpoint), "choices": [content]}))
    last: dict[str, Any] = {**base, "object": _chunk_object(endpoint), "choices": finals}
    if value.get("usage"):
        last["usage"] = value["usage"]
    events.append(_event(last))
    events.append(DONE)
    return events


def _chunk_object(endpoint: str) -> str:
    return "chat.completion.chunk" if endpoint == "chat" else "text_completion"


def _event(value: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(value) + b"\n\n"


def answer_text(entry_kind: Kind, payload: bytes | list[bytes], endpoint: str) -> str:
    """The text of the first choice (to compare two answers when learning thresholds)."""
    body = payload if isinstance(payload, bytes) else assemble(payload, endpoint)
    try:
        value = orjson.loads(body)
        choice = (value.get("choices") or [{}])[0]
        if endpoint == "chat":
            return str((choice.get("message") or {}).get("content") or "")
        return str(choice.get("text") or "")
    except (orjson.JSONDecodeError, AttributeError, IndexError, TypeError):
        return ""


def usage_tokens(body: bytes | list[bytes], endpoint: str) -> int:
    """``usage.total_tokens`` of an answer (0 when the backend did not report it)."""
    raw = body if isinstance(body, bytes) else assemble(body, endpoint)
    try:
        usage = orjson.loads(raw).get("usage") or {}
        return int(usage.get("total_tokens") or 0)
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 0
