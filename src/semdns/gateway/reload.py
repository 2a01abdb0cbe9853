"""Hot reload: zone files and the tenants file, re-read without dropping a request.

Triggers: ``SIGHUP`` (``kill -HUP``, like ``rndc reload``), ``POST /admin/reload`` and, opt-in, a
debounced watch of the files (:mod:`semdns.gateway.watch`). A reload

1. re-reads every zone file and the tenants file (off the event loop), collecting *every* problem as
   ``file:line: path: what to change``;
2. builds the new tree's resolver (off the loop: embeddings, classifier) and runtime aside, sharing
   the running one's metrics, HTTP client, local models, shared state and response cache, and keeping
   each replica whose engine record and breaker settings did not change (its health, breaker state
   and requests in flight carry over);
3. swaps the generation in service in one assignment (:class:`~semdns.gateway.live.Live`): new requests
   take the new tree, requests in flight finish on the old one, whose probes stop at once and whose
   resolver is closed once it has drained.

A broken edit changes nothing but the report: the old generation keeps serving, each error is logged,
``semdns_reload_errors`` counts them, and ``GET /admin/reload`` lists them. Reloads run one at a time;
files whose bytes did not change are not rebuilt (``POST /admin/reload?force=1`` rebuilds anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import Counter, Gauge
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from semdns.errors import InvalidRequest, SemdnsError, TenantsFileError, ZoneError
from semdns.gateway import heap
from semdns.gateway.live import Generation, Live
from semdns.gateway.runtime import ResolverLike, Runtime
from semdns.gateway.wire import JSON, error_body, error_response
from semdns.zone import load_zone_files
from semdns.zone.loader import default_zone_paths
from semdns.zone.tree import ZoneTree

log = logging.getLogger(__name__)

ResolverFactory = Callable[[ZoneTree], ResolverLike]
"""Builds the resolver of a new tree (called in a worker thread: it may take seconds)."""

DRAIN_S = 60.0
"""How long a replaced generation's requests may run before its resolver is closed anyway."""


@dataclass(frozen=True)
class ReloadOutcome:
    """What one reload attempt did."""

    trigger: str
    ok: bool
    changed: bool
    generation: int
    serials: dict[str, int]
    errors: tuple[str, ...] = ()
    seconds: float = 0.0
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "ok": self.ok,
            "changed": self.changed,
            "generation": self.generation,
            "serials": self.serials,
            "errors": list(self.errors),
            "seconds": round(self.seconds, 3),
            "at": self.at,
        }


class _ReloadMetrics:
    """``semdns_reload_total{trigger,outcome}``, ``semdns_reload_errors`` (problems in the last
    attempt; 0 after a success), ``semdns_reload_generation`` and the last success's time."""

    def __init__(self, runtime: Runtime) -> None:
        r = runtime.metrics.registry
        self.attempts = Counter(
            "semdns_reload", "Reload attempts by trigger and outcome (ok, unchanged, failed)",
            ["trigger", "outcome"], registry=r,
        )  # fmt: skip
        self.errors = Gauge("semdns_reload_errors", "Problems found by the last reload attempt", registry=r)
        self.generation = Gauge(
            "semdns_reload_generation", "Generation of the configuration in service (1 at start)", registry=r
        )
        self.last_success = Gauge(
            "semdns_reload_last_success_timestamp_seconds", "When the configuration in service was loaded",
            registry=r,
        )  # fmt: skip
        self.generation.set(1)
        self.last_success.set(time.time())


