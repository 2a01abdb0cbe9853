"""Shared state behind one small interface: an in-process twin and a Redis implementation.

Everything several gateway processes must agree on (response-cache entries, rate-limit buckets, quota
counters, the stream of cache inserts and evictions) goes through :class:`State`. Without ``--redis``
the :class:`MemoryState` twin holds it in-process; with it, :class:`RedisState` keeps it in Redis and
falls back to its own in-process twin while Redis is unreachable.
"""

from semdns.state.base import BucketResult, QuotaResult, State, StateEvent
from semdns.state.memory import MemoryState
from semdns.state.redis_state import RedisState, open_state

__all__ = ["BucketResult", "MemoryState", "QuotaResult", "RedisState", "State", "StateEvent", "open_state"]
