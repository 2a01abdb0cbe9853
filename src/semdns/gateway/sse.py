"""The response of a pass-through stream: Starlette's ``StreamingResponse``, leaner per stream and per
chunk.

Starlette watches for the client leaving with an anyio task group per response (uvicorn speaks ASGI
2.3, so its cheaper 2.4 path is not taken): a cancel scope, a task group and a task for every stream,
a measurable share of a stream's CPU at a few hundred streams a second. Here the watch is one plain
asyncio task whose completion cancels the writer, which is what the task group did. And the chunk that
ends with ``data: [DONE]`` is written as the last one (``more_body: False``), which saves the empty
closing write; the body iterator is then run to its end without writing anything, so the code after
its last event (write-back to the cache, metrics, closing the backend's stream) still runs.

A subclass, so code that inspects a streamed answer (``isinstance(..., StreamingResponse)``,
``body_iterator``: the Responses API, the replay of a cached stream) treats it as before.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

_LAST = b"data: [DONE]\n\n"


class EventStream(StreamingResponse):
    """An SSE answer whose iterator yields whole events (one or several per item)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        if scope["type"] != "http" or task is None:
            await super().__call__(scope, receive, send)
            return
        state = {"gone": False, "finished": False}

        def client_left(watch: asyncio.Task[None]) -> None:
            # Also called once the answer is complete (uvicorn then answers receive() with a
            # disconnect): only a departure before the end cancels the writer.
            if not state["finished"] and not watch.cancelled():
                state["gone"] = True
                task.cancel()

        watcher = asyncio.get_running_loop().create_task(_until_disconnect(receive))
        watcher.add_done_callback(client_left)
        iterator = self.body_iterator
        try:
            start = {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            await send(start)
            async for chunk in iterator:
                if state["finished"]:
                    continue  # after [DONE]: the iterator's own ending still runs, nothing is written
                body = chunk if isinstance(chunk, bytes | memoryview) else chunk.encode(self.charset)
                if isinstance(body, bytes) and body.endswith(_LAST):
                    state["finished"] = True
                    await send({"type": "http.response.body", "body": body, "more_body": False})
                else:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            if not state["finished"]:
                state["finished"] = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not state["gone"] or task.uncancel() > 0:
                raise  # a cancellation of the server's, not the client's departure
        except OSError:
            pass  # the client's socket is gone: nothing left to write to
        finally:
            state["finished"] = True
            watcher.remove_done_callback(client_left)
            watcher.cancel()
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        if self.background is not None:
            await self.background()


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
