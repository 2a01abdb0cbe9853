"""The pause a full garbage collection costs a gateway, before and after its start-up heap is frozen
(semdns.gateway.heap): the shipped namespace's resolver and runtime built as ``semdns serve`` builds
them, 200 public prompts resolved (the word memo and caches warm), then ``gc.collect()`` timed three
times with everything tracked, and three times after :func:`semdns.gateway.heap.settle`.

    python bench/heap.py [--out results.json]
"""

from __future__ import annotations

import argparse
import gc
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import emit, public_prompts
from semdns.gateway import GatewaySettings, Runtime
from semdns.gateway.heap import settle
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import load_default_tree


def _collections_ms(times: int = 3) -> list[float]:
    out = []
    for _ in range(times):
        started = time.perf_counter()
        gc.collect()
        out.append(round((time.perf_counter() - started) * 1e3, 2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    tree = load_default_tree()
    resolver = Resolver(tree, MiniLMEncoder())
    for text in public_prompts(200):
        resolver.resolve(text)
    runtime = Runtime.build(tree, resolver, GatewaySettings(probes=False, warm_local=False))
    tracked = len(gc.get_objects())
    before = _collections_ms()
    settle()
    after = _collections_ms()
    emit(
        {
            "benchmark": "full garbage collection of the start-up heap",
            "command": "python bench/heap.py",
            "tracked_objects": tracked,
            "frozen_objects": gc.get_freeze_count(),
            "full_collection_ms_before_freeze": before,
            "full_collection_ms_after_freeze": after,
            "names": len(runtime.tree),
        },
        args.out,
    )
    resolver.close()


if __name__ == "__main__":
    main()
