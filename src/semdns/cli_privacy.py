"""``semdns eval privacy``: the personal-data detector's precision and recall on a labelled set.

Default set: ``corpora/pii/eval.jsonl`` (Presidio's public templates filled with synthetic values; see
its CARD.md). Prints a table per kind (``--json`` for one object); ``--errors N`` lists up to N false
positives and misses of each kind. A malformed set stops with ``file:line`` and the expected shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

DEFAULT_SET = Path("corpora/pii/eval.jsonl")


def register_eval_privacy(eval_app: typer.Typer) -> None:
    """Add ``privacy`` to the ``eval`` group."""

    @eval_app.command("privacy")
    def privacy(
        data: Path = typer.Option(DEFAULT_SET, "--data", help="Labelled JSONL set."),  # noqa: B008
        match: str = typer.Option(
            "overlap", "--match", help="overlap (any overlap of the same kind) or exact."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        errors: int = typer.Option(0, "--errors", help="Show up to N false positives and misses per kind."),
        negatives: list[Path] = typer.Option(  # noqa: B008
            None,
            "--negatives",
            help="JSONL prompts assumed free of personal data (repeatable): count what is flagged.",
        ),
    ) -> None:
        """Precision / recall / F1 of the detector per kind, and its speed."""
        from semdns.errors import InvalidRequest
        from semdns.privacy.evaluate import Flagged, load_examples, scan_negatives, score

        if match not in ("overlap", "exact"):
            typer.echo(f"error: --match must be overlap or exact, not {match!r}", err=True)
            raise typer.Exit(2)
        try:
            examples = load_examples(data)
            flagged = scan_negatives(negatives) if negatives else Flagged()
        except InvalidRequest as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        report = score(examples, match=match)
        if as_json:
            extra = {"negatives": flagged.to_json()} if negatives else {}
            typer.echo(json.dumps({"data": str(data), **report.to_json(), **extra}))
            return
        out = report.to_json()
        typer.echo(f"{data}: {report.sentences} sentences, matching: {match}")
        typer.echo(f"{'kind':<12} {'tp':>5} {'fp':>5} {'fn':>5} {'precision':>10} {'recall':>8} {'f1':>7}")
        for kind, row in [*out["by_kind"].items(), ("overall", out["overall"])]:
            typer.echo(
                f"{kind:<12} {row['tp']:>5} {row['fp']:>5} {row['fn']:>5} "
                f"{row['precision']:>10.4f} {row['recall']:>8.4f} {row['f1']:>7.4f}"
            )
        for kind, n in sorted(report.out_of_scope.items()):
            typer.echo(f"not detected by design: {n} {kind} spans (no offline named-entity model)")
        typer.echo(f"speed: {out['microseconds_per_sentence']} µs per sentence (all detectors)")
        if negatives:
            f = flagged.to_json()
            typer.echo(
                f"negatives: {f['flagged_prompts']} of {f['prompts']} prompts flagged "
                f"({f['flagged_per_1000']} per 1000), by kind {f['by_kind']}"
            )
        if errors:
            for kind, text in flagged.samples[: errors * 3]:
                typer.echo(f"flagged in a negative prompt [{kind}]: {text!r}")
            for label, rows in (("false positive", report.false_positives), ("missed", report.missed)):
                shown: dict[str, int] = {}
                for kind, text in rows:
                    if shown.get(kind, 0) < errors:
                        shown[kind] = shown.get(kind, 0) + 1
                        typer.echo(f"{label} [{kind}]: {text!r}")
