"""``semdns serve --workers N``: N gateway processes on one port, one scrape for all of them.

Why SO_REUSEPORT and our own small supervisor rather than uvicorn's ``workers``: each worker is a
whole ``semdns serve`` (zones, resolver, runtime, hot reload) that binds the port itself with
``SO_REUSEPORT``, so the kernel spreads *connections* evenly across the workers (no shared accept
queue where one busy process takes more than its share), and a worker restarts alone. The supervisor
owns the signals: ``SIGHUP`` is forwarded to every worker, each of which hot-reloads
(:mod:`.reload`), whereas uvicorn's supervisor would restart them all; ``SIGTERM``/``SIGINT`` stop
them gracefully. A worker that dies is restarted (at most :data:`MAX_RESTARTS` times); one that exits
with a configuration error (status 1 or 2) stops the whole group with that status.

What is shared: with ``--redis``, rate limits, quotas and the response cache live in Redis, so they
are the group's; without it each worker has its own (a limit is then per worker — a warning says so).
Each worker keeps its own resolver decision cache, its own circuit breakers and its own health
probes: each learns a replica's state from its own traffic and probes (a replica that fails is
opened by every worker within its breaker's thresholds; see docs/operations.md).

Metrics: each worker also listens on a private Unix socket in the group's directory; ``GET /metrics``
on the shared port is answered by one worker, which scrapes its siblings there (``?scope=local``) and
returns every worker's series with a ``worker`` label, plus ``semdns_workers_up``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from semdns.gateway.live import Live
from semdns.gateway.metrics import CONTENT_TYPE
from semdns.model_workers import ENCODER_THREADS_ENV, WORKERS_ENV, available_cores

log = logging.getLogger(__name__)

ENV_DIR = "SEMDNS_WORKER_DIR"
ENV_INDEX = "SEMDNS_WORKER_INDEX"
ENV_SUPERVISOR = "SEMDNS_WORKER_SUPERVISOR"
MAX_RESTARTS = 10
SCRAPE_TIMEOUT_S = 2.0
CONFIG_ERRORS = (1, 2)


def parse_workers(text: str) -> int:
    """``--workers``: a count from 1, or ``auto`` (the CPUs this process may run on)."""
    value = text.strip().lower()
    if value == "auto":
        return available_cores()
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"--workers {text!r}: give a number of processes (1 or more) or 'auto'") from None
    if count < 1:
        raise ValueError(f"--workers {text!r}: give a number of processes (1 or more) or 'auto'")
    return count


@dataclass(frozen=True)
class WorkerIdentity:
    """Who this process is in a group (from the supervisor's environment)."""

    index: int
    directory: Path
    supervisor: int

    @classmethod
    def from_env(cls) -> WorkerIdentity | None:
        directory = os.environ.get(ENV_DIR)
        if not directory:
            return None
        return cls(int(os.environ[ENV_INDEX]), Path(directory), int(os.environ[ENV_SUPERVISOR]))

    @property
    def socket_path(self) -> Path:
        return self.directory / f"worker-{self.index}.sock"

    def notify_siblings(self) -> None:
        """Ask the supervisor to reload every worker (after ``POST /admin/reload`` reached this one)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.supervisor, signal.SIGHUP)


# -- the supervisor ------------------------------------------------------------------------------------


def worker_argv(argv: Sequence[str]) -> list[str]:
    """The worker's command: ``semdns serve`` with the same options, less ``--workers``."""
    args = list(argv)
    start = args.index("serve") + 1 if "serve" in args else 0
    out: list[str] = []
    skip = False
    for arg in args[start:]:
        if skip:
            skip = False
            continue
        if arg == "--workers":
            skip = True
            continue
        if arg.startswith("--workers="):
            continue
        out.append(arg)
    return [sys.executable, "-m", "semdns.cli", "serve", *out]


def check_port(host: str, port: int) -> None:
    """Fail now, with a clear message, when the port is taken by a process not sharing it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def worker_environment(directory: Path, index: int, count: int) -> dict[str, str]:
    """Worker ``index``'s environment: who it is in the group, and its share of the cores for its
    resolver's model workers, one core and one intra-op thread each (unless the operator set
    :data:`WORKERS_ENV` or :data:`ENCODER_THREADS_ENV` for all of them)."""
    return {
        WORKERS_ENV: str(max(1, available_cores() // count)),
        ENCODER_THREADS_ENV: "1",
        **os.environ,
        ENV_DIR: str(directory),
        ENV_INDEX: str(index),
        ENV_SUPERVISOR: str(os.getpid()),
    }


def supervise(argv: Sequence[str], count: int, host: str, port: int) -> int:
    """Run ``count`` workers until SIGTERM/SIGINT; return the exit status for the CLI."""
    check_port(host, port)
    directory = Path(tempfile.mkdtemp(prefix="semdns-workers-"))
    command = worker_argv(argv)
    procs: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False
    restarts = 0

    def start(index: int) -> None:
        env = worker_environment(directory, index, count)
        with contextlib.suppress(FileNotFoundError):
            (directory / f"worker-{index}.sock").unlink()
        procs[index] = subprocess.Popen(command, env=env)

    def on_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def on_hup(signum: int, frame: FrameType | None) -> None:
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGHUP)

    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in ((signal.SIGTERM, on_stop), (signal.SIGINT, on_stop), (signal.SIGHUP, on_hup))
    }
    status = 0
    try:
        for index in range(count):
            start(index)
        print(
            f"semdns: {count} workers on http://{host}:{port} (supervisor pid {os.getpid()})", file=sys.stderr
        )
        while not stopping:
            time.sleep(0.2)
            for index, proc in list(procs.items()):
                code = proc.poll()
                if code is None or stopping:
                    continue
                if code in CONFIG_ERRORS:
                    print(f"semdns: worker {index} exited with status {code}; stopping", file=sys.stderr)
                    status = code
                    stopping = True
                    break
                if restarts >= MAX_RESTARTS:
                    print(
                        f"semdns: worker {index} died ({code}); {MAX_RESTARTS} restarts spent",
                        file=sys.stderr,
                    )
                    status = 1
                    stopping = True
                    break
                restarts += 1
                print(f"semdns: worker {index} died ({code}); restarting it", file=sys.stderr)
                start(index)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(directory, ignore_errors=True)
    return status


# -- a worker --------------------------------------------------------------------------------------


def listeners(identity: WorkerIdentity, host: str, port: int) -> list[socket.socket]:
    """The shared port (``SO_REUSEPORT``) and this worker's private Unix socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    shared = socket.socket(family, socket.SOCK_STREAM)
    shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    shared.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    shared.bind((host, port))
    private = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        identity.socket_path.unlink()
    private.bind(str(identity.socket_path))
    os.chmod(identity.socket_path, 0o600)
    for sock in (shared, private):
        sock.set_inheritable(True)
    return [shared, private]


