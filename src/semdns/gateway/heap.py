"""Garbage collection for a long-running gateway process.

What a gateway builds at start (the zone tree, the resolver's vocabulary, classifier and word memo,
the engines' pools: about 170,000 tracked objects) lives as long as the process, yet every full
collection of Python's cyclic collector traverses all of it: 43-51 ms idle (``bench/heap.py``), about
90 ms a collection on this 2-core machine under streamed load, three in 12,800 streams, a pause that
every request then in flight waits out (a one-off count with ``gc.callbacks`` in ``semdns serve``).
:func:`settle` moves everything alive after start out of the collector's sight (``gc.freeze``), so
collections scan only what requests allocate.

A frozen object that later becomes cyclic garbage is never collected (reference counting still frees
the rest). A hot reload leaves the old generation behind, so once it has retired :func:`resettle`
thaws, collects and freezes again: one full collection a reload.
"""

from __future__ import annotations

import gc

__all__ = ["resettle", "settle"]


def settle() -> None:
    """Collect once, then freeze what is left: the objects the process was started with."""
    gc.collect()
    gc.freeze()


def resettle() -> None:
    """Thaw, collect (what a retired configuration left as cycles) and freeze again."""
    gc.unfreeze()
    settle()
