"""A lean HTTP/1.1 client for the engines' hot path: keep-alive connections to plain-``http`` servers,
responses parsed by ``httptools`` (the C parser uvicorn serves with), nothing else.

Why not aiohttp everywhere: a profile of the gateway under load put about a third of its CPU in
aiohttp's request path (headers objects, a payload writer, a response object, a stream reader, the
connector's bookkeeping) for requests whose headers the gateway writes itself and whose body it
reads once. Here a request is one prebuilt header block and one write; a response is a status, two
headers the engine needs (length or chunking, and encoding) and body chunks handed over as they
arrive. aiohttp still serves what this does not: ``https`` origins (TLS, proxies), and every request
when tracing is on (its request hooks make the client spans and inject ``traceparent``).

Connection reuse follows HTTP/1.1: a connection goes back to its origin's idle list only after a
complete response that allows keep-alive, read to its end; one abandoned mid-body (client gone,
timeout, error) is closed, since it still carries unread bytes. A request that fails on a *reused*
connection before any byte of the answer (the server closed it while it sat idle) is sent once more on
a new connection, as browsers do; any other failure is the caller's (the dispatcher retries).
"""

from __future__ import annotations

import asyncio
import collections
import zlib
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

__all__ = ["HTTP1Client", "HTTP1Error", "Origin", "Response"]

_READ_HIGH_WATER = 256 * 1024
"""Unread body bytes at which a connection stops reading from its socket until the caller catches up."""


class HTTP1Error(Exception):
    """A transport failure: ``kind`` is ``connect`` (no connection) or ``transport`` (it broke)."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class Origin:
    """Where requests go: scheme ``http``, a host and a port, with the ``Host`` header they carry."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{url!r}: the lean client serves http:// URLs only")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.key = (self.host, self.port)
        self.host_header = parts.netloc.rsplit("@", 1)[-1].encode("ascii")

    @staticmethod
    def supports(url: str) -> bool:
        """Whether ``url`` is one this client serves (plain http, no credentials in it)."""
        parts = urlsplit(url)
        return parts.scheme == "http" and bool(parts.hostname) and "@" not in parts.netloc


def request_head(method: str, origin: Origin, path: str, headers: dict[str, str]) -> bytes:
    """The request line and headers of every request to ``path`` but ``Content-Length``: built once
    per engine and route, not per request."""
    lines = [f"{method} {path} HTTP/1.1".encode("ascii"), b"Host: " + origin.host_header]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers.items()]
    return b"\r\n".join(lines) + b"\r\n"


