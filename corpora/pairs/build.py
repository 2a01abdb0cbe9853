"""Regenerate corpora/pairs/* (deterministically) from the BIG-bench sdist on PyPI.

    python3 -m venv /tmp/pairvenv                                  # any Python 3.11, stdlib only here
    /tmp/pairvenv/bin/python corpora/pairs/fetch_sdist.py bigbench 1.0.0 /tmp/pairdl/bigbench-1.0.0.tar.gz
    /tmp/pairvenv/bin/python corpora/pairs/build.py /tmp/pairdl/bigbench-1.0.0.tar.gz

(``pip download --no-deps bigbench==1.0.0`` fetches the same file but deletes it again: see
fetch_sdist.py.) Reads the task JSON files straight from the tarball; writes, per source,
``train.jsonl`` / ``eval.jsonl`` with lines ``{"a", "b", "same", "kind", "source"}``.

Sources (all inside the bigbench 1.0.0 sdist, bigbench/benchmark_tasks/…):

* ``winogrande-twins``: Winogrande twin sentences, from the Natural Instructions v1 subtasks 029, 030,
  034, 035: two sentences that differ in one or two "trigger" words (usually an antonym) or in who
  does what, so the blank's answer flips. Near misses (``same: false``).
* ``vitaminc-contrast``: VitaminC contrastive pairs: two claims judged True and False against the
  same Wikipedia evidence (``claim-flip``), and two revisions of one evidence sentence of which one
  supports and one refutes the same claim (``fact-revision``). Kept only when the two texts are a
  near edit of each other (word-level SequenceMatcher ratio ≥ 0.6). Near misses.
* ``qasc-paraphrase``: Natural Instructions subtask 045 (QASC facts and crowd-written paraphrases
  that still support the question) and the BIG-bench ``rephrase`` task. Paraphrases (``same: true``).
* ``derived``: made here from the *same split's* sentences of the sources above, so no text crosses
  splits: ``order-swap`` near misses (two words that follow a determiner swap places: same bag of
  words, roles reversed, as in PAWS) and ``surface`` paraphrases (case, final punctuation, one
  transposed-letter typo in a long word).

Splits: none of these tasks ships a train/dev split in BIG-bench, so each pair goes to eval when the
SHA-256 of its group key (the Wikipedia page for VitaminC, the sentence pair's first 60 characters
for Winogrande, the QASC fact for paraphrases) falls in the lowest 15 %. Caps: 20,000 train and
3,000 eval pairs per source (a seeded sample when there are more).
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import random
import re
import sys
import tarfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent
ROOT = "bigbench-1.0.0/bigbench/benchmark_tasks/"
TASKS = {
    "wg029": "natural_instructions/subtask029_winogrande_full_object/task.json",
    "wg030": "natural_instructions/subtask030_winogrande_full_person/task.json",
    "wg034": "natural_instructions/subtask034_winogrande_question_modification_object/task.json",
    "wg035": "natural_instructions/subtask035_winogrande_question_modification_person/task.json",
    "qasc045": "natural_instructions/subtask045_miscellaneous_sentence_paraphrasing/task.json",
    "rephrase": "rephrase/task.json",
    "vitaminc": "vitaminc_fact_verification/task.json",
}
CAP_TRAIN, CAP_EVAL, EVAL_FRACTION = 20_000, 3_000, 0.15
WORD = re.compile(r"\S+")


def clean(text: str) -> str:
    text = text.replace("\ufffd", " ").replace("\u00a0", " ")
    text = re.sub(r"\s+([,.;:?!'])", r"\1", text)  # "people ." -> "people."
    text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))
    return re.sub(r"\s+", " ", text).strip()


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, norm(a).split(), norm(b).split(), autojunk=False).ratio()


def is_eval(group: str) -> bool:
    h = int(hashlib.sha256(group.encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < EVAL_FRACTION


def load(tar_path: str) -> dict[str, list[dict]]:
    wanted = {ROOT + p: k for k, p in TASKS.items()}
    out: dict[str, list[dict]] = {}
    with tarfile.open(tar_path) as tar:
        for member in tar:
            if member.name in wanted:
                out[wanted[member.name]] = json.load(tar.extractfile(member))["examples"]
    missing = set(TASKS) - set(out)
    if missing:
        sys.exit(f"missing tasks in tarball: {missing}")
    return out


def pair(a: str, b: str, same: bool, kind: str, source: str) -> dict:
    return {"a": a, "b": b, "same": same, "kind": kind, "source": source}


def winogrande(tasks: dict[str, list[dict]]) -> list[tuple[str, dict]]:
    twins: list[tuple[str, str]] = []
    for key in ("wg029", "wg030"):
        for ex in tasks[key]:
            for target in ex["target"]:
                m = re.search(r"Sentence 1:\s*(.*?)\s*(?:Answer1:.*?)?Sentence 2:\s*(.*?)\s*(?:Answer2:.*)?$", target, re.S)
                if m:
                    twins.append((m.group(1), m.group(2)))
    for key in ("wg034", "wg035"):
        for ex in tasks[key]:
            m = re.search(r"Question:\s*(.*?)\s*\nAnswer:", ex["input"], re.S)
            if m:
                twins += [(m.group(1), t) for t in ex["target"]]
    out, seen = [], set()
    for a, b in twins:
        a, b = clean(a), clean(b)
        key = tuple(sorted((norm(a), norm(b))))
        if key[0] == key[1] or key in seen or not (4 <= len(a.split()) <= 60):
            continue
        seen.add(key)
        out.append((key[0][:60], pair(a, b, False, "antonym-trigger", "winogrande-twins")))
    return out


def vitaminc(tasks: dict[str, list[dict]]) -> list[tuple[str, dict]]:
    by_evidence: dict[str, list[tuple[str, str]]] = defaultdict(list)
    by_claim: dict[str, list[tuple[str, str]]] = defaultdict(list)
    page: dict[str, str] = {}
    for ex in tasks["vitaminc"]:
        m = re.match(r"(.*?)\nClaim: (.*)$", ex["input"], re.S)
        if not m:
            continue
        label = max(ex["target_scores"], key=ex["target_scores"].get)
        evidence, claim = m.group(1), clean(m.group(2))
        title, _, sentence = evidence.partition(": ")
        sentence = clean(sentence or title)
        by_evidence[sentence].append((claim, label))
        by_claim[claim].append((sentence, label))
        page[sentence] = page[claim] = title.strip()
    out, seen = [], set()

    def add(a: str, b: str, kind: str) -> None:
        key = tuple(sorted((norm(a), norm(b))))
        if key[0] == key[1] or key in seen or len(a.split()) > 50 or len(b.split()) > 50:
            return
        if ratio(a, b) < 0.6:
            return
        seen.add(key)
        out.append((page.get(a, a[:40]), pair(a, b, False, kind, "vitaminc-contrast")))

    for groups, kind in ((by_evidence, "claim-flip"), (by_claim, "fact-revision")):
        for items in groups.values():
            true = sorted({t for t, lab in items if lab == "True"})
            false = sorted({t for t, lab in items if lab == "False"})
            for a, b in itertools.product(true, false):
                add(a, b, kind)
    return out


def paraphrases(tasks: dict[str, list[dict]]) -> list[tuple[str, dict]]:
    out, seen = [], set()
    rng = random.Random(45)

    def add(group: str, a: str, b: str) -> None:
        a, b = clean(a), clean(b)
        key = tuple(sorted((norm(a), norm(b))))
        if key[0] == key[1] or key in seen or len(a.split()) < 3 or len(b.split()) < 3:
            return
        seen.add(key)
        out.append((group, pair(a, b, True, "paraphrase", "qasc-paraphrase")))

    for ex in tasks["qasc045"]:
        m = re.search(r"Sentence:\s*(.*)$", ex["input"], re.S)
        if not m:
            continue
        fact, targets = m.group(1), sorted(set(ex["target"]))
        for t in targets:
            add(fact, fact, t)
        # paraphrase-to-paraphrase pairs: up to 10 per fact
        combos = list(itertools.combinations(targets, 2))
        rng.shuffle(combos)
        for a, b in combos[:10]:
            add(fact, a, b)
    for ex in tasks["rephrase"]:
        sentence = ex["input"].split("\nKeyword:")[0]
        targets = ex["target"] if isinstance(ex["target"], list) else [ex["target"]]
        for t in targets:
            add(sentence, sentence, t)
    return out


_DETERMINERS = {"the", "a", "an", "his", "her", "their", "my", "your", "its", "our", "this", "that"}


def order_swap(text: str, rng: random.Random) -> str | None:
    """Swap two different words that each follow a determiner ("the cat chased the dog" → "the dog
    chased the cat"): same words, different roles."""
    words = text.split()
    slots = [i + 1 for i, w in enumerate(words[:-1]) if w.lower() in _DETERMINERS and re.fullmatch(r"[A-Za-z-]{3,}[,.;:?!]?", words[i + 1])]
    options = [(i, j) for i, j in itertools.combinations(slots, 2) if words[i].strip(",.;:?!").lower() != words[j].strip(",.;:?!").lower()]
    if not options:
        return None
    i, j = rng.choice(options)
    wi, wj = words[i], words[j]
    pi = wi[len(wi.rstrip(",.;:?!")):]
    pj = wj[len(wj.rstrip(",.;:?!")):]
    words[i], words[j] = wj.rstrip(",.;:?!") + pi, wi.rstrip(",.;:?!") + pj
    return " ".join(words)


def surface(text: str, rng: random.Random) -> str:
    """Meaning-preserving surface noise: lower case, drop final punctuation, one transposition typo."""
    words = text.split()
    long_words = [i for i, w in enumerate(words) if len(w) >= 7 and w.isalpha()]
    choice = rng.randrange(3)
    if choice == 0 or not long_words:
        out = text.lower()
    elif choice == 1:
        out = text.rstrip(".?!")
        out = out if out != text else text + "."
    else:
        i = rng.choice(long_words)
        w = words[i]
        k = rng.randrange(1, len(w) - 2)
        words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2:]
        out = " ".join(words)
    return out


