"""What the lexical pass settles, and what it costs in accuracy, at each ``lexical_threshold``.

The resolver's first pass (the ``lexical`` stage: the classifier on TF-IDF, structure and a static
token embedding) decides a prompt without running the transformer when its calibrated probability
clears ``lexical_threshold``. This script scores, for the full path (no lexical stage) and for the
lexical stage at several thresholds:

- on the data that may tune the threshold: the held-out 15% of the corpora's *training* splits (kept
  out of ``semdns train``'s fit), the team's labelled set and the tuning-only public sets
  (``corpora/tuning/*/tune.jsonl``: short general questions from a source nothing trains,
  calibrates or evaluates on);
- on every evaluation split (``corpora/routing/*/eval.jsonl``: never trained or tuned on), to report.

With ``--shallow``, each setting is also tried with the shallow pass after the lexical one (the
classifier on the vector of the transformer's first layers: ``shallow_threshold``).

Per set and setting: exact and wrong-specialist rates, the paired difference of the exact rate against
the full path with its 95% bootstrap interval, the share of prompts the lexical pass settled alone
(the decision's costliest stage was ``lexical``: no transformer ran), the share the shallow pass
settled (only the first layers ran) and the share that needed the full transformer. Every
transformer embedding is computed once and shared by all settings. Prints one JSON object.

    .venv/bin/python bench/routing_passes.py [--thresholds 0.7,0.8,0.85,0.9] [--min-tokens 0,24]
        [--short-thresholds none,0.9] [--shallow 0.8,0.9] [--long-thresholds 0.5 --long-tokens 64,128]
        [--classifier FILE.npz] [--zones DIR ...]
        [--sets tuning|eval|all] [--only CORPUS,...] [--held-out-by-corpus] [--limit N] [--out FILE]

``--held-out-by-corpus`` also reports the held-out training items of each corpus apart ("tuning:
held-out <corpus>", the pooled set's outcomes split by corpus): a change can cost one corpus what
another gains and leave the pooled rate where it was, and a rule can then bound each corpus on its own.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, cast

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from _common import emit, evaluation_splits, zone_folder
from routing_eval import held_out_training, sample, team_set
from semdns.eval.ablate import MemoTokenEncoder
from semdns.eval.bootstrap import mean_ci, paired_difference_ci
from semdns.eval.dataset import EvalItem, load_jsonl
from semdns.eval.metrics import Scored, groups_of, rate_vectors
from semdns.eval.routers import ResolverRouter
from semdns.eval.runner import run
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder, encode_cached
from semdns.resolve.trained import TrainedClassifier, namespace_digest
from semdns.zone import load_default_tree
from semdns.zone.schema import LONG_PROMPT_TOKENS, Policy
from semdns.zone.tree import ZoneTree

REPO = Path(__file__).resolve().parent.parent
HELD_OUT = "tuning: held-out training items"


def _itself(row: Any) -> EvalItem:
    return cast(EvalItem, row)


Row = TypeVar("Row")


def by_corpus(rows: list[Row], item_of: Callable[[Row], EvalItem] = _itself) -> dict[str, list[Row]]:
    """``rows`` (held-out training items, or their scored outcomes with ``item_of``) grouped by corpus
    (the folder of the file each item came from), in name order and keeping the rows' order; an item
    of the zones' own examples (no corpus file) is grouped under its source."""
    groups: dict[str, list[Row]] = {}
    for row in rows:
        source = item_of(row).source
        path = Path(source)
        groups.setdefault(path.parent.name if path.suffix == ".jsonl" else source, []).append(row)
    return dict(sorted(groups.items()))


FULL_STAGES = ("classifier", "keyword", "embedding")
FULL_MODEL = ("classifier", "embedding")
"""Deciding stages (the costliest a decision ran) that needed the full transformer's vector."""


