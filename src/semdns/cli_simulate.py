"""``semdns simulate --config FILE``, ``semdns simulate paper-table`` and ``semdns simulate cascade``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from semdns.cli_common import error_exit, folder_or_exit

PRESETS = ("paper-table", "cascade")


def _progress(total: int, enabled: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to ``app``."""

    @app.command("simulate")
    def simulate_cmd(
        preset: str | None = typer.Argument(None, help="A preset instead of --config: paper-table."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Simulator config (YAML)."),  # noqa: B008
        out: Path = typer.Option(Path("sim-out"), "--out", "-o", help="Directory for results and plots."),  # noqa: B008
        seed: int | None = typer.Option(None, "--seed", help="Override the config's seed."),
        requests: int | None = typer.Option(None, "--requests", help="Override requests per run."),
        plots: bool = typer.Option(True, "--plots/--no-plots", help="Write PNG plots."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
        escalation_share: float | None = typer.Option(
            None, "--escalation-share", help="cascade: share escalated to the large tier (0..1)."
        ),
        small_tier: str | None = typer.Option(None, "--small-tier", help="cascade: the small tier."),
        large_tier: str | None = typer.Option(None, "--large-tier", help="cascade: the large tier."),
        small_cost: float | None = typer.Option(None, "--small-cost", help="cascade: small price."),
        large_cost: float | None = typer.Option(None, "--large-cost", help="cascade: large price."),
        decide: str | None = typer.Option(None, "--decide", help="cascade: answer or prefix."),
    ) -> None:
        """Simulate routing over G engines (or, ``cascade``, a cascade's cost); write CSV, JSON, plots."""
        from semdns.sim import SimConfigError, load_config, parse_config, write_plots, write_results
        from semdns.sim.paper import paper_config, render_markdown, run_paper
        from semdns.sim.runner import RunResult, run_sweep

        if preset is not None and preset not in PRESETS:
            typer.echo(f"error: unknown preset {preset!r}; presets: {', '.join(PRESETS)}", err=True)
            raise typer.Exit(2)
        if preset == "cascade":
            flags = {"escalation_share": escalation_share, "small": small_tier, "large": large_tier,
                     "small_cost": small_cost, "large_cost": large_cost, "decide": decide}  # fmt: skip
            _cascade(config, out, seed, requests, {k: v for k, v in flags.items() if v is not None})
            return
        if (preset is None) == (config is None):
            typer.echo("error: give --config FILE or a preset (paper-table), not both", err=True)
            raise typer.Exit(2)
        overrides: dict[str, Any] = {}
        if seed is not None:
            overrides["seed"] = seed
        if requests is not None:
            overrides["requests"] = {"count": requests}
        try:
            if preset is not None:
                cfg = paper_config(overrides)
            else:
                assert config is not None
                cfg = load_config(config)
                if overrides:
                    data = cfg.model_dump(mode="json")
                    data["seed"] = overrides.get("seed", data["seed"])
                    data["requests"].update(overrides.get("requests", {}))
                    cfg = parse_config(data)
        except SimConfigError as exc:  # one problem a line, each with its file:line
            raise error_exit(exc, 1) from None

        folder_or_exit(out)
        kinds = 3 if preset is not None else len(cfg.topology.kinds)
        total = kinds * len(cfg.topology.engines)
        results: list[RunResult] = []
        try:
            with _progress(total, progress) as bar:
                task = bar.add_task("simulating", total=total)

                def seen(r: RunResult) -> None:
                    results.append(r)
                    bar.update(task, advance=1, description=f"{r.topology} G={r.engines}")

                if preset is not None:
                    table = run_paper(cfg, seen)
                else:
                    run_sweep(cfg, seen)
        except SimConfigError as exc:  # one problem a line, each with its file:line
            raise error_exit(exc, 1) from None
        written = write_results(results, out, cfg)
        if plots and cfg.plots:
            written += write_plots(results, out)
        if preset is not None:
            md = out / "paper-table.md"
            md.write_text(render_markdown(cfg, table), encoding="utf-8")
            written.append(md)
        for r in results:
            typer.echo(
                f"{r.topology:<13} G={r.engines:<5} msgs/query={r.messages_per_query:>12,.2f} "
                f"routing p50/p99={r.routing_p50_ms:.2f}/{r.routing_p99_ms:.2f} ms "
                f"TTFT p99={r.ttft_p99_ms:,.0f} ms goodput={r.goodput_rps:,.1f}/s"
            )
        for p in written:
            typer.echo(f"wrote {p}")


def _cascade(
    config: Path | None, out: Path, seed: int | None, requests: int | None, flags: dict[str, Any]
) -> None:
    """``semdns simulate cascade``: always-small, always-large and the cascade at each G's load."""
    import json

    from semdns.sim import SimConfigError, load_config, parse_config
    from semdns.sim.cascade import render_markdown, run_cascade_sweep

    try:
        data: dict[str, Any] = load_config(config).model_dump(mode="json") if config is not None else {}
        if seed is not None:
            data["seed"] = seed
        if requests is not None:
            data.setdefault("requests", {})["count"] = requests
        data["cascade"] = {**data.get("cascade", {}), **flags}
        cfg = parse_config(data)
        folder_or_exit(out)
        results = run_cascade_sweep(cfg)
    except SimConfigError as exc:  # one problem a line, each with its file:line
        raise error_exit(exc, 1) from None
    rows = [r.as_dict() for r in results]
    js = out / "cascade.json"
    js.write_text(json.dumps({"config": cfg.model_dump(mode="json"), "runs": rows}, indent=2) + "\n")
    md = out / "cascade.md"
    md.write_text(render_markdown(cfg, results), encoding="utf-8")
    for r in results:
        typer.echo(
            f"{r.offered_rps:>8g} req/s {r.strategy:<13} escalated={r.escalation_share:.3f} "
            f"replicas={r.small_replicas}/{r.large_replicas} cost={r.cost_per_request:.3f} "
            f"TTFT p50/p99={r.ttft_p50_ms:.0f}/{r.ttft_p99_ms:.0f} ms "
            f"e2e p50/p99={r.e2e_p50_ms:.0f}/{r.e2e_p99_ms:.0f} ms"
        )
    for p in (js, md):
        typer.echo(f"wrote {p}")
