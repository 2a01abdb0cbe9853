#!/usr/bin/env python3
"""Build corpora/routing/general/train.jsonl: general questions labelled root ``.``, for training.

The classifier's root ``.`` had few real questions about works, people, places and sport, and the
shallow pass sent such questions to specialist zones (docs/routing.md, "BoolQ"). NQ-open's and
TriviaQA's *training* splits are full of them, but their source labels put every question at the
root, a biology or law question included, and training on them wholesale taught the classifier to send
domain questions to the root (docs/routing.md). So the team read each of their 5,557 training questions
blind (the question and the names' descriptions only, no router output) and labelled it ``general``,
a specialist name, or ``unsure`` (``team_labels.jsonl``); the questions labelled ``general`` become this
corpus, at most 3,000 of them (the routing corpora's cap) in SHA-256 order of the normalised text. The
evaluation splits of NQ-open and TriviaQA are never read.

    python corpora/routing/general/build.py        # no dependency beyond Python
"""
from __future__ import annotations

import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTING = os.path.dirname(HERE)
sys.path.insert(0, ROUTING)

from build import norm_key, sha, team_labels, write_jsonl  # noqa: E402  (corpora/routing/build.py: the corpora's sampling order)
SOURCES = ("nq_open", "triviaqa")  # their train.jsonl, in this order, are what team_labels.jsonl reads
CAP = 1500  # as every routing corpus's training split (corpora/routing/build.py's TRAIN_CAP)


def main() -> None:
    questions = []
    for source in SOURCES:
        with open(os.path.join(ROUTING, source, "train.jsonl"), encoding="utf-8") as handle:
            questions += [(json.loads(line)["query"], source) for line in handle if line.strip()]
    labels = team_labels(os.path.join(HERE, "team_labels.jsonl"), [query for query, _ in questions])
    general = [(query, source) for (query, source), row in zip(questions, labels) if row["label"] == "general"]
    chosen = sorted(general, key=lambda pair: sha(norm_key(pair[0])))[:CAP]
    kept = [{"query": query, "expected": ".", "source_label": f"{source}:general"} for query, source in chosen]
    write_jsonl(os.path.join(HERE, "train.jsonl"), kept)
    counts = collections.Counter(row["label"] for row in labels)
    print(
        f"general: {len(general)} of {len(labels)} labelled general, {len(kept)} kept (cap {CAP}); "
        f"labels {dict(sorted(counts.items()))}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
