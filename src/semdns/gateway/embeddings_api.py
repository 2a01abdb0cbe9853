"""``POST /v1/embeddings``: the packaged MiniLM encoder, or a name's own embedding server.

* ``model: "all-MiniLM-L6-v2"`` (or ``auto``): the encoder semdns routes with (int8 ONNX, 384
  dimensions, unit-length vectors), run off the event loop. A long input is read as the resolver reads
  prompts (its first and last 128-token windows, averaged).
* ``model: <a name>`` whose engines are OpenAI-compatible servers: the request is passed through to the
  first replica that answers (``<url>/embeddings``, the server's model), the answer returned as it came;
  a server without embeddings answers 4xx, which is passed on. A name served only by the local engine
  has no embeddings (SmolLM2 is a generator): a 400 naming ``model`` says which model to use instead.

Parameters: ``input`` (a string or a list of strings; token arrays are passed through but refused by
the packaged encoder, whose tokenizer is not the client's), ``encoding_format`` (``float`` or
``base64``), ``dimensions`` (only 384 for MiniLM, which is not a Matryoshka model), ``user``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response

from semdns.engines.openai_http import OpenAIHTTPEngine
from semdns.errors import (
    EngineError,
    InvalidRequest,
    NoEngineAvailable,
    SemdnsError,
)
from semdns.gateway.body import read_body
from semdns.gateway.parse import json_object
from semdns.gateway.runtime import Runtime
from semdns.gateway.wire import JSON, error_response
from semdns.names import Name
from semdns.resolve.encoder import MiniLMEncoder

log = logging.getLogger(__name__)

PACKAGED = "all-MiniLM-L6-v2"
_PACKAGED_IDS = frozenset({PACKAGED.lower(), "auto", "sentence-transformers/all-minilm-l6-v2"})
_KNOWN = frozenset({"input", "model", "encoding_format", "dimensions", "user"})
MAX_INPUTS = 2048


class EmbeddingRoutes:
    """The embeddings route bound to one runtime; the encoder is the resolver's when it has one."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        encoder = getattr(runtime.resolver, "encoder", None)
        self._encoder: MiniLMEncoder | None = encoder if isinstance(encoder, MiniLMEncoder) else None

    async def embeddings(self, request: Request) -> Response:
        name = "-"
        try:
            settings = self.runtime.settings
            body = _parse(await read_body(request, settings.max_body_bytes, settings.body_timeout_s))
            edge = self.runtime.edge
            admission = await edge.admit(request.headers) if edge is not None else None
            model = body["model"].strip()
            if model.lower() in _PACKAGED_IDS:
                name = PACKAGED
                result = await self._packaged(body)
            else:
                node = self.runtime.tree.lookup(model)
                served = node.name
                if edge is not None and admission is not None:
                    served = edge.permit(admission, served)
                name = str(served)
                result = await self._pass_through(served, body)
            self.runtime.metrics.requests.labels(name, "embeddings", "200").inc()
            return Response(orjson.dumps(result), media_type=JSON, headers={"x-semdns-name": name})
        except SemdnsError as exc:
            self.runtime.metrics.requests.labels(name, "embeddings", str(exc.http_status)).inc()
            return error_response(exc)
        except Exception:
            log.exception("unexpected error while serving embeddings")
            return error_response(SemdnsError("internal error in the gateway (logged)"))

    async def _packaged(self, body: dict[str, Any]) -> dict[str, Any]:
        for key in body:
            if key not in _KNOWN:
                raise InvalidRequest(
                    f"'{key}' is not supported by the packaged encoder {PACKAGED}", param=key
                )
        texts = _texts(body["input"])
        dimensions = body.get("dimensions")
        if dimensions is not None and dimensions != MiniLMEncoder.DIM:
            raise InvalidRequest(
                f"'dimensions' must be {MiniLMEncoder.DIM} for {PACKAGED} (it is not a Matryoshka model, "
                f"so its vectors cannot be shortened), got {dimensions}",
                param="dimensions",
            )
        if self._encoder is None:
            self._encoder = MiniLMEncoder()
        encoder = self._encoder

        def run() -> tuple[Any, int]:
            vectors = encoder.encode(texts)
            tokens = sum(len(encoder.token_ids(t)) for t in texts)
            return vectors, tokens

        vectors, tokens = await asyncio.to_thread(run)
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": _base64(vector) if as_base64 else [float(x) for x in vector],
            }
            for i, vector in enumerate(vectors)
        ]
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": PACKAGED, "usage": usage}

    async def _pass_through(self, name: Name, body: dict[str, Any]) -> dict[str, Any]:
        pool = self.runtime.pools.get(name)
        engines = [
            r for r in (pool.replicas if pool is not None else ()) if isinstance(r.engine, OpenAIHTTPEngine)
        ]
        if not engines:
            raise InvalidRequest(
                f"{name} is served by engines without embeddings (the local engine generates text only); "
                f"use model '{PACKAGED}' for the packaged encoder",
                param="model",
            )
        timeout = self.runtime.tree.node(name).gateway.deadline_s
        failures: list[str] = []
        for replica in engines:
            if not replica.available():
                failures.append(f"{replica.label} unavailable")
                continue
            assert isinstance(replica.engine, OpenAIHTTPEngine)
            try:
                return await replica.engine.embed(body, timeout)
            except EngineError as exc:
                if not exc.retryable:
                    raise
                failures.append(str(exc))
        raise NoEngineAvailable(f"no engine of {name} answered embeddings: {'; '.join(failures)}")


def _parse(raw: bytes) -> dict[str, Any]:
    body = json_object(raw)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(
            f"'model' is required: '{PACKAGED}' (the packaged encoder) or a name", param="model"
        )
    if "input" not in body or body["input"] is None:
        raise InvalidRequest("'input' is required: a string or a list of strings", param="input")
    value = body["input"]
    if not isinstance(value, (str, list)):
        raise InvalidRequest("'input' must be a string or a list", param="input")
    if isinstance(value, list) and not 0 < len(value) <= MAX_INPUTS:
        raise InvalidRequest(f"'input' must hold 1 to {MAX_INPUTS} items, got {len(value)}", param="input")
    encoding = body.get("encoding_format")
    if encoding is not None and encoding not in ("float", "base64"):
        raise InvalidRequest(
            f"'encoding_format' must be float or base64, got {encoding!r}", param="encoding_format"
        )
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise InvalidRequest("'dimensions' must be a positive integer", param="dimensions")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidRequest("'user' must be a string", param="user")
    return body


def _texts(value: Any) -> list[str]:
    """The inputs as texts, for the packaged encoder (which reads text, not another model's tokens)."""
    items = [value] if isinstance(value, str) else value
    texts: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidRequest(
                f"input[{i}] is {type(item).__name__}: the packaged encoder reads text, not token arrays",
                param="input",
            )
        if not item.strip():
            raise InvalidRequest(f"input[{i}] is empty", param="input")
        texts.append(item)
    return texts


def _base64(vector: Any) -> str:
    """OpenAI's base64 form: the float32 little-endian bytes of the vector."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