class Setting(NamedTuple):
    """One combination of the lexical and shallow passes' settings (:func:`with_lexical`'s arguments)."""

    threshold: float
    min_tokens: int
    short_threshold: float | None
    shallow: float | None
    long_threshold: float | None
    long_tokens: int

    def label(self) -> str:
        text = f"lexical@{self.threshold}/min{self.min_tokens}"
        if self.short_threshold is not None:
            text += f"/short@{self.short_threshold}"
        if self.shallow is not None:
            text += f"+shallow@{self.shallow}"
        if self.long_threshold is not None:
            text += f"/long@{self.long_threshold}"
            if self.long_tokens != LONG_PROMPT_TOKENS:
                text += f">{self.long_tokens}"
        return text


def with_lexical(
    tree: ZoneTree,
    threshold: float | None,
    min_tokens: int = 0,
    short_threshold: float | None = None,
    shallow: float | None = None,
    long_threshold: float | None = None,
    long_tokens: int = LONG_PROMPT_TOKENS,
) -> ZoneTree:
    """The tree with the lexical stage first at ``threshold`` for prompts of ``min_tokens`` or more
    (and at ``short_threshold`` for shorter ones, which skip it when None), then with ``shallow`` the
    shallow pass at that threshold; or neither (None: the full path). Prompts of more than
    ``long_tokens`` tokens are settled at ``long_threshold`` when it is set."""

    def stages(policy: Policy) -> tuple[str, ...]:
        rest = tuple(s for s in policy.stages if s not in ("lexical", "shallow")) or FULL_STAGES
        if threshold is None:
            return rest
        return ("lexical", "shallow", *rest) if shallow is not None else ("lexical", *rest)

    if threshold is None:
        return tree.with_policies(stages=stages)
    changes: dict[str, Any] = {
        "lexical_threshold": threshold,
        "lexical_min_tokens": min_tokens,
        "lexical_short_threshold": short_threshold,
        "lexical_long_threshold": long_threshold,
        "lexical_long_tokens": long_tokens,
    }
    if shallow is not None:
        changes["shallow_threshold"] = shallow
    return tree.with_policies(stages=stages, **changes)


def _variant(tree: ZoneTree, setting: Setting | Path | None) -> tuple[str, ZoneTree]:
    """A setting's label and namespace: the full path (None), one policy for every zone (a
    :class:`Setting`), or the zones of a folder as their files say (a path)."""
    if setting is None:
        return "full path", with_lexical(tree, None)
    if isinstance(setting, Path):
        zones: ZoneTree = zone_folder(setting)
        if namespace_digest(zones) != namespace_digest(tree):
            raise SystemExit(f"--zones {setting}: not the shipped namespace (names or examples differ)")
        return f"zones: {setting}", zones
    return setting.label(), with_lexical(tree, *setting)