class Reloader:
    """Rebuilds and swaps the generation in service of one gateway process."""

    def __init__(
        self,
        live: Live,
        build_resolver: ResolverFactory,
        *,
        zone_paths: Sequence[str | Path] | None = None,
        watch: bool = False,
        watch_interval_s: float = 1.0,
        drain_s: float = DRAIN_S,
    ) -> None:
        self.live = live
        self.build_resolver = build_resolver
        self.zone_paths = [Path(p) for p in zone_paths] if zone_paths else default_zone_paths()
        self.watch = watch
        self.watch_interval_s = watch_interval_s
        self.drain_s = drain_s
        self.last: ReloadOutcome | None = None
        self.metrics = _ReloadMetrics(live.current.runtime)
        self._digest = self._fingerprint()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._built: list[ResolverLike] = []
        self._signal = False
        self.after_admin: Callable[[], None] | None = None
        """Called after ``POST /admin/reload`` swapped a generation (``--workers``: reload the others)."""
        self.settle_heap = False
        """``semdns serve``: thaw, collect and freeze the heap once a replaced generation has retired
        (:mod:`semdns.gateway.heap`)."""

    @property
    def runtime(self) -> Runtime:
        return self.live.current.runtime

    def paths(self) -> list[Path]:
        """Every file a reload reads: the zone files, then the tenants file (when there is one)."""
        tenants = self.runtime.settings.tenants_file
        return [*self.zone_paths, *([Path(tenants)] if tenants else [])]

    # -- triggers ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen for SIGHUP (main thread only) and start the file watch when asked; on the loop."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, self.trigger, "sighup")
            self._signal = True
        if self.watch:
            from semdns.gateway.watch import watch_files

            self._spawn(watch_files(self.paths, self.trigger, interval_s=self.watch_interval_s))

    def trigger(self, trigger: str) -> None:
        """Start a reload in the background (signal handlers and the watch cannot await)."""
        self._spawn(self.reload(trigger))

    async def aclose(self) -> None:
        if self._signal:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._signal = False
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for resolver in self._built:
            _close(resolver)
        self._built = []

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the reload --------------------------------------------------------------------------------

    async def reload(self, trigger: str = "admin", *, force: bool = False) -> ReloadOutcome:
        """Re-read the files and swap in the new generation; on any problem keep the old one."""
        async with self._lock:
            started = time.perf_counter()
            digest = await asyncio.to_thread(self._fingerprint)
            if digest == self._digest and not force:
                outcome = self._outcome(trigger, ok=True, changed=False, started=started)
                self.metrics.attempts.labels(trigger, "unchanged").inc()
                log.info("reload (%s): no file changed, generation %d stays", trigger, outcome.generation)
                return outcome
            errors: list[str] = []
            resolver: ResolverLike | None = None
            generation: Generation | None = None
            try:
                tree = await asyncio.to_thread(self._read, errors)
                if tree is not None and not errors:
                    resolver = await asyncio.to_thread(self.build_resolver, tree)
                    runtime = Runtime.build(tree, resolver, self.runtime.settings, previous=self.runtime)
                    generation = self.live.prepare(runtime)
            except ZoneError as exc:
                errors.extend(str(issue) for issue in exc.issues)
            except (TenantsFileError, SemdnsError, ValueError) as exc:
                errors.extend(str(exc).splitlines())
            except Exception as exc:  # a resolver that cannot be built: report, keep serving
                log.exception("reload (%s): building the new configuration failed", trigger)
                errors.append(f"building the new configuration failed: {type(exc).__name__}: {exc}")
            if errors or generation is None:
                if resolver is not None:
                    _close(resolver)
                return self._failed(trigger, errors or ["nothing to load"], started)
            assert resolver is not None
            await generation.runtime.start_after()
            old = self.live.swap(generation)
            generation.runtime.expose()
            gone = old.runtime.replica_records.keys() - generation.runtime.replica_records.keys()
            for name, label in gone:
                generation.runtime.metrics.forget_replica(name, label)
            self._built.append(resolver)
            self._digest = digest
            self._spawn(self._retire(old))
            outcome = self._outcome(trigger, ok=True, changed=True, started=started)
            self.metrics.attempts.labels(trigger, "ok").inc()
            self.metrics.errors.set(0)
            self.metrics.generation.set(generation.number)
            self.metrics.last_success.set(outcome.at)
            log.info(
                "reload (%s): generation %d in service, %d names, serials %s (%.2f s)",
                trigger, generation.number, len(generation.runtime.tree), outcome.serials, outcome.seconds,
            )  # fmt: skip
            return outcome

    def _read(self, errors: list[str]) -> ZoneTree | None:
        """The new tree, with the tenants file checked too, so one report lists the problems of both."""
        tree: ZoneTree | None = None
        try:
            tree = load_zone_files(self.zone_paths)
        except ZoneError as exc:
            errors.extend(str(issue) for issue in exc.issues)
        tenants = self.runtime.settings.tenants_file
        if tenants:
            from semdns.tenancy import load_tenants

            try:
                load_tenants(tenants)
            except TenantsFileError as exc:
                errors.extend(str(exc).splitlines())
        return tree

    async def _retire(self, old: Generation) -> None:
        """Stop the old generation's probes now; close its resolver once its requests have finished."""
        await old.runtime.retire()
        deadline = time.monotonic() + self.drain_s
        while old.inflight > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        resolver = _unwrapped(old.runtime.resolver)
        if resolver is not _unwrapped(self.runtime.resolver) and resolver in self._built:
            self._built.remove(resolver)
            _close(resolver)
        if self.settle_heap:
            del old, resolver
            heap.resettle()  # the retired generation's cycles were frozen with the rest

    def _failed(self, trigger: str, errors: list[str], started: float) -> ReloadOutcome:
        for error in errors:
            log.error("reload (%s) refused, the configuration in service is unchanged: %s", trigger, error)
        self.metrics.attempts.labels(trigger, "failed").inc()
        self.metrics.errors.set(len(errors))
        return self._outcome(trigger, ok=False, changed=False, started=started, errors=errors)

    def _outcome(
        self, trigger: str, *, ok: bool, changed: bool, started: float, errors: Sequence[str] = ()
    ) -> ReloadOutcome:
        current = self.live.current
        outcome = ReloadOutcome(
            trigger=trigger,
            ok=ok,
            changed=changed,
            generation=current.number,
            serials=serials(current.runtime.tree),
            errors=tuple(errors),
            seconds=time.perf_counter() - started,
        )
        self.last = outcome
        return outcome

    def _fingerprint(self) -> str:
        """A digest of the bytes of every file a reload reads (an unreadable file digests as such)."""
        digest = hashlib.sha256()
        for path in self.paths():
            digest.update(str(path).encode())
            try:
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            except OSError as exc:
                digest.update(f"unreadable: {exc}".encode())
        return digest.hexdigest()

    # -- the admin route ---------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [
            Route("/admin/reload", self.status_route, methods=["GET"]),
            Route("/admin/reload", self.reload_route, methods=["POST"]),
        ]

    def status(self) -> dict[str, Any]:
        current = self.live.current
        return {
            "generation": current.number,
            "serials": serials(current.runtime.tree),
            "files": [str(p) for p in self.paths()],
            "watch": self.watch,
            "last": self.last.to_json() if self.last is not None else None,
        }

    async def status_route(self, request: Request) -> Response:
        """``GET /admin/reload``: the generation in service and the last attempt, errors included."""
        try:
            self._authorize(request)
        except SemdnsError as exc:
            return error_response(exc)
        return Response(orjson.dumps(self.status()), media_type=JSON)

    async def reload_route(self, request: Request) -> Response:
        """``POST /admin/reload``: reload now; 200 with the outcome, 422 with every problem found."""
        try:
            self._authorize(request)
            force = request.query_params.get("force", "0")
            if force not in ("0", "1", "true", "false"):
                raise InvalidRequest("force must be 0 or 1", param="force")
        except SemdnsError as exc:
            return error_response(exc)
        outcome = await self.reload("admin", force=force in ("1", "true"))
        if outcome.changed and self.after_admin is not None:
            self.after_admin()
        if outcome.ok:
            return Response(orjson.dumps(outcome.to_json()), media_type=JSON)
        message = "reload refused, the configuration in service is unchanged:\n" + "\n".join(outcome.errors)
        body = {**error_body(422, message, "reload_failed"), "reload": outcome.to_json()}
        return Response(orjson.dumps(body), 422, media_type=JSON)

    def _authorize(self, request: Request) -> None:
        """The same rule as the cache admin routes: with a tenants file, an admin tenant's key."""
        self.live.current.admin._admin_only(request)


def serials(tree: ZoneTree) -> dict[str, int]:
    """Zone origin → serial in service, as text keys (for JSON)."""
    return {str(origin): serial for origin, serial in sorted(tree.serials.items())}


def _unwrapped(resolver: ResolverLike) -> ResolverLike:
    """The resolver itself, when tracing wraps it."""
    inner: ResolverLike = getattr(resolver, "inner", resolver)
    return inner


def _close(resolver: ResolverLike) -> None:
    close = getattr(resolver, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            log.exception("closing a replaced resolver failed")
