"""Semantic-cache precision: false hits on near misses vs recall of paraphrases, per threshold.

On the labelled pairs in bench/data/cache_pairs.yaml (written for semdns: each anchor has paraphrases
that should be served its answer and near misses that must not — numbers, dates, units, negation,
swapped entities, opposite actions), for each similarity threshold:

* ``static``: one global threshold (what GPTCache, LiteLLM and vLLM Semantic Router do);
* ``static+verifier``: the threshold, then semdns's verifier;
* ``learned`` / ``learned+verifier``: semdns's per-entry threshold (vCache-style, ``error_bound``),
  learned online: the probes arrive as a stream (each seen ``--repeats`` times, shuffled, seeded);
  a candidate that is not served but lies within the explore band is labelled, as the gateway does
  when the engine answers.

False-hit rate = served near misses / near-miss lookups; recall = served paraphrases / paraphrase
lookups. Prints one JSON object (and writes it with ``--out``).

    .venv/bin/python bench/cache_precision.py [--repeats 3] [--error-bound 0.02] [--out cache_precision.json]
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import yaml

from _common import emit
from semdns.cache.response_cache import EXPLORE_BAND, EXPLORE_RATE
from semdns.cache.threshold import EntryThreshold
from semdns.cache.verifier import verify
from semdns.resolve.encoder import MiniLMEncoder

HERE = Path(__file__).parent
PAIRS = HERE / "data" / "cache_pairs.yaml"


def load_pairs(path: Path = PAIRS) -> list[tuple[int, str, str, bool]]:
    """(group, anchor, probe, should_hit) for every labelled pair."""
    groups = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for g, group in enumerate(groups):
        out += [(g, group["anchor"], p, True) for p in group["hit"]]
        out += [(g, group["anchor"], p, False) for p in group["miss"]]
    return out


def rates(decisions: list[tuple[bool, bool]]) -> dict[str, float]:
    """(served, should_hit) → false-hit rate and recall."""
    misses = [served for served, should in decisions if not should]
    hits = [served for served, should in decisions if should]
    return {
        "false_hit_rate": round(sum(misses) / max(1, len(misses)), 4),
        "recall": round(sum(hits) / max(1, len(hits)), 4),
    }


def run(repeats: int, error_bound: float, seed: int) -> dict[str, Any]:
    pairs = load_pairs()
    encoder = MiniLMEncoder()
    texts = sorted({t for _, a, p, _ in pairs for t in (a, p)})
    vectors = dict(zip(texts, encoder.encode(texts), strict=True))
    sims = [float(np.dot(vectors[a], vectors[p])) for _, a, p, _ in pairs]
    verdicts = [verify(a, p).ok for _, a, p, _ in pairs]
    thresholds = [round(t, 2) for t in np.arange(0.70, 0.99, 0.02)]
    table = []
    for t in thresholds:
        row: dict[str, Any] = {"threshold": t}
        row["static"] = rates([(s >= t, should) for s, (_, _, _, should) in zip(sims, pairs, strict=True)])
        row["static+verifier"] = rates(
            [(s >= t and ok, should) for s, ok, (_, _, _, should) in zip(sims, verdicts, pairs, strict=True)]
        )
        for name, use_verifier in (("learned", False), ("learned+verifier", True)):
            rng = random.Random(seed)
            stream = [i for i in range(len(pairs)) for _ in range(repeats)]
            rng.shuffle(stream)
            entries = {g: EntryThreshold() for g, _, _, _ in pairs}
            decisions = []
            for i in stream:
                g, _, _, should = pairs[i]
                s, ok = sims[i], verdicts[i] or not use_verifier
                if not ok:
                    decisions.append((False, should))
                    continue
                served = entries[g].allows(s, t, error_bound)
                if served and rng.random() < entries[g].explore_probability(s, error_bound, EXPLORE_RATE):
                    served = False  # explored: the engine answers, the comparison labels the entry
                decisions.append((served, should))
                if not served and s >= t - EXPLORE_BAND:
                    entries[g].observe(s, should)  # the engine answered: compare, label
            row[name] = rates(decisions)
        table.append(row)

    def best(mode: str) -> dict[str, Any] | None:
        ok = [r for r in table if r[mode]["false_hit_rate"] <= 0.01]
        return (
            max(ok, key=lambda r: r[mode]["recall"])
            and {
                "threshold": max(ok, key=lambda r: r[mode]["recall"])["threshold"],
                **max(ok, key=lambda r: r[mode]["recall"])[mode],
            }
            if ok
            else None
        )

    hit_sims = [s for s, (_, _, _, should) in zip(sims, pairs, strict=True) if should]
    miss_sims = [s for s, (_, _, _, should) in zip(sims, pairs, strict=True) if not should]
    return {
        "pairs": len(pairs),
        "paraphrases": len(hit_sims),
        "near_misses": len(miss_sims),
        "groups": len({g for g, _, _, _ in pairs}),
        "encoder": encoder.model_id,
        "similarity": {
            "paraphrase_mean": round(float(np.mean(hit_sims)), 4),
            "near_miss_mean": round(float(np.mean(miss_sims)), 4),
            "near_misses_above_0.9": sum(s >= 0.9 for s in miss_sims),
        },
        "verifier_alone": {
            "near_misses_rejected": sum(
                not ok for ok, (_, _, _, sh) in zip(verdicts, pairs, strict=True) if not sh
            ),
            "paraphrases_rejected": sum(
                not ok for ok, (_, _, _, sh) in zip(verdicts, pairs, strict=True) if sh
            ),
        },
        "error_bound": error_bound,
        "repeats": repeats,
        "best_at_1pct_false_hits": {
            m: best(m) for m in ("static", "static+verifier", "learned", "learned+verifier")
        },
        "table": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--error-bound", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run(args.repeats, args.error_bound, args.seed)
    emit(result, args.out)


if __name__ == "__main__":
    main()
