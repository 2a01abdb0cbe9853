"""The lean HTTP/1.1 client against a real loopback server that writes scripted answers byte for byte:
keep-alive, the three ways a body ends, compression, broken and malformed answers, the connection
limit, and the same under uvloop (the gateway's loop, whose transports are not asyncio's)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from semdns.engines.http1 import HTTP1Client, HTTP1Error, Origin, request_head

Answer = Callable[[bytes], list[bytes] | None]
"""Given a request's body, the pieces to write back (None: close without answering)."""


class ScriptedServer:
    """A loopback HTTP/1.1 server: reads each request (head and Content-Length body) and writes what
    ``answer`` says, piece by piece; counts connections and requests."""

    def __init__(self, answer: Answer, *, close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> ScriptedServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.origin = Origin(f"http://127.0.0.1:{self.port}/v1")
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                pieces = self.answer(body)
                if pieces is None:
                    break
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0)
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def fixed(body: bytes, *headers: bytes, status: bytes = b"200 OK") -> list[bytes]:
    extra = b"".join(h + b"\r\n" for h in headers)
    return [b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n" % len(body) + extra + b"\r\n" + body]


def chunked(*parts: bytes) -> list[bytes]:
    out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"]
    out += [b"%x\r\n%s\r\n" % (len(p), p) for p in parts]
    return [*out, b"0\r\n\r\n"]


def head_for(server: ScriptedServer) -> bytes:
    return request_head("POST", server.origin, "/v1/chat/completions", {"content-type": "application/json"})


def on_both_loops(test: Callable[[], Awaitable[None]]) -> Callable[[str], None]:
    """Run ``test`` on asyncio's loop and on uvloop's (the gateway serves on uvloop)."""

    @pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
    def run(loop: str) -> None:
        (uvloop.run if loop == "uvloop" else asyncio.run)(test())

    run.__name__ = test.__name__
    run.__doc__ = test.__doc__
    return run


@on_both_loops
async def test_keep_alive_reuses_one_connection() -> None:
    async with ScriptedServer(lambda body: fixed(b'{"echo":' + body + b"}")) as server:
        client = HTTP1Client()
        for i in range(5):
            response = await client.post(server.origin, head_for(server), b"%d" % i)
            assert response.status == 200 and await response.read() == b'{"echo":%d}' % i
            response.release()
        assert server.connections == 1 and len(server.requests) == 5
        first = server.requests[0]
        assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"\r\ncontent-type: application/json\r\nContent-Length: 1\r\n\r\n0" in first
        await client.aclose()


@on_both_loops
async def test_chunked_bodies_arrive_piece_by_piece() -> None:
    events = [b'data: {"a":1}\n\n', b'data: {"a":2}\n\n', b"data: [DONE]\n\n"]
    async with ScriptedServer(lambda body: chunked(*events)) as server:
        client = HTTP1Client()
        response = await client.post(server.origin, head_for(server), b"{}")
        received = []
        while piece := await response.chunk():
            received.append(piece)
        assert b"".join(received) == b"".join(events)
        response.release()
        again = await client.post(server.origin, head_for(server), b"{}")  # the same connection
        assert await again.read() == b"".join(events)
        again.release()
        assert server.connections == 1
        await client.aclose()


@on_both_loops
async def test_a_body_ended_by_the_close_is_read_to_its_end_and_not_reused() -> None:
    answer = [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b'{"ok":', b"true}"]
    async with ScriptedServer(lambda body: answer, close_after=True) as server:
        client = HTTP1Client()
        for _ in range(2):
            response = await client.post(server.origin, head_for(server), b"{}")
            assert await response.read() == b'{"ok":true}'
            response.release()
        assert server.connections == 2
        await client.aclose()


@on_both_loops
async def test_gzip_is_decoded_and_an_unknown_encoding_refused() -> None:
    packed = gzip.compress(b'{"ok":true}')
    answers = iter(
        [
            fixed(packed, b"Content-Encoding: gzip"),
            [b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n", packed],
            fixed(b"xx", b"Content-Encoding: br"),
        ]
    )
    async with ScriptedServer(lambda body: next(answers), close_after=True) as server:
        client = HTTP1Client()
        for _ in range(2):  # delimited by its length, then by the connection's close
            response = await client.post(server.origin, head_for(server), b"{}")
            assert await response.read() == b'{"ok":true}'
            response.release()
        with pytest.raises(HTTP1Error, match="content-encoding") as caught:
            await client.post(server.origin, head_for(server), b"{}")
        assert caught.value.kind == "transport"
        await client.aclose()


@on_both_loops
async def test_error_statuses_are_answers_not_failures() -> None:
    body = b'{"error":{"message":"overloaded"}}'
    async with ScriptedServer(lambda _: fixed(body, status=b"503 Service Unavailable")) as server:
        client = HTTP1Client()
        response = await client.post(server.origin, head_for(server), b"{}")
        assert response.status == 503 and await response.read() == body
        response.release()
        await client.aclose()


@on_both_loops
async def test_malformed_answers_and_dropped_connections_are_transport_errors() -> None:
    answers: list[list[bytes] | None] = [
        [b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n"],  # malformed
        [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"],
        None,  # closed without a byte, on a fresh connection: not resent
        [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"only part"],  # then closed mid-body
    ]
    it = iter(answers)

    async with ScriptedServer(lambda _: next(it), close_after=True) as server:
        client = HTTP1Client()
        for _ in range(3):
            with pytest.raises(HTTP1Error) as caught:
                await client.post(server.origin, head_for(server), b"{}")
            assert caught.value.kind == "transport"
        response = await client.post(server.origin, head_for(server), b"{}")
        assert await response.chunk() == b"only part"
        with pytest.raises(HTTP1Error, match="closed the connection"):
            await response.chunk()
        response.close()
        await client.aclose()


@on_both_loops
async def test_no_server_is_a_connect_error() -> None:
    async with ScriptedServer(lambda _: None) as server:
        port = server.port
    client = HTTP1Client()
    with pytest.raises(HTTP1Error) as caught:
        await client.post(Origin(f"http://127.0.0.1:{port}"), b"POST / HTTP/1.1\r\n", b"")
    assert caught.value.kind == "connect"
    await client.aclose()


@on_both_loops
async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async with ScriptedServer(lambda _: fixed(b"{}")) as server:
        client = HTTP1Client()
        response = await client.post(server.origin, head_for(server), b"{}")
        await response.read()
        response.release()
        for writer in server.writers:  # the server drops the idle connection
            writer.close()
        await asyncio.sleep(0.05)
        response = await client.post(server.origin, head_for(server), b"{}")
        assert await response.read() == b"{}"
        response.release()
        assert server.connections == 2
        await client.aclose()


@on_both_loops
async def test_an_abandoned_answer_closes_its_connection() -> None:
    async with ScriptedServer(lambda _: chunked(b"data: 1\n\n", b"data: 2\n\n")) as server:
        client = HTTP1Client()
        response = await client.post(server.origin, head_for(server), b"{}")
        await response.chunk()
        response.close()  # unread bytes: never back in the pool
        response = await client.post(server.origin, head_for(server), b"{}")
        await response.read()
        response.release()
        assert server.connections == 2
        await client.aclose()


@on_both_loops
async def test_the_connection_limit_makes_requests_wait() -> None:
    gate = asyncio.Event()
    started: list[int] = []

    async def serve_slowly(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        started.append(1)
        try:
            while True:  # every request on this connection, once the gate opens
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(2)  # the body, b"{}"
                await gate.wait()
                writer.write(fixed(b"{}")[0])
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    server = await asyncio.start_server(serve_slowly, "127.0.0.1", 0)
    origin = Origin(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    client = HTTP1Client(max_connections=1)
    head = request_head("POST", origin, "/", {})

    async def one() -> bytes:
        response = await client.post(origin, head, b"{}")
        body = await response.read()
        response.release()
        return body

    first, second = asyncio.create_task(one()), asyncio.create_task(one())
    await asyncio.sleep(0.1)
    assert len(started) == 1  # the second waits for the only connection
    gate.set()
    assert await asyncio.wait_for(asyncio.gather(first, second), 5) == [b"{}", b"{}"]
    assert len(started) == 1  # and reused it
    await client.aclose()
    server.close()


@on_both_loops
async def test_a_large_body_pauses_reading_and_arrives_whole() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB, past the read high-water mark
    async with ScriptedServer(lambda _: fixed(big)) as server:
        client = HTTP1Client()
        response = await client.post(server.origin, head_for(server), b"{}")
        await asyncio.sleep(0.1)  # let the socket fill the buffer
        received = bytearray()
        while piece := await response.chunk():
            received += piece
        assert bytes(received) == big
        response.release()
        await client.aclose()


def test_only_plain_http_origins_without_credentials() -> None:
    assert Origin.supports("http://127.0.0.1:8000/v1")
    assert not Origin.supports("https://api.openai.com/v1")
    assert not Origin.supports("http://user:pw@host/v1")
    assert not Origin.supports("unix:///tmp/sock")
    with pytest.raises(ValueError, match="http:// URLs only"):
        Origin("https://api.openai.com/v1")
    assert Origin("http://example.com/v1").port == 80


@on_both_loops
async def test_a_stalled_stream_times_out_and_a_slow_steady_one_does_not() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        steady = (await reader.readexactly(1)) == b"s"
        writer.write(chunked()[0])
        for i in range(6 if steady else 1):
            writer.write(b"9\r\ndata: %d\n\n\r\n" % i)
            await writer.drain()
            await asyncio.sleep(0.1)
        if steady:
            writer.write(b"0\r\n\r\n")
        await asyncio.sleep(1.0)
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    origin = Origin(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    client = HTTP1Client()
    head = request_head("POST", origin, "/", {})
    steady = await client.post(origin, head, b"s")
    received = b""
    while piece := await steady.chunk(stall_s=0.3):  # 0.6 s in all, never 0.3 s quiet
        received += piece
    assert received == b"".join(b"data: %d\n\n" % i for i in range(6))
    steady.release()
    stalled = await client.post(origin, head, b"x")
    assert await stalled.chunk(stall_s=0.3) == b"data: 0\n\n"
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(TimeoutError):
        await stalled.chunk(stall_s=0.3)
    assert 0.25 <= loop.time() - began < 0.9
    stalled.close()
    await client.aclose()
    server.close()


@on_both_loops
async def test_pieces_that_arrived_together_come_out_as_one() -> None:
    async with ScriptedServer(lambda _: chunked(b"data: 1\n\n", b"data: 2\n\n", b"data: 3\n\n")) as server:
        client = HTTP1Client()
        response = await client.post(server.origin, head_for(server), b"{}")
        await asyncio.sleep(0.1)  # everything is buffered by now
        assert await response.chunk(stall_s=5) == b"data: 1\n\ndata: 2\n\ndata: 3\n\n"
        assert await response.chunk(stall_s=5) == b""
        response.release()
        await client.aclose()


@on_both_loops
async def test_the_deadline_bounds_the_exchange_to_its_last_byte_or_its_headers() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
                what = await reader.readexactly(1)
            except asyncio.IncompleteReadError:
                break
            if what == b"h":  # headers, then part of the body, then nothing for a while
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
            elif what == b"s":  # a stream's headers, its first event 0.4 s later
                writer.write(chunked()[0])
                await asyncio.sleep(0.4)
                writer.write(b"9\r\ndata: 1\n\n\r\n0\r\n\r\n")
            # b"n": no answer at all
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    origin = Origin(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    client = HTTP1Client()
    head = request_head("POST", origin, "/", {})
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(TimeoutError):
        await client.post(origin, head, b"n", timeout_s=0.2)
    assert 0.15 <= loop.time() - began < 0.8
    response = await client.post(origin, head, b"h", timeout_s=0.2)
    with pytest.raises(TimeoutError):
        await response.read()
    response.close()
    stream = await client.post(origin, head, b"s", timeout_s=0.2, through_body=False)
    assert await stream.chunk(stall_s=2) == b"data: 1\n\n"  # past the 0.2 s: the headers were in time
    assert await stream.chunk(stall_s=2) == b""
    stream.release()
    await client.aclose()
    server.close()


@on_both_loops
async def test_a_large_body_read_whole_arrives_whole() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB: past the high-water mark at which a streamed read pauses
    async with ScriptedServer(lambda _: fixed(big)) as server:
        client = HTTP1Client()
        for _ in range(2):  # and the connection serves the next request
            response = await client.post(server.origin, head_for(server), b"{}", timeout_s=10)
            await asyncio.sleep(0.1)  # let the socket fill the buffer before anyone reads
            assert await response.read() == big
            response.release()
        assert server.connections == 1
        await client.aclose()


@on_both_loops
async def test_an_informational_answer_is_skipped() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
    async with ScriptedServer(lambda _: [interim, *fixed(b'{"ok":1}')]) as server:
        client = HTTP1Client()
        for _ in range(2):
            response = await client.post(server.origin, head_for(server), b"{}")
            assert response.status == 200 and await response.read() == b'{"ok":1}'
            response.release()
        assert server.connections == 1
        await client.aclose()
