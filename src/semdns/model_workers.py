"""How many threads run the transformer: read from the environment, checked, with no heavy imports.

It sits outside :mod:`semdns.resolve` because importing anything there loads the resolver (numpy,
scikit-learn, ONNX Runtime: half a second), and the command line validates this setting before it
loads anything."""

from __future__ import annotations

import os

__all__ = ["WORKERS_ENV", "available_cores", "default_workers"]

WORKERS_ENV = "SEMDNS_MODEL_WORKERS"
"""How many model workers a resolver's batcher runs (default: the cores). ``semdns serve --workers N``
gives each of its N processes its share of the cores, so that N processes do not start N x cores."""


def available_cores() -> int:
    """The CPUs this process may run on (its affinity on Linux, which a container or ``taskset`` may
    narrow; the machine's count elsewhere): what "one per core" and ``--workers auto`` count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """The model workers for this process: :data:`WORKERS_ENV` when set, else one per core."""
    text = os.environ.get(WORKERS_ENV)
    if text is None or not text.strip():
        return available_cores()
    try:
        workers = int(text)
    except ValueError:
        raise ValueError(f"{WORKERS_ENV}={text!r}: expected a whole number of model workers") from None
    if workers < 1:
        raise ValueError(f"{WORKERS_ENV}={text!r}: at least one model worker is needed")
    return workers
