"""Shared state in Redis (redis-py's asyncio client), degrading to an in-process twin when it is down.

* Cache entries are plain keys with a TTL; the ANN index of each process follows a Redis Stream of
  inserts and evictions (``XADD``/``XREAD``).
* A token bucket is one Lua script (read, refill, spend, write, using Redis's own clock), so two
  processes can never both spend the last token; a quota counter likewise.
* Any connection error flips the state to *degraded*: every operation then runs on the in-process
  :class:`~semdns.state.MemoryState` twin (the gateway keeps answering, limits hold per process) and a
  background task pings Redis until it answers again, copies back what was written meanwhile (see
  :meth:`RedisState._replay`), then calls the ``on_reconnect`` listeners (the response cache rebuilds
  its index from Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from semdns.state.base import BucketMode, BucketResult, QuotaResult, State, StateEvent
from semdns.state.memory import MemoryState, bucket_result

log = logging.getLogger(__name__)

T = TypeVar("T")

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)

# KEYS[1] bucket hash; ARGV capacity, refill per second, amount, mode (take | check | debit).
_BUCKET_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local mode = ARGV[4]
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = cap; ts = now end
tokens = math.min(cap, tokens + math.max(0, now - ts) * rate)
local allowed = 0
if mode == 'debit' or tokens >= amount then allowed = 1 end
if allowed == 1 and mode ~= 'check' then tokens = tokens - amount end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - math.min(tokens, 0)) / rate * 1000) + 60000)
return {allowed, tostring(tokens)}
"""

# KEYS[1] counter; ARGV amount, limit, ttl seconds, add (1) or check (0).
_QUOTA_LUA = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if ARGV[4] == '1' then
  used = redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))
  if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3])) end
  if used <= tonumber(ARGV[2]) then return {1, used} end
  return {0, used}
