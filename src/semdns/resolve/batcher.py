"""Running the transformer for concurrent requests, off the event loop, on a bounded set of threads.

Concurrent ``Session.run`` calls from request threads, each with its own intra-op threads, fight over
the cores (the profile of issue 16: 70% of a gateway's CPU in ``Session.run`` from worker threads, two
intra-op threads each on a two-core machine). So every request that needs the transformer hands its
token ids to one :class:`EmbeddingBatcher`: ``workers`` threads (one by default) run the model, each
taking everything that queued while its previous batch ran (up to ``max_batch``) in one hand-over.
The encoder embeds a batch one text per model call, so that a vector never depends on its neighbours
(:meth:`semdns.resolve.encoder.MiniLMEncoder.encode_ids` says why); the batch saves the thread
hand-overs and wake-ups. A lone request is embedded at once, since ``max_wait_s`` (how long a worker
may wait for company before running a batch that is not full) defaults to zero — bench/resolve.py
measures the choice.

The event loop never blocks: :meth:`EmbeddingBatcher.embed` is awaited, and results come back
through ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from semdns.model_workers import apply_switch_interval
from semdns.resolve.encoder import Vectors

_log = logging.getLogger(__name__)

EncodeIds = Callable[[Sequence[list[int]]], Vectors]
T = TypeVar("T")


@dataclass(slots=True)
class _Pending:
    """One request: token ids to embed with the batcher's model, or other model ``work`` to run (the
    shallow pass's layers, or the rest of the model after them)."""

    ids: list[int] | None
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    work: Callable[[], Any] | None = None


class BatcherClosed(RuntimeError):
    """The batcher was closed while a request waited for its embedding."""


class EmbeddingBatcher:
    """Embeds tokenised prompts from any number of event loops, in shared batches on ``workers``
    threads."""

    def __init__(
        self, encode_ids: EncodeIds, *, max_batch: int = 32, max_wait_s: float = 0.0, workers: int = 1
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must not be negative")
        self._encode_ids = encode_ids
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: deque[_Pending] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self.workers = workers
        self._threads: list[threading.Thread] = []
        self.batches = 0
        """Batches run so far (with :attr:`embedded`: the mean batch size, for benchmarks and tests)."""
        self.embedded = 0
        self.ran = 0
        """Other model work run so far (:meth:`run`)."""

    async def embed(self, ids: list[int]) -> Vectors:
        """The embedding of one tokenised prompt (a 1-D vector), computed in a shared batch."""
        vector: Vectors = await self._submit(ids, None)
        return vector

    async def run(self, work: Callable[[], T]) -> T:
        """Run other model ``work`` on the same workers (so that every transformer call of the process
        shares one bounded set of threads), in turn with the batches; its result or its exception."""
        result: T = await self._submit(None, work)
        return result

    async def _submit(self, ids: list[int] | None, work: Callable[[], Any] | None) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._ready:
            if self._closed:
                raise BatcherClosed("the embedding batcher is closed")
            self._queue.append(_Pending(ids, future, loop, work))
            if not self._threads:
                # Threads now share the interpreter lock with the event loop: hand it over sooner.
                apply_switch_interval()
                for index in range(self.workers):
                    thread = threading.Thread(target=self._work, name=f"semdns-embed-{index}", daemon=True)
                    self._threads.append(thread)
                    thread.start()
            self._ready.notify()
        return await future

    def close(self) -> None:
        """Stop the worker; requests still queued fail with :class:`BatcherClosed`."""
        with self._ready:
            self._closed = True
            left = list(self._queue)
            self._queue.clear()
            self._ready.notify_all()
        for pending in left:
            _deliver(pending, None, BatcherClosed("the embedding batcher is closed"))

    # -- the worker thread ---------------------------------------------------------------------

    def _take(self) -> list[_Pending] | None:
        with self._ready:
            while not self._queue and not self._closed:
                self._ready.wait()
            if self._closed:
                return None
            if self.max_wait_s > 0 and len(self._queue) < self.max_batch:
                deadline = time.monotonic() + self.max_wait_s
                while len(self._queue) < self.max_batch and not self._closed:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._ready.wait(left)
            count = min(self.max_batch, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            for pending in batch:
                if pending.work is not None and not pending.future.cancelled():
                    self._run_one(pending, pending.work)
            live = [p for p in batch if p.ids is not None and not p.future.cancelled()]
            if not live:
                continue
            try:
                vectors = self._encode_ids([p.ids for p in live if p.ids is not None])
            except Exception as exc:  # delivered to every waiter; the worker carries on
                _log.warning("embedding a batch of %d failed: %r", len(live), exc)
                for pending in live:
                    _deliver(pending, None, exc)
                continue
            with self._ready:  # several workers count
                self.batches += 1
                self.embedded += len(live)
            for pending, vector in zip(live, vectors, strict=True):
                _deliver(pending, vector, None)

    def _run_one(self, pending: _Pending, work: Callable[[], Any]) -> None:
        try:
            result = work()
        except Exception as exc:  # delivered to its waiter; the worker carries on
            _log.warning("model work failed: %r", exc)
            _deliver(pending, None, exc)
            return
        with self._ready:
            self.ran += 1
        _deliver(pending, result, None)


def _deliver(pending: _Pending, result: Any, error: BaseException | None) -> None:
    def settle() -> None:
        if pending.future.done():
            return
        if error is not None:
            pending.future.set_exception(error)
        else:
            pending.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the waiter's loop is closed: nobody is left to tell
        pending.loop.call_soon_threadsafe(settle)