def follow_supervisor(identity: WorkerIdentity, *, interval_s: float = 1.0) -> threading.Thread:
    """Stop this worker gracefully (SIGTERM to itself) if its supervisor disappears — killed with
    SIGKILL, say — so that no orphan keeps serving the port. A daemon thread: it needs no event loop."""

    def watch() -> None:
        while os.getppid() == identity.supervisor:
            time.sleep(interval_s)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="semdns-follow-supervisor", daemon=True)
    thread.start()
    return thread


class _Families(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


class GroupMetrics:
    """``GET /metrics`` of a worker: its own series and its siblings', each with a ``worker`` label."""

    def __init__(self, live: Live, identity: WorkerIdentity) -> None:
        self.live = live
        self.identity = identity

    def routes(self) -> list[Route]:
        return [Route("/metrics", self.metrics, methods=["GET"])]

    async def metrics(self, request: Request) -> Response:
        own = self.live.current.runtime.metrics.exposition()
        if request.query_params.get("scope") == "local":
            return Response(own, media_type=CONTENT_TYPE)
        texts: dict[str, bytes | None] = {str(self.identity.index): own}
        siblings = sorted(self.identity.directory.glob("worker-*.sock"))
        others = [p for p in siblings if p != self.identity.socket_path]
        results = await asyncio.gather(*(_scrape(p) for p in others))
        for path, text in zip(others, results, strict=True):
            texts[path.stem.removeprefix("worker-")] = text
        return Response(merge(texts), media_type=CONTENT_TYPE)


async def _scrape(path: Path) -> bytes | None:
    """A sibling's own metrics over its Unix socket (None when it does not answer in time)."""
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_S):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                writer.write(b"GET /metrics?scope=local HTTP/1.0\r\nhost: worker\r\n\r\n")
                raw = await reader.read()
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return None
    head, _, body = raw.partition(b"\r\n\r\n")
    return body if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200") else None


def merge(texts: dict[str, bytes | None]) -> bytes:
    """Workers' expositions as one, every sample labelled with its ``worker``."""
    families: dict[str, Metric] = {}
    up = Metric("semdns_workers_up", "1 for each worker that answered this scrape", "gauge")
    for worker, text in sorted(texts.items()):
        up.add_sample("semdns_workers_up", {"worker": worker}, 0.0 if text is None else 1.0)
        if text is None:
            continue
        for family in text_string_to_metric_families(text.decode("utf-8")):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(family.name, family.documentation, family.type)
            for sample in family.samples:
                labels: dict[str, Any] = {**sample.labels, "worker": worker}
                merged.add_sample(sample.name, labels, sample.value, sample.timestamp, sample.exemplar)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([up, *families.values()]))
    return generate_latest(registry)