class Response(asyncio.Protocol):
    """One connection, and the response now arriving on it (an ``asyncio.Protocol``: the event loop
    hands it bytes, ``httptools`` parses them)."""

    def __init__(self, client: HTTP1Client, origin: Origin) -> None:
        self._client = client
        self.origin = origin
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused = False
        self._whole = False  # read() wants the whole body: never pause reading for it
        self._interim = False  # an informational (1xx) answer is being parsed
        self._decoder: Any = None
        self.status = 0
        self._keep_alive = False
        self._headers_done = False
        self._complete = False
        self._delimited = False  # Content-Length or chunked: the end is in the stream, not the close
        self._failure: BaseException | None = None
        self._lost = False
        self._got_bytes = False
        self.reused = False
        self._loop = asyncio.get_running_loop()
        self._stall: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._stall_s = 0.0
        self._progress = 0.0  # when the current wait began or data last arrived (the loop's clock)

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check here.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        if self._stall is not None:
            self._progress = self._loop.time()
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            # An upgrade (101) is no answer to a POST: refused like a malformed one.
            self._fail(HTTP1Error(f"malformed HTTP response: {exc!r}", kind="transport"))
            self._close_transport()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._transport = None
        if self._headers_done and not self._complete and not self._delimited and exc is None:
            self.on_message_complete()  # a body delimited by the connection's close, read to its end
        elif not self._complete:
            detail = f": {exc}" if exc else ""
            self._fail(HTTP1Error(f"the server closed the connection{detail}", kind="transport"))
        self._client.forget(self)

    def pause_writing(self) -> None:  # pragma: no cover - request bodies are small
        pass

    def resume_writing(self) -> None:  # pragma: no cover
        pass

    # -- httptools callbacks -----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"content-length" or (lowered == b"transfer-encoding" and b"chunked" in value.lower()):
            self._delimited = True
        elif lowered == b"content-encoding":
            encoding = value.strip().lower()
            if encoding in (b"gzip", b"x-gzip", b"deflate"):
                self._decoder = zlib.decompressobj(47)  # 32 + 15: gzip or zlib, told by the header
            elif encoding not in (b"", b"identity"):
                self._fail(HTTP1Error(f"unsupported content-encoding {value!r}", kind="transport"))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            self._interim = True  # 100 Continue, 103 Early Hints: the answer is still to come
            return
        self.status = status
        # Asked here, as uvicorn does: once the message is complete the parser no longer knows.
        self._keep_alive = self._parser.should_keep_alive()
        self._headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error as exc:
                self._fail(HTTP1Error(f"undecodable compressed body: {exc}", kind="transport"))
                return
        if body:
            self._chunks.append(body)
            self._buffered += len(body)
            if (
                self._buffered > _READ_HIGH_WATER
                and not self._whole
                and self._transport is not None
                and not self._paused
            ):
                self._transport.pause_reading()  # a stream's reader is behind: let TCP hold the rest
                self._paused = True
            self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            self._delimited = False
            return
        if self._decoder is not None:
            rest = self._decoder.flush()
            if rest:
                self._chunks.append(rest)
        self._complete = True
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._wake()

    # -- the exchange ------------------------------------------------------------------------

    def send(self, head: bytes, body: bytes) -> None:
        """Write one request (``head`` from :func:`request_head`, then the body's length)."""
        assert self._transport is not None
        if self.reused:
            self._reset()
        self._transport.write(b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body))

    async def started(self) -> None:
        """Wait for the response's status and headers."""
        while not self._headers_done:
            await self._wait()
        self._check()

    async def chunk(self, stall_s: float | None = None) -> bytes:
        """The body's bytes arrived since the last call (decompressed; at least one piece, all that
        are buffered, as one), or ``b""`` at its end. With ``stall_s``, ``TimeoutError`` when no
        byte arrives for that long: one timer for the whole stream, re-armed only when it fires,
        instead of a timeout scope around every read."""
        self._check()
        while not self._chunks:
            if self._complete:
                return b""
            if stall_s is not None:
                self._watch_stall(stall_s)
            await self._wait()
        piece = self._chunks.popleft() if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self._transport is not None:
            self._transport.resume_reading()
            self._paused = False
        return piece

    async def read(self) -> bytes:
        """The whole body (read to its end whatever its size: no pause at the high-water mark)."""
        self._whole = True
        if self._paused and self._transport is not None:
            self._transport.resume_reading()
            self._paused = False
        while not self._complete:
            await self._wait()
        self._check()
        body = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        return body

    def release(self) -> None:
        """The response was read to its end: keep the connection for the next request when HTTP
        allows it, else close it."""
        self._stop_watching()
        if self._complete and not self._chunks and not self._lost and self._keep_alive:
            self.reused = True  # reset when it sends the next request: until then, status stays
            self._client.keep(self)
        else:
            self.close()

    def close(self) -> None:
        """Abandon the response and its connection (unread bytes may still be on it)."""
        self._close_transport()
        self._client.forget(self)

    def set_deadline(self, deadline: float | None) -> None:
        """Fail the exchange with ``TimeoutError`` at ``deadline`` (the loop's clock) unless it is
        complete by then; None removes it."""
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None if deadline is None else self._loop.call_at(deadline, self._deadline_passed)

    def _deadline_passed(self) -> None:
        self._deadline = None
        if not self._complete:
            self._fail(TimeoutError("no complete answer in time"))

    def _watch_stall(self, stall_s: float) -> None:
        """Fail the coming wait with ``TimeoutError`` if no byte arrives within ``stall_s``."""
        self._progress = self._loop.time()
        if self._stall is None or stall_s != self._stall_s:
            if self._stall is not None:
                self._stall.cancel()
            self._stall_s = stall_s
            self._stall = self._loop.call_at(self._progress + stall_s, self._stall_check)

    def _stall_check(self) -> None:
        self._stall = None
        if self._complete or self._waiter is None:
            return  # not waiting: the next wait arms it again
        quiet = self._loop.time() - self._progress
        if quiet >= self._stall_s:
            self._fail(TimeoutError(f"no data for {quiet:.3g} s"))
        else:
            self._stall = self._loop.call_at(self._progress + self._stall_s, self._stall_check)

    def _stop_watching(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    # -- internals ---------------------------------------------------------------------------

    def _check(self) -> None:
        if self._failure is not None:
            raise self._failure

    async def _wait(self) -> None:
        self._check()
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None
        self._check()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._wake()

    def _close_transport(self) -> None:
        self._stop_watching()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._lost = True

    def _reset(self) -> None:
        """Ready for the next response on the same connection. The parser stays: it reads one
        message after another on a kept-alive connection (a new one cost a tenth of a stream's CPU)."""
        self._decoder = None
        self._whole = self._interim = False
        if self._paused and self._transport is not None:
            self._transport.resume_reading()
        self._paused = False
        self.status = 0
        self._headers_done = self._complete = self._delimited = self._got_bytes = self._keep_alive = False
        self._failure = None

    @property
    def usable(self) -> bool:
        """An idle connection the server has not closed."""
        return not self._lost and self._transport is not None and not self._transport.is_closing()

    @property
    def answered(self) -> bool:
        """Whether any byte of the response arrived (a request that failed before it may be resent)."""
        return self._got_bytes


class HTTP1Client:
    """Keep-alive connections per origin, at most ``max_connections`` open at once (idle ones
    included: at the limit, an idle connection is closed to make room, else the request waits)."""

    def __init__(self, *, max_connections: int = 1024) -> None:
        self._idle: dict[tuple[str, int], list[Response]] = {}
        self._open: set[Response] = set()
        self._max = max_connections
        self._connecting = 0
        self._waiting: collections.deque[asyncio.Future[None]] = collections.deque()

    async def post(
        self,
        origin: Origin,
        head: bytes,
        body: bytes,
        *,
        timeout_s: float | None = None,
        through_body: bool = True,
    ) -> Response:
        """Send a request and return once its status and headers arrived; read the body from the
        returned :class:`Response`, then :meth:`Response.release` or :meth:`Response.close` it.

        ``timeout_s`` bounds the exchange (``TimeoutError`` past it): to the end of the body, or only
        to the headers without ``through_body`` (a stream, whose reads have their own stall check).
        One timer on the connection, not a timeout scope: this is every request's path."""
        deadline = None if timeout_s is None else self._loop_time() + timeout_s
        for attempt in (0, 1):
            connection = await self._connection(origin, deadline)
            try:
                connection.send(head, body)
                if deadline is not None:
                    connection.set_deadline(deadline)
                await connection.started()
                if not through_body:
                    connection.set_deadline(None)
                return connection
            except HTTP1Error:
                connection.close()
                if attempt == 0 and connection.reused and not connection.answered:
                    continue  # the server closed an idle connection as we used it: once more, fresh
                raise
            except BaseException:
                connection.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    def _idle_connection(self, origin: Origin) -> Response | None:
        """The most recently released connection to ``origin`` the server has not closed, if any."""
        idle = self._idle.get(origin.key)
        while idle:
            connection = idle.pop()
            if connection.usable:
                return connection
            connection.close()
        return None

    async def _connection(self, origin: Origin, deadline: float | None = None) -> Response:
        """An idle connection to ``origin``, or a new one (by ``deadline``, on the loop's clock)."""
        idle = self._idle_connection(origin)
        if idle is not None:
            return idle
        if deadline is None:
            return await self._new_connection(origin)
        async with asyncio.timeout_at(deadline):
            return await self._new_connection(origin)

    async def _new_connection(self, origin: Origin) -> Response:
        """An idle connection to ``origin`` (one may come back while waiting), or a new one when the
        limit allows; at the limit, an idle connection to another origin is closed to make room, or
        the request waits for one to be released or closed."""
        while True:
            idle = self._idle_connection(origin)
            if idle is not None:
                return idle
            if len(self._open) + self._connecting < self._max:
                break
            spare = next((pool[0] for pool in self._idle.values() if pool), None)
            if spare is not None:
                spare.close()
                continue
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
        loop = asyncio.get_running_loop()
        self._connecting += 1  # counted against the limit while it connects
        try:
            _, connection = await loop.create_connection(
                lambda: Response(self, origin), origin.host, origin.port
            )
        except OSError as exc:
            where = f"{origin.host}:{origin.port}"
            raise HTTP1Error(f"cannot connect to {where}: {exc}", kind="connect") from None
        finally:
            self._connecting -= 1
            self._wake_one()
        self._open.add(connection)
        return connection

    def keep(self, connection: Response) -> None:
        """``connection`` is idle again, ready for its origin's next request (a waiting one first)."""
        self._idle.setdefault(connection.origin.key, []).append(connection)
        self._wake_one()

    def forget(self, connection: Response) -> None:
        """``connection`` is closed: out of the idle list and the count, and a waiting request may open
        one."""
        if connection not in self._open:
            return
        self._open.discard(connection)
        idle = self._idle.get(connection.origin.key)
        if idle and connection in idle:
            idle.remove(connection)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
