"""How many threads run the transformer (model workers, and each call's intra-op threads), and how
often the interpreter lock changes hands once they run: read from the environment, checked, with no
heavy imports.

It sits outside :mod:`semdns.resolve` because importing anything there loads the resolver (numpy,
scikit-learn, ONNX Runtime: half a second), and the command line validates this setting before it
loads anything."""

from __future__ import annotations

import os
import sys

__all__ = [
    "ENCODER_THREADS_ENV",
    "SWITCH_INTERVAL_ENV",
    "WORKERS_ENV",
    "apply_switch_interval",
    "available_cores",
    "default_workers",
    "encoder_threads",
    "switch_interval_s",
]

WORKERS_ENV = "SEMDNS_MODEL_WORKERS"
"""How many model workers a resolver's batcher runs (default: the cores). ``semdns serve --workers N``
gives each of its N processes its share of the cores, so that N processes do not start N x cores."""


ENCODER_THREADS_ENV = "SEMDNS_ENCODER_THREADS"
"""How many intra-op threads each transformer call uses (default: the cores each model worker has)."""


SWITCH_INTERVAL_ENV = "SEMDNS_SWITCH_INTERVAL_US"
"""How long (microseconds) a thread may keep the interpreter lock while another waits for it, once
model workers run (default :data:`DEFAULT_SWITCH_INTERVAL_US`; ``0`` leaves the interpreter's own)."""

DEFAULT_SWITCH_INTERVAL_US = 50
"""The interval model workers run under. CPython's 5 ms lets the event loop keep the lock while a worker
back from the transformer waits for it, its core idle. ``bench/resolve.py --throughput`` on 2 cores,
alternated with ``SEMDNS_SWITCH_INTERVAL_US=0``: 966, 1,017 and 1,042 decisions/s at c=32 against 894,
951 and 1,006, the machine idle 0.12-0.20 of a core against 0.17-0.24. 0.3 ms and 1 ms changed nothing
measurable; 20 us switched too often (docs/routing.md, "The in-process lead followed")."""

_INTERPRETER_DEFAULT_S = 0.005


def switch_interval_s() -> float | None:
    """The switch interval for a process with model workers, in seconds: :data:`SWITCH_INTERVAL_ENV`
    when set (None for ``0``: leave the interpreter's), else :data:`DEFAULT_SWITCH_INTERVAL_US`."""
    return _interval_s(_whole(SWITCH_INTERVAL_ENV, "microsecond", least=0))


def apply_switch_interval() -> None:
    """Set the interpreter's switch interval for model workers (:func:`switch_interval_s`), unless the
    program already chose one of its own (anything but CPython's 5 ms) and the environment does not
    ask for one: an application that tuned its interpreter keeps its choice."""
    asked = _whole(SWITCH_INTERVAL_ENV, "microsecond", least=0)  # None: the environment is silent
    wanted = _interval_s(asked)
    if wanted is not None and (asked is not None or sys.getswitchinterval() == _INTERPRETER_DEFAULT_S):
        sys.setswitchinterval(wanted)


def _interval_s(asked_us: int | None) -> float | None:
    """The interval for what :data:`SWITCH_INTERVAL_ENV` holds: the default when unset, None for 0."""
    if asked_us is None:
        return DEFAULT_SWITCH_INTERVAL_US / 1e6
    return asked_us / 1e6 if asked_us else None


def available_cores() -> int:
    """The CPUs this process may run on (its affinity on Linux, which a container or ``taskset`` may
    narrow; the machine's count elsewhere): what "one per core" and ``--workers auto`` count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """The model workers for this process: :data:`WORKERS_ENV` when set, else one per core."""
    return _positive(WORKERS_ENV, "model worker") or available_cores()


def encoder_threads() -> int:
    """Intra-op threads for one transformer call: :data:`ENCODER_THREADS_ENV` when set, else the
    cores each model worker has (``cores / workers``, at least one).

    Model workers already run calls side by side, one per core; a call that also spreads over two
    intra-op threads makes four threads contend for two cores, and ONNX Runtime's hand-offs between
    them cost CPU that a lone thread does not spend (a decision took 4.1-4.5 ms of CPU with one
    thread against 4.7-5.2 ms with two at c=32 on 2 cores, docs/routing.md). A lone request waits a
    little longer for its vector; saturated, the same cores make more decisions."""
    return _positive(ENCODER_THREADS_ENV, "encoder thread") or max(1, available_cores() // default_workers())


def _positive(variable: str, what: str) -> int | None:
    """The whole number of at least one in ``variable``, None when it is unset or blank."""
    return _whole(variable, what, least=1)


def _whole(variable: str, what: str, *, least: int) -> int | None:
    """The whole number of at least ``least`` in ``variable``, None when it is unset or blank."""
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{variable}={text!r}: expected a whole number of {what}s") from None
    if value < least:
        needed = f"at least one {what} is needed" if least == 1 else f"{least} {what}s or more"
        raise ValueError(f"{variable}={text!r}: {needed}")
    return value
