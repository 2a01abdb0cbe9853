"""Active health probes: a background task that asks every replica whether it is up.

Probes catch a dead replica before a user request does, and bring a recovered one back (a replica
marked down by probes receives no traffic, so passive detection alone could never see it recover).
Passive outlier detection is the circuit breaker's job (:mod:`.breaker`): it watches real traffic.
Each pool is probed at its node's ``gateway.probe_interval_s`` (0 turns probing off for that name).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from semdns.engines.pool import Pool, Replica

log = logging.getLogger(__name__)


class HealthProber:
    """Probes every replica of every pool, each pool at its own interval, concurrently."""

    def __init__(
        self, pools: Iterable[Pool], *, on_change: Callable[[Replica, bool], None] | None = None
    ) -> None:
        self._pools = [p for p in pools if p.policy.probe_interval_s > 0]
        self._on_change = on_change
        self._tasks: list[asyncio.Task[None]] = []

    async def probe_once(self) -> None:
        """Probe every replica once (also what tests call instead of waiting for the interval)."""
        await asyncio.gather(*(self._probe(r) for p in self._pools for r in p.replicas))

    async def _probe(self, replica: Replica) -> None:
        try:
            healthy = await replica.engine.probe()
        except Exception:  # a probe that crashes says the replica is not healthy, nothing more
            log.exception("health probe of %s crashed", replica.label)
            healthy = False
        if healthy != replica.healthy:
            log.warning(
                "replica %s of %s is now %s", replica.label, replica.name, "up" if healthy else "DOWN"
            )
            replica.healthy = healthy
            if self._on_change is not None:
                self._on_change(replica, healthy)

    async def _loop(self, pool: Pool) -> None:
        interval = pool.policy.probe_interval_s
        while True:
            await asyncio.sleep(interval)
            await asyncio.gather(*(self._probe(r) for r in pool.replicas))

    def start(self) -> None:
        # Replicas that share an engine (the local host) are still probed per name: probes are cheap.
        self._tasks = [asyncio.create_task(self._loop(p), name=f"probe {p.name}") for p in self._pools]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
