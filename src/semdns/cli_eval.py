"""``semdns eval routing | ablate | diff | privacy``: score routers on labelled JSONL query sets.

``routing`` runs one router (semdns by default, or a baseline) and reports hierarchy-aware rates with
bootstrap intervals, calibration and latency per stage (a rich table, ``--json`` for one JSON object,
``--report DIR`` for an HTML page with plots). ``ablate`` runs the same queries through every variant
and reports paired differences against the full resolver. ``diff`` lists the queries whose answer a
policy change would change, before it ships. Bad input stops before anything is
resolved, with the file, the line and the fix (exit 2).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from semdns.cli_common import folder_or_exit, load_tree_or_exit
from semdns.zone import ZoneTree

if TYPE_CHECKING:  # the eval modules pull in numpy and matplotlib: imported when a command runs
    from semdns.eval.dataset import EvalItem
    from semdns.eval.routers import Router
    from semdns.resolve.encoder import Encoder


class RouterKind(StrEnum):
    """The routers ``eval routing`` can score."""

    semdns = "semdns"
    flat = "flat"
    semantic_router = "semantic-router"
    random = "random"
    round_robin = "round-robin"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise _fail(f"--limit must be at least 1 (got {limit})")


def _load_items(data: Sequence[Path], tree: ZoneTree, limit: int | None) -> list[EvalItem]:
    from semdns.eval.dataset import DatasetError, load_jsonl

    _check_limit(limit)
    try:
        items = load_jsonl(data, tree)
    except DatasetError as exc:
        raise _fail(str(exc)) from None
    return items[:limit] if limit is not None else items


def _encoder() -> Encoder:
    from semdns.resolve.encoder import EncoderUnavailable, MiniLMEncoder

    encoder = MiniLMEncoder()
    try:
        encoder.encode(["warm-up"])
    except EncoderUnavailable as exc:
        raise _fail(str(exc), 1) from None
    return encoder


def _build_router(
    kind: RouterKind, tree: ZoneTree, seed: int, classifier: str | None = None
) -> tuple[Router, str, Callable[[], None]]:
    """The router, a description of what runs (for the output) and how to release it.

    ``classifier``: the resolver's classifier artefact (a path), ``examples`` for one trained on the
    zone examples alone (what a namespace without corpora gets), or None for the usual lookup."""
    from semdns.eval import routers, sr_library

    if kind is RouterKind.random:
        return routers.RandomRouter(tree, seed=seed), "random leaf", lambda: None
    if kind is RouterKind.round_robin:
        return routers.RoundRobinRouter(tree), "leaves in turn", lambda: None
    encoder = _encoder()
    if kind is RouterKind.flat:
        return routers.FlatCentroidRouter(tree, encoder), "nearest centroid over all names", lambda: None
    if kind is RouterKind.semantic_router:
        try:
            return sr_library.LibrarySemanticRouter(tree, encoder), "semantic-router library", lambda: None
        except sr_library.LibraryUnavailable as exc:
            typer.echo(
                f"note: {exc}.\nnote: using semdns's in-process version of its rule instead "
                "(top-5 nearest examples, mean similarity per route).",
                err=True,
            )
            return (
                routers.NearestExamplesRouter(tree, encoder),
                "semantic-router rule (in-process)",
                lambda: None,
            )
    from semdns.resolve import Resolver
    from semdns.resolve.classifier import ClassifierMismatch

    try:
        if classifier == "examples":
            from semdns.resolve.training import train

            resolver = Resolver(tree, encoder, cache_size=0, classifier=train(tree, encoder))
            return routers.ResolverRouter(resolver), "semdns resolver, zone examples only", resolver.close
        path = Path(classifier) if classifier else None
        resolver = Resolver(tree, encoder, cache_size=0, classifier_path=path)
    except ClassifierMismatch as exc:
        raise _fail(str(exc)) from None
    description = f"semdns resolver ({resolver.classifier.meta.get('items', '?')} training texts)"
    return routers.ResolverRouter(resolver), description, resolver.close


@contextmanager
def _progress(total: int, label: str, enabled: bool) -> Iterator[Callable[[], None] | None]:
    """A rich progress bar on a terminal; nothing when output is piped or machine-read."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def _console() -> Any:
    """A terminal's own width; 160 columns when piped (rich would otherwise squeeze the tables into 80)."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=160)


def _data_option() -> Any:
    return typer.Option(..., "--data", "-d", help="Labelled JSONL set (repeatable).")


def _zone_option() -> Any:
    return typer.Option(None, "--zone", "-z", help="Zone file (repeatable); default: the shipped namespace.")


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group to ``app``."""
    eval_app = typer.Typer(help="Evaluate routing on labelled query sets (JSONL).", no_args_is_help=True)

    @eval_app.command("routing")
    def routing(
        data: list[Path] = _data_option(),  # noqa: B008
        zone: list[Path] | None = _zone_option(),  # noqa: B008
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        report: Path | None = typer.Option(None, "--report", help="Write index.html and plots to DIR."),  # noqa: B008
        router: RouterKind = typer.Option(RouterKind.semdns, "--router", help="The router to score."),  # noqa: B008
        limit: int | None = typer.Option(None, "--limit", help="Score only the first N queries."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and of the random router."),
        classifier: str | None = typer.Option(
            None,
            "--classifier",
            help="Classifier artefact for the resolver (semdns train), or 'examples' for one trained "
            "on the zone examples alone; default: the one made for the namespace.",
        ),
    ) -> None:
        """Score one router on labelled queries, with 95% bootstrap intervals.

        Exact / primary / safe / wrong / abstain rates, per-name precision and recall, sibling
        confusion, calibration (ECE, reliability) and latency per deciding stage.
        """
        from semdns.eval.metrics import evaluate
        from semdns.eval.runner import run
        from semdns.eval.tables import print_evaluation

        tree = load_tree_or_exit(zone)
        items = _load_items(data, tree, limit)
        if report is not None:
            folder_or_exit(report)
        chosen, description, close = _build_router(router, tree, seed, classifier)
        try:
            with _progress(
                len(items), f"routing ({router.value})", not as_json and sys.stdout.isatty()
            ) as tick:
                scored = run(chosen, items, advance=tick)
        finally:
            close()
        evaluation = evaluate(scored, seed=seed)
        meta = {
            "router": router.value,
            "router_impl": description,
            "data": [str(p) for p in data],
            "zones": [str(p) for p in zone] if zone else "default",
            "seed": seed,
            "classifier": classifier or "default",
        }
        if report is not None:
            from semdns.eval.report import write_report

            page = write_report(evaluation, report, meta=meta)
            (report / "queries.jsonl").write_text(
                "".join(json.dumps(s.to_json(), ensure_ascii=False) + "\n" for s in scored), encoding="utf-8"
            )
            if not as_json:
                typer.echo(f"report: {page}", err=True)
        if as_json:
            typer.echo(json.dumps({**meta, **evaluation.to_json()}, ensure_ascii=False))
            return
        print_evaluation(_console(), evaluation, f"{router.value} ({description})")

    @eval_app.command("ablate")
    def ablate_command(
        data: list[Path] = _data_option(),  # noqa: B008
        zone: list[Path] | None = _zone_option(),  # noqa: B008
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
        limit: int | None = typer.Option(None, "--limit", help="Use only the first N queries."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and of the random router."),
    ) -> None:
        """Compare variants on the same queries: paired differences against the full resolver.

        Variants: each stage switched off (keyword, embedding, classifier), the flat and
        semantic-router baselines, random and round-robin routing.
        """
        from semdns.eval.ablate import ablate, default_variants
        from semdns.eval.tables import print_ablation

        tree = load_tree_or_exit(zone)
        items = _load_items(data, tree, limit)
        variants, skipped = default_variants(tree, _encoder(), seed=seed)
        total = len(items) * len(variants)
        try:
            with _progress(total, "ablation", not as_json and sys.stdout.isatty()) as tick:
                result = ablate(variants, items, seed=seed, skipped=skipped, advance=tick)
        finally:
            for variant in variants:
                variant.close()
        if as_json:
            meta = {"data": [str(p) for p in data], "zones": [str(p) for p in zone] if zone else "default"}
            typer.echo(json.dumps({**meta, "seed": seed, **result.to_json()}, ensure_ascii=False))
            return
        print_ablation(_console(), result)

    @eval_app.command("diff")
    def diff_command(
        data: list[Path] | None = typer.Option(  # noqa: B008
            None, "--data", "-d", help="Labelled JSONL set (repeatable)."
        ),
        prompts: list[Path] | None = typer.Option(  # noqa: B008
            None, "--prompts", help="Unlabelled prompts, one a line (repeatable): only what changes is known."
        ),
        zone: list[Path] | None = _zone_option(),  # noqa: B008
        settings: list[str] | None = typer.Option(  # noqa: B008
            None,
            "--set",
            help="A policy field for every name, KEY=VALUE (repeatable), e.g. shallow_threshold=0.9.",
        ),
        full_path: bool = typer.Option(
            False, "--full-path", help="Compare against the resolver without its lexical and shallow passes."
        ),
        examples: int = typer.Option(3, "--examples", help="Example queries kept per pair of names."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object (every change included)."),
        limit: int | None = typer.Option(None, "--limit", help="Use only the first N queries."),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
    ) -> None:
        """What a policy change would do: every query whose answer changes, before it ships.

        The queries run through the namespace as it is and with the change; each changed answer is
        fixed, broken, still right (both acceptable) or still wrong, grouped by pair of names. With
        --prompts (real traffic without labels) each change is listed as such.
        """
        from pydantic import ValidationError

        from semdns.eval.ablate import without_stage
        from semdns.eval.dataset import EvalItem
        from semdns.eval.diff import compare, describe, parse_settings, read_prompts
        from semdns.eval.routers import ResolverRouter
        from semdns.eval.runner import run
        from semdns.eval.tables import print_policy_diff
        from semdns.resolve import Resolver

        if examples < 0:
            raise _fail(f"--examples must not be negative (got {examples})")
        try:
            changes = parse_settings(settings or [])
        except ValueError as exc:
            raise _fail(str(exc)) from None
        if not changes and not full_path:
            raise _fail("nothing to compare: give --set KEY=VALUE (repeatable) or --full-path")
        tree = load_tree_or_exit(zone)
        try:
            changed = tree.with_policies(**changes) if changes else tree
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise _fail(f"--set: {problems}") from None
        if full_path:
            changed = without_stage(without_stage(changed, "lexical"), "shallow")
        if bool(data) == bool(prompts):
            raise _fail("give the queries with --data (labelled JSONL) or --prompts (one a line), not both")
        if data:
            items = _load_items(data, tree, limit)
        else:
            _check_limit(limit)
            try:
                lines = read_prompts(prompts or [])
            except ValueError as exc:
                raise _fail(str(exc)) from None
            items = [EvalItem(text, tree.apex, (), str(path), line) for text, path, line in lines][:limit]
        encoder = _encoder()
        resolvers = [Resolver(t, encoder, cache_size=0) for t in (tree, changed)]
        try:
            with _progress(2 * len(items), "diff", not as_json and sys.stdout.isatty()) as tick:
                before, after = (run(ResolverRouter(r), items, advance=tick) for r in resolvers)
        finally:
            for resolver in resolvers:
                resolver.close()
        result = compare(before, after, examples=examples, seed=seed, labelled=bool(data))
        change = describe(changes, full_path)
        if as_json:
            sources = (
                {"data": [str(p) for p in data]} if data else {"prompts": [str(p) for p in prompts or []]}
            )
            meta = {**sources, "zones": [str(p) for p in zone] if zone else "default"}
            payload = {**meta, "change": change, "seed": seed, **result.to_json()}
            typer.echo(json.dumps(payload, ensure_ascii=False))
            return
        print_policy_diff(_console(), result, change)

    from semdns.cli_privacy import register_eval_privacy

    register_eval_privacy(eval_app)
    app.add_typer(eval_app, name="eval")
