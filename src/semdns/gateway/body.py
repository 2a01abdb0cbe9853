"""Reading a request's body within the gateway's limits, for every route that takes one: refused
with 413 as soon as it is known to exceed the size limit (from ``content-length``, or while it
arrives), and with 408 when it has not all arrived in time. No route holds an unbounded body in
memory or waits on a client that trickles one."""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from semdns.errors import InvalidRequest, RequestTimeout, RequestTooLarge


async def read_body(request: Request, limit: int, timeout_s: float | None = None) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit``, and with 408 when
    it has not all arrived after ``timeout_s`` (a client that trickles its body holds no slot for long)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidRequest("the content-length header is not a number") from None
        if size > limit:
            raise RequestTooLarge(f"the request body has {size} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                total += len(chunk)
                if total > limit:
                    raise RequestTooLarge(f"the request body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout_s:g} s") from None
    return b"".join(chunks)
