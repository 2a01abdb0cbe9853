"""How many threads run the transformer (model workers, and each call's intra-op threads): read from
the environment, checked, with no heavy imports.

It sits outside :mod:`semdns.resolve` because importing anything there loads the resolver (numpy,
scikit-learn, ONNX Runtime: half a second), and the command line validates this setting before it
loads anything."""

from __future__ import annotations

import os

__all__ = ["ENCODER_THREADS_ENV", "WORKERS_ENV", "available_cores", "default_workers", "encoder_threads"]

WORKERS_ENV = "SEMDNS_MODEL_WORKERS"
"""How many model workers a resolver's batcher runs (default: the cores). ``semdns serve --workers N``
gives each of its N processes its share of the cores, so that N processes do not start N x cores."""


ENCODER_THREADS_ENV = "SEMDNS_ENCODER_THREADS"
"""How many intra-op threads each transformer call uses (default: the cores each model worker has)."""


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
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{variable}={text!r}: expected a whole number of {what}s") from None
    if value < 1:
        raise ValueError(f"{variable}={text!r}: at least one {what} is needed")
    return value