end
if used < tonumber(ARGV[2]) then return {1, used} end
return {0, used}
"""


class RedisState:
    """:class:`~semdns.state.State` in Redis, with an in-process twin for when Redis is down."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "semdns:",
        op_timeout_s: float = 1.0,
        reconnect_every_s: float = 0.5,
        stream_maxlen: int = 200_000,
        max_pending: int = 100_000,
    ) -> None:
        """``max_pending``: at most this many keys, and as many stream events, written while Redis is
        down are remembered to be copied back (the oldest are forgotten first)."""
        self.url = url
        self.prefix = prefix
        self._op_timeout = op_timeout_s
        self._reconnect_every = reconnect_every_s
        self._stream_maxlen = stream_maxlen
        # Typed as Any: redis-py's return types are unions of bytes and str (decode_responses is a
        # runtime switch); we always read bytes.
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=op_timeout_s, socket_connect_timeout=op_timeout_s, health_check_interval=0
        )
        self._reader: Any = aioredis.Redis.from_url(
            url, socket_connect_timeout=op_timeout_s, socket_timeout=None
        )
        self._bucket_script = self._client.register_script(_BUCKET_LUA)
        self._quota_script = self._client.register_script(_QUOTA_LUA)
        self._twin = MemoryState()
        self._max_pending = max_pending
        # Written to the twin while degraded, in order: key -> True (copy the twin's value back) or
        # False (delete it in Redis); and the stream events published meanwhile.
        self._pending: dict[str, bool] = {}
        self._pending_events: deque[bytes] = deque()
        self.replayed = 0
        self.replay_dropped = 0
        self._up = False
        self._reconnect_task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[], Awaitable[None]]] = []
        self._closed = False
        self.reconnects = 0
        self.errors = 0
        self.last_error: str | None = None
        self.down_since: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def shared(self) -> bool:
        return self._up

    @property
    def reachable(self) -> bool:
        return self._up

    def on_reconnect(self, listener: Callable[[], Awaitable[None]]) -> None:
        """Call ``listener`` each time Redis is reachable again after an outage."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Connect; an unreachable Redis at start is an outage like any other, not a crash."""
        try:
            await asyncio.wait_for(self._client.ping(), self._op_timeout)
            self._up = True
        except _UNREACHABLE as exc:
            self._went_down(exc)

    async def aclose(self) -> None:
        self._closed = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reconnect_task
        for client in (self._client, self._reader):
            with contextlib.suppress(Exception):
                await client.aclose()

    def _went_down(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self._up or self.down_since is None:
            log.warning("redis at %s is unreachable (%s): serving from process-local state", self.url, exc)
            self.down_since = time.time()
        self._up = False
        if not self._closed and (self._reconnect_task is None or self._reconnect_task.done()):
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        while not self._closed and not self._up:
            await asyncio.sleep(self._reconnect_every)
            try:
                await asyncio.wait_for(self._client.ping(), self._op_timeout)
            except _UNREACHABLE:
                continue
            except RedisError:
                continue
            try:
                await self._replay()
            except _UNREACHABLE:
                continue
            self._up = True  # no await since _replay found nothing left: nothing written is missed
            self.down_since = None
            self.reconnects += 1
            log.warning("redis at %s is reachable again", self.url)
            for listener in self._listeners:
                try:
                    await listener()
                except Exception:  # a listener's failure must not stop the others
                    log.exception("a redis reconnect listener failed")

    async def _replay(self) -> None:
        """Copy what this process wrote while Redis was down back into it: the keys put (their current
        value in the twin, with the TTL they have left), the keys deleted, then the stream events.

        Why: while degraded every write lands in the process-local twin only; without this, a response
        cached during an outage (with its embedding, which the entry carries, and its learned-threshold
        observations) would be unknown to the other processes and lost at the next restart, and this
        process's own index would drop it when it rebuilds from Redis. Keys go before events, so that a
        process following the stream finds the entry an ``insert`` names. It runs before the state
        counts as up, so writes made meanwhile still go to the twin and are recorded; it loops until
        none is left. Idempotent: a key is copied whole (SET with PX); what a lost connection left
        unsent is retried after the next ping. Bounded by ``max_pending``. A process that rebuilds its
        index while these events arrive may apply an ``observe`` event to observations it has just read
        back: one duplicate observation at most per event, on an outage's writes only.
        """
        while self._pending or self._pending_events:
            items, self._pending = list(self._pending.items()), {}
            events, self._pending_events = list(self._pending_events), deque()
            sent_items = sent_events = 0
            try:
                while sent_items < len(items):
                    pipe = self._client.pipeline(transaction=False)
                    for key, alive in items[sent_items : sent_items + 500]:
                        item = self._twin.peek(key) if alive else None
                        if item is not None:
                            pipe.set(self._k(key), item[0], px=max(1, int(item[1] * 1000)))
                        elif not alive:
                            pipe.delete(self._k(key))
                    await self._replay_batch(pipe)
                    sent_items += 500
                while sent_events < len(events):
                    pipe = self._client.pipeline(transaction=False)
                    for data in events[sent_events : sent_events + 500]:
                        pipe.xadd(
                            self._k("events"), {b"d": data}, maxlen=self._stream_maxlen, approximate=True
                        )
                    await self._replay_batch(pipe)
                    sent_events += 500
            except _UNREACHABLE:
                # Put back what was not sent, in front of what was written since (which is newer).
                unsent = dict(items[sent_items:])
                unsent.update(self._pending)
                self._pending = unsent
                self._pending_events = deque(events[sent_events:]) + self._pending_events
                raise
            self.replayed += len(items) + len(events)
            log.warning(
                "copied %d keys and %d events written during the outage back to redis",
                len(items),
                len(events),
            )

    async def _replay_batch(self, pipe: Any) -> None:
        try:
            await asyncio.wait_for(pipe.execute(), max(self._op_timeout, 10.0))
        except _UNREACHABLE:
            raise
        except RedisError as exc:  # e.g. Redis out of memory: this batch is given up, not retried forever
            log.warning("copying writes made during the outage back to redis failed: %s", exc)
            self.replay_dropped += len(pipe)

    def _remember(self, key: str, alive: bool) -> None:
        self._pending.pop(key, None)
        if len(self._pending) >= self._max_pending:
            self._pending.pop(next(iter(self._pending)))
            self.replay_dropped += 1
        self._pending[key] = alive

    async def _run(self, op: Callable[[], Awaitable[T]], fallback: Callable[[], Awaitable[T]]) -> T:
        if not self._up:
            return await fallback()
        try:
            return await asyncio.wait_for(op(), self._op_timeout)
        except _UNREACHABLE as exc:
            self._went_down(exc)
            return await fallback()

    def _k(self, key: str) -> str:
        return self.prefix + key

    # -- key/value ---------------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        async def op() -> bytes | None:
            value = await self._client.get(self._k(key))
            return bytes(value) if value is not None else None

        return await self._run(op, lambda: self._twin.get(key))

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return

        async def op() -> None:
            await self._client.set(self._k(key), value, px=max(1, int(ttl_s * 1000)))

        async def fallback() -> None:
            self._remember(key, True)
            await self._twin.put(key, value, ttl_s)

        await self._run(op, fallback)

    async def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return

        async def op() -> None:
            await self._client.delete(*(self._k(k) for k in keys))

        async def fallback() -> None:
            for key in keys:
                self._remember(key, False)

        await self._twin.delete(keys)
        await self._run(op, fallback)

    async def scan(self, prefix: str, limit: int) -> list[tuple[str, bytes]]:
        async def op() -> list[tuple[str, bytes]]:
            out: list[tuple[str, bytes]] = []
            names: list[bytes] = []
            async for name in self._client.scan_iter(match=self._k(prefix) + "*", count=1000):
                names.append(name)
                if len(names) >= limit:
                    break
            for start in range(0, len(names), 500):
                batch = names[start : start + 500]
                values = await self._client.mget(batch)
                for name, value in zip(batch, values, strict=True):
                    if value is not None:
                        out.append((name.decode()[len(self.prefix) :], bytes(value)))
            return out

        if not self._up:
            return await self._twin.scan(prefix, limit)
        try:
            # A scan may take longer than one operation: bound it by the number of keys instead.
            return await asyncio.wait_for(op(), max(self._op_timeout, 30.0))
        except _UNREACHABLE as exc:
            self._went_down(exc)
            return await self._twin.scan(prefix, limit)

    # -- limits ------------------------------------------------------------------------------------

    async def bucket(
        self, key: str, capacity: float, per_s: float, amount: float, mode: BucketMode
    ) -> BucketResult:
        async def op() -> BucketResult:
            allowed, tokens = await self._bucket_script(
                keys=[self._k(key)], args=[capacity, per_s, amount, mode]
            )
            return bucket_result(bool(int(allowed)), float(tokens), capacity, per_s, amount)

        return await self._run(op, lambda: self._twin.bucket(key, capacity, per_s, amount, mode))

    async def quota(self, key: str, amount: int, limit: int, ttl_s: int, *, add: bool) -> QuotaResult:
        async def op() -> QuotaResult:
            allowed, used = await self._quota_script(
                keys=[self._k(key)], args=[amount, limit, ttl_s, 1 if add else 0]
            )
            return QuotaResult(bool(int(allowed)), int(used))

        return await self._run(op, lambda: self._twin.quota(key, amount, limit, ttl_s, add=add))

    async def incr(self, key: str, field: str, by: int = 1) -> None:
        async def op() -> None:
            await self._client.hincrby(self._k(key), field, by)

        await self._run(op, lambda: self._twin.incr(key, field, by))

    async def counters(self, key: str) -> dict[str, int]:
        async def op() -> dict[str, int]:
            raw = await self._client.hgetall(self._k(key))
            return {k.decode(): int(v) for k, v in raw.items()}

        return await self._run(op, lambda: self._twin.counters(key))

    # -- event stream ------------------------------------------------------------------------------

    async def publish(self, data: bytes) -> None:
        async def op() -> None:
            await self._client.xadd(
                self._k("events"), {b"d": data}, maxlen=self._stream_maxlen, approximate=True
            )

        async def fallback() -> None:
            if len(self._pending_events) >= self._max_pending:
                self._pending_events.popleft()
                self.replay_dropped += 1
            self._pending_events.append(data)

        await self._run(op, fallback)

    async def events(self, after: str, block_ms: int) -> list[StateEvent]:
        if not self._up:
            await asyncio.sleep(block_ms / 1000)
            return []
        try:
            reply = await asyncio.wait_for(
                self._reader.xread({self._k("events"): after}, count=512, block=block_ms),
                block_ms / 1000 + self._op_timeout,
            )
        except _UNREACHABLE as exc:
            self._went_down(exc)
            return []
        except ResponseError as exc:
            log.warning("reading the redis event stream failed: %s", exc)
            await asyncio.sleep(block_ms / 1000)
            return []
        out: list[StateEvent] = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                data = fields.get(b"d")
                if data is not None:
                    out.append(StateEvent(entry_id.decode(), bytes(data)))
        return out

    async def last_event_id(self) -> str:
        async def op() -> str:
            last = await self._client.xrevrange(self._k("events"), count=1)
            return str(last[0][0].decode()) if last else "0-0"

        async def fallback() -> str:
            return "0-0"

        return await self._run(op, fallback)

    def health(self) -> dict[str, Any]:
        return {
            "backend": "redis",
            "url": _redact(self.url),
            "shared": self._up,
            "reachable": self._up,
            "degraded": not self._up,
            "down_since": self.down_since,
            "reconnects": self.reconnects,
            "errors": self.errors,
            "last_error": self.last_error,
            "pending_replay": len(self._pending) + len(self._pending_events),
            "replayed": self.replayed,
            "replay_dropped": self.replay_dropped,
        }


def _redact(url: str) -> str:
    """The URL without a password (``redis://:secret@host`` → ``redis://:***@host``)."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def open_state(redis_url: str | None) -> State:
    """The state for a gateway: Redis when a URL is given, else the in-process twin."""
    if redis_url:
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"--redis {redis_url!r} is not a Redis URL; write redis://HOST:PORT/DB "
                "(or rediss:// for TLS, unix:///path/to/socket)"
            )
        return RedisState(redis_url)
    return MemoryState()