def summary(scored: list[Scored], full: list[Scored] | None) -> dict[str, Any]:
    vectors = rate_vectors(scored)
    groups = groups_of(scored)  # a conversation's turns are resampled together
    out: dict[str, Any] = {"n": len(scored)}
    for rate in ("exact", "wrong"):
        out[rate] = round(float(vectors[rate].mean()), 4)
        out[f"{rate}_ci"] = [round(x, 4) for x in mean_ci(vectors[rate], groups=groups)]
    out["settled_by_lexical"] = round(float(np.mean([s.routed.stage == "lexical" for s in scored])), 4)
    out["settled_by_shallow"] = round(float(np.mean([s.routed.stage == "shallow" for s in scored])), 4)
    out["full_transformer"] = round(float(np.mean([s.routed.stage in FULL_MODEL for s in scored])), 4)
    out["mean_us"] = round(float(np.mean([s.routed.elapsed_us for s in scored])), 1)
    if full is not None:
        base = rate_vectors(full)
        for rate in ("exact", "wrong"):
            difference, low, high = paired_difference_ci(vectors[rate], base[rate], groups=groups)
            out[f"{rate}_minus_full"] = round(difference, 4)
            out[f"{rate}_minus_full_ci"] = [round(low, 4), round(high, 4)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--thresholds", default="0.7,0.8,0.85,0.9,0.95")
    parser.add_argument("--min-tokens", default="0", help="lexical_min_tokens values to combine")
    parser.add_argument(
        "--short-thresholds",
        default="none",
        help="lexical_short_threshold values to combine ('none': short prompts skip the lexical pass)",
    )
    parser.add_argument(
        "--shallow",
        default="",
        help="shallow_threshold values to combine (the shallow pass after the lexical)",
    )
    parser.add_argument(
        "--long-thresholds", default="none", help="lexical_long_threshold values to combine ('none': unset)"
    )
    parser.add_argument(
        "--long-tokens",
        default=str(LONG_PROMPT_TOKENS),
        help="lexical_long_tokens values to combine (the long threshold applies past that many tokens)",
    )
    parser.add_argument(
        "--classifier", type=Path, default=None, help="a classifier artefact (default: the shipped one)"
    )
    parser.add_argument(
        "--zones",
        type=Path,
        action="append",
        default=[],
        help="a folder of zone files (repeatable): also score the namespace exactly as its policies say "
        "(per-zone thresholds); the shipped folder is src/semdns/data/zones",
    )
    parser.add_argument("--limit", type=int, default=None, help="at most N items a set")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--sets", choices=("all", "tuning", "eval"), default="all")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated evaluation corpora (folder names) to score instead of every one: a corpus "
        "read for the first time need not re-read the others",
    )
    parser.add_argument(
        "--held-out-by-corpus", action="store_true", help="also score each corpus's held-out items apart"
    )
    args = parser.parse_args(argv)
    shorts = [None if s == "none" else float(s) for s in args.short_thresholds.split(",")]
    shallow: list[float | None] = [None] + [float(t) for t in args.shallow.split(",") if t]
    longs = [None if x == "none" else float(x) for x in args.long_thresholds.split(",")]
    settings: list[Setting | Path | None] = [None] + [
        Setting(float(t), int(m), s, h, g, int(k))
        for t in args.thresholds.split(",")
        for m in args.min_tokens.split(",")
        for s in (shorts if int(m) > 0 else [None])
        for h in shallow
        for g in longs
        for k in (args.long_tokens.split(",") if g is not None else [str(LONG_PROMPT_TOKENS)])
    ]
    settings += args.zones
    classifier = TrainedClassifier.load(args.classifier) if args.classifier else None

    tree = load_default_tree()
    encoder = MiniLMEncoder()
    memo = MemoTokenEncoder(encoder)
    sets: dict[str, list[EvalItem]] = {}
    if args.sets in ("all", "tuning"):
        sets[HELD_OUT] = sample(held_out_training(tree, memo, encoder), args.limit)
        sets["tuning: team set"] = sample(team_set(), args.limit)
        for path in sorted(REPO.glob("corpora/tuning/*/tune.jsonl")):
            sets[f"tuning: {path.parent.name}"] = sample(load_jsonl([path], tree), args.limit)
    for path in evaluation_splits(args.only) if args.sets != "tuning" else ():
        sets[f"eval: {path.parent.name}"] = sample(load_jsonl([path], tree), args.limit)
    for items in sets.values():
        texts = [i.query for i in items]
        for text, vector in zip(texts, encode_cached(encoder, texts), strict=True):
            memo.prime(text, vector)

    results: dict[str, dict[str, Any]] = {}
    full: dict[str, list[Scored]] = {}
    for setting in settings:
        label, tree_variant = _variant(tree, setting)
        resolver = Resolver(tree_variant, memo, cache_size=0, classifier=classifier)
        router = ResolverRouter(resolver)
        for set_name, items in sets.items():
            scored = run(router, items)
            parts = {set_name: scored}
            if set_name == HELD_OUT and args.held_out_by_corpus:  # the same outcomes, split, not run again
                for corpus, part in by_corpus(scored, lambda s: s.item).items():
                    parts[f"tuning: held-out {corpus}"] = part
            for part_name, part in parts.items():
                if setting is None:
                    full[part_name] = part
                baseline = full.get(part_name) if setting is not None else None
                results.setdefault(part_name, {})[label] = summary(part, baseline)
                row = results[part_name][label]
                print(
                    f"{part_name:38s} {label:44s} exact {row['exact']:.3f} wrong {row['wrong']:.3f} "
                    f"lexical {row['settled_by_lexical']:.2f} shallow {row['settled_by_shallow']:.2f} "
                    f"full model {row['full_transformer']:.2f}",
                    file=sys.stderr,
                )
        resolver.close()
    emit({"benchmark": "routing_passes", "sets": results}, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
