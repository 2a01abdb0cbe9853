"""Where an uncached routing decision's CPU goes: the inline stages and the transformer, by deciding
stage and by prompt length.

The line-rate benchmarks (``bench/resolve.py --throughput``, ``bench/gateway.py --auto-unique``) time
rates on a shared two-core machine, where the same code ran a fifth faster or slower minutes apart. This
script measures instead what each decision costs in CPU, one at a time on one thread, with the
transformer on one intra-op thread as the model workers run it (ONNX Runtime then computes on the
calling thread, so the thread's CPU time holds the model's work). That figure drifts far less, and it
says where a change to the passes would save time before any timed run.

For each of the line-rate benchmarks' unique prompts (``bench/_common.public_prompts``), decision cache
off, the fastest of ``--rounds`` rounds of:

- the whole decision (``Resolver.resolve``);
- the same decision with its vectors handed in (``embedding=``, ``shallow_embedding=``): the inline part
  (keywords, tokens, TF-IDF, structure, the static vector, the classifier's products, the descent);
- the transformer's part is the difference.

Grouped by the deciding stage (the costliest one a decision ran) and by token count (up to 32, 33-64,
65-128, and over 128: the prompts read as two windows). ``decisions_per_s_at_cores`` divides the cores
by the mean CPU of a decision: what the CPU allows when the cores do nothing else (the in-process c=32
runs keep about 1.8 of 2 cores busy). ``--zones DIR`` measures the namespace of a folder of zone files
instead (its policies, the shipped classifier); ``--corpus FILE`` times the prompts of one JSON-lines
corpus instead of the mix (ShareGPT's real prompts cost twice the mix's: docs/routing.md).

    .venv/bin/python bench/decision_cost.py [--prompts 1500] [--rounds 2] [--zones DIR] [--corpus FILE]
        [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from functools import partial
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _common import emit, machine_speed, traffic, zone_folder
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import ZoneTree, load_default_tree

LENGTHS = ((32, "up to 32 tokens"), (64, "33-64 tokens"), (128, "65-128 tokens"))
LONG = "over 128 tokens (two windows)"


def length_group(tokens: int) -> str:
    """The token-count group of a prompt ([CLS] and [SEP] included, as the encoder counts them)."""
    for bound, label in LENGTHS:
        if tokens <= bound:
            return label
    return LONG


def cpu_ms(call: Any) -> tuple[float, Any]:
    """This thread's CPU time of ``call()`` in milliseconds, and what it returned."""
    started = time.thread_time()
    result = call()
    return (time.thread_time() - started) * 1e3, result


def measure(resolver: Resolver, prompts: list[str], rounds: int) -> list[dict[str, Any]]:
    """Per prompt: the deciding stage, the token count, and the fastest round's whole and inline CPU."""
    encoder = resolver.encoder
    assert isinstance(encoder, MiniLMEncoder)
    rows: list[dict[str, Any]] = []
    for text in prompts:
        whole, inline = float("inf"), float("inf")
        stage = ""
        for _ in range(rounds):
            spent, decision = cpu_ms(partial(resolver.resolve, text, use_cache=False))
            whole, stage = min(whole, spent), decision.stage
            vectors = {"embedding": decision.embedding, "shallow_embedding": decision.shallow_embedding}
            spent, again = cpu_ms(partial(resolver.resolve, text, use_cache=False, **vectors))
            inline = min(inline, spent)
            assert again.names == decision.names, f"the vectors handed in changed the decision: {text!r}"
        rows.append(
            {"stage": stage, "tokens": len(encoder.token_ids(text)), "whole_ms": whole, "inline_ms": inline}
        )
    return rows


def summarise(rows: list[dict[str, Any]], cores: float) -> dict[str, Any]:
    """Means per decision, the transformer's CPU by stage and length, and the rate the CPU allows."""
    model_total = sum(max(0.0, r["whole_ms"] - r["inline_ms"]) for r in rows) or 1e-9
    count = len(rows)

    def group(key: str) -> dict[str, Any]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault(row[key] if key == "stage" else length_group(row["tokens"]), []).append(row)
        out = {}
        for name, members in sorted(groups.items()):
            model = [max(0.0, r["whole_ms"] - r["inline_ms"]) for r in members]
            out[name] = {
                "share_of_prompts": round(len(members) / count, 4),
                "model_ms_mean": round(statistics.fmean(model), 3),
                "share_of_model_cpu": round(sum(model) / model_total, 4),
            }
        return out

    whole = statistics.fmean(r["whole_ms"] for r in rows)
    inline = statistics.fmean(r["inline_ms"] for r in rows)
    return {
        "decisions": count,
        "cpu_ms_per_decision": round(whole, 3),
        "inline_ms_per_decision": round(inline, 3),
        "model_ms_per_decision": round(whole - inline, 3),
        "decisions_per_s_at_cores": {str(cores): round(cores * 1e3 / whole, 1)},
        "by_stage": group("stage"),
        "by_length": group("tokens"),
    }


def tree_for(zones: Path | None) -> ZoneTree:
    """The shipped namespace, or the one a folder of zone files declares."""
    tree: ZoneTree = load_default_tree() if zones is None else zone_folder(zones)
    return tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=1500, help="unique public prompts to resolve")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per prompt (the fastest counts)")
    parser.add_argument("--zones", type=Path, default=None, help="a folder of zone files (default: shipped)")
    parser.add_argument(
        "--corpus", type=Path, default=None, help="JSON-lines prompts ('query') instead of the evaluation mix"
    )
    parser.add_argument("--cores", type=float, default=2.0, help="cores for decisions_per_s_at_cores")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.prompts < 1 or args.rounds < 1 or args.cores <= 0:
        parser.error("--prompts and --rounds must be at least 1, --cores above 0")
    speed_before = machine_speed()
    # One intra-op thread, as each model worker runs (semdns.model_workers.encoder_threads on 2 cores).
    resolver = Resolver(tree_for(args.zones), MiniLMEncoder(threads=1), cache_size=0)
    prompts = traffic(args.prompts, args.corpus)
    measure(resolver, prompts[:50], 1)  # first-call costs (memos, allocations) out of the figures
    rows = measure(resolver, prompts, args.rounds)
    resolver.close()
    emit(
        {
            "benchmark": "decision_cost",
            "command": f"python bench/decision_cost.py --prompts {args.prompts} --rounds {args.rounds}"
            + (f" --zones {args.zones}" if args.zones else "")
            + (f" --corpus {args.corpus}" if args.corpus else ""),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "machine_speed_s": {"before": speed_before, "after": machine_speed()},
            **summarise(rows, args.cores),
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