def derived(split_sentences: dict[str, list[str]]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for split, sentences in split_sentences.items():
        rng = random.Random(f"derived-{split}")
        pairs, seen = [], set()
        for s in sorted(set(sentences)):
            swapped = order_swap(s, rng)
            if swapped and norm(swapped) != norm(s) and ("swap", s) not in seen:
                seen.add(("swap", s))
                pairs.append(pair(s, swapped, False, "order-swap", "derived"))
            noisy = surface(s, rng)
            if noisy != s:
                pairs.append(pair(s, noisy, True, "surface", "derived"))
        out[split] = pairs
    return out


def split(items: list[tuple[str, dict]]) -> dict[str, list[dict]]:
    parts: dict[str, list[dict]] = {"train": [], "eval": []}
    for group, p in items:
        parts["eval" if is_eval(group) else "train"].append(p)
    return parts


def cap(rows: list[dict], n: int, seed: str) -> list[dict]:
    rows = sorted(rows, key=lambda r: (r["a"], r["b"]))
    if len(rows) > n:
        rows = random.Random(seed).sample(rows, n)
    random.Random(seed + "-order").shuffle(rows)
    return rows


def write(name: str, parts: dict[str, list[dict]]) -> dict[str, int]:
    folder = HERE / name
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for split_name, limit in (("train", CAP_TRAIN), ("eval", CAP_EVAL)):
        rows = cap(parts[split_name], limit, f"{name}-{split_name}")
        sizes[split_name + "_before_cap"] = len(parts[split_name])
        with open(folder / f"{split_name}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        sizes[split_name] = len(rows)
    return sizes


def main() -> None:
    tasks = load(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pairdl/bigbench-1.0.0.tar.gz")
    sources = {
        "winogrande-twins": split(winogrande(tasks)),
        "vitaminc-contrast": split(vitaminc(tasks)),
        "qasc-paraphrase": split(paraphrases(tasks)),
    }
    # derived pairs use only sentences of the same split (after capping), so nothing crosses splits
    written: dict[str, dict[str, int]] = {}
    sentences: dict[str, list[str]] = {"train": [], "eval": []}
    for name, parts in sources.items():
        written[name] = write(name, parts)
        for split_name in ("train", "eval"):
            for line in open(HERE / name / f"{split_name}.jsonl", encoding="utf-8"):
                r = json.loads(line)
                sentences[split_name] += [r["a"], r["b"]]
    written["derived"] = write("derived", derived(sentences))
    for name, sizes in written.items():
        print(f"{name:20s} train {sizes['train']:6d} (of {sizes['train_before_cap']:6d})  eval {sizes['eval']:5d} (of {sizes['eval_before_cap']:5d})")


if __name__ == "__main__":
    main()
