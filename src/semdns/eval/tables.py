"""Terminal tables (rich) for ``semdns eval``: what a person reads when ``--json`` is not given.

Every cell is a :class:`~rich.text.Text`, never markup: an interval ``[0.84, 0.96]`` or an install hint
``.[baselines]`` would otherwise be read as a rich style tag and vanish.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from semdns.eval.ablate import PAIRED_RATES, Ablation
from semdns.eval.diff import VERDICTS, PolicyDiff
from semdns.eval.metrics import RATES, Evaluation


def _ci(pair: list[float]) -> Text:
    return Text(f"[{pair[0]:.3f}, {pair[1]:.3f}]")


def _f(value: float | None) -> Text:
    return Text("-" if value is None else f"{value:.3f}")


def _table(title: str | None, *columns: str) -> Table:
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right", no_wrap=True)
    return table


def print_evaluation(console: Console, evaluation: Evaluation, title: str) -> None:
    """Headline rates, calibration, latency per stage, per-name precision/recall, sibling confusion."""
    console.print(Text(f"{title}: {evaluation.n} queries, 95% bootstrap intervals", style="bold"))
    rates = _table("Rates", "metric", "value", "95% CI")
    for rate in RATES:
        rates.add_row(rate, _f(evaluation.rates[rate]), _ci(evaluation.ci95[rate]))
    rates.add_row("ECE", _f(evaluation.calibration.ece), _ci(evaluation.ci95["ece"]))
    console.print(rates)

    latency = _table("By deciding stage", "stage", "n", "share", "exact", "wrong", "p50 µs", "p99 µs")
    for lat in evaluation.latency:
        latency.add_row(
            Text(lat.stage),
            str(lat.count),
            f"{lat.share:.1%}",
            f"{lat.exact:.1%}",
            f"{lat.wrong:.1%}",
            f"{lat.p50_us:.0f}",
            f"{lat.p99_us:.0f}",
        )
    console.print(latency)

    names = _table("Per name", "name", "support", "answered", "precision", "recall")
    for n in evaluation.names:
        names.add_row(Text(str(n.name)), str(n.support), str(n.predicted), _f(n.precision), _f(n.recall))
    console.print(names)

    siblings = _table("Sibling confusion", "parent", "n", "rate", "95% CI", "pairs (expected -> chosen)")
    siblings.columns[-1].justify = "left"
    siblings.columns[-1].no_wrap = False
    for s in evaluation.siblings:
        pairs = ", ".join(f"{k} ({v})" for k, v in s.pairs.items()) or "-"
        siblings.add_row(Text(str(s.parent)), str(s.n), _f(s.rate), _ci(s.ci95), Text(pairs))
    console.print(siblings)


def print_ablation(console: Console, ablation: Ablation) -> None:
    """One row a variant: its rates, then the paired differences against the baseline."""
    console.print(
        Text(
            f"Ablation: {ablation.n} queries; Δ = variant − {ablation.baseline}, paired, with 95% CI",
            style="bold",
        )
    )
    table = _table(None, "variant", *RATES, *(f"Δ{rate}" for rate in PAIRED_RATES))
    for name, rates in ablation.rates.items():
        paired = ablation.paired.get(name)
        deltas = (
            [Text(f"{paired[r]['diff']:+.3f} ") + _ci(paired[r]["ci95"]) for r in PAIRED_RATES]
            if paired
            else [Text("-")] * len(PAIRED_RATES)
        )
        table.add_row(Text(name), *(_f(rates[r]) for r in RATES), *deltas)
    console.print(table)
    for name, reason in ablation.skipped.items():
        console.print(Text(f"skipped {name}: {reason}"))


def print_policy_diff(console: Console, diff: PolicyDiff, change: str) -> None:
    """The exact rates before and after a policy change, then every pair of names that changed."""
    console.print(Text(f"{change}: {diff.n} queries", style="bold"))
    if diff.labelled:
        delta, lo, hi = diff.difference
        verdicts = ", ".join(f"{diff.count(v)} {v}" for v in VERDICTS)
        summary = (
            f"exact {diff.exact_before:.3f} -> {diff.exact_after:.3f} "
            f"({delta:+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}]); {len(diff.changes)} changed: {verdicts}"
        )
    else:
        summary = f"{len(diff.changes)} changed (unlabelled prompts: which answer is right is not known)"
    console.print(Text(summary))
    if not diff.pairs:
        return
    table = Table(title="Changed answers, by pair of names")
    for name in ("before", "after"):
        table.add_column(name, justify="left", no_wrap=True)
    for count in ("count", "fixed", "broken") if diff.labelled else ("count",):
        table.add_column(count, justify="right", no_wrap=True)
    table.add_column("example", justify="left", no_wrap=True)
    for pair in diff.pairs:
        counts = (pair.count, pair.fixed, pair.broken) if diff.labelled else (pair.count,)
        example = pair.examples[0][:70] if pair.examples else ""
        table.add_row(
            Text(str(pair.before)), Text(str(pair.after)), *(Text(str(c)) for c in counts), Text(example)
        )
    console.print(table)
