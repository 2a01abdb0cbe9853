"""The live-decision feed: an in-process event bus from the request path to console viewers.

Why it is built this way: the gateway's request path must not pay for a console nobody is looking at.
The path asks one question, :attr:`DecisionFeed.watching` (is the subscriber set non-empty), and does
nothing else when the answer is no. When someone watches, each finished response becomes one small
event built from the ``x-semdns-*`` headers the response already carries (so the path computes nothing
twice), serialised once and offered to every subscriber's bounded queue. A slow viewer never slows the
gateway: when its queue is full the event is dropped for that viewer and counted.

Events never hold the prompt or the answer: name, stage, confidence, cache statuses, status, latency,
degraded/fallback path, delegation, tenant label.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from semdns.errors import SemdnsError

DEFAULT_QUEUE = 1024
"""Events one viewer may lag behind before its events are dropped (about 2 s at 500 requests/s)."""


class FeedFull(SemdnsError):
    """Too many viewers already (each costs a queue and a serialisation per event)."""

    http_status = 503
    code = "console_busy"


class Subscription:
    """One viewer: a bounded queue of serialised events and what it missed."""

    __slots__ = ("dropped", "queue")

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=size)
        self.dropped = 0


class DecisionFeed:
    """Fan-out of decision events to subscribers; free when there are none."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE, max_subscribers: int = 32) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self._subscribers: set[Subscription] = set()
        self.published = 0
        self.dropped = 0

    @property
    def watching(self) -> bool:
        """The request path's only question: is anyone subscribed?"""
        return bool(self._subscribers)

    @property
    def full(self) -> bool:
        return len(self._subscribers) >= self.max_subscribers

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        """A subscription for the duration of the block (one SSE connection)."""
        if len(self._subscribers) >= self.max_subscribers:
            raise FeedFull(f"the console feed already has {self.max_subscribers} viewers")
        sub = Subscription(self.queue_size)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def publish(self, event: dict[str, Any]) -> None:
        """Offer ``event`` to every subscriber (never blocks; a full queue drops and counts)."""
        if not self._subscribers:
            return
        data = orjson.dumps(event)
        self.published += 1
        for sub in self._subscribers:
            try:
                sub.queue.put_nowait(data)
            except asyncio.QueueFull:
                sub.dropped += 1
                self.dropped += 1

    def stats(self) -> dict[str, int]:
        return {
            "subscribers": len(self._subscribers),
            "published": self.published,
            "dropped": self.dropped,
            "queue_size": self.queue_size,
        }
