"""``semdns zone check FILE...``: validate zone files and compose them into one tree."""

from __future__ import annotations

from pathlib import Path

import typer

from semdns.errors import ZoneError
from semdns.zone import load_zone_files


def register(app: typer.Typer) -> None:
    """Add the ``zone`` command group to ``app``."""
    zone_app = typer.Typer(help="Work with zone files.", no_args_is_help=True)

    @zone_app.command("check")
    def check(
        files: list[Path] = typer.Argument(..., help="Zone files to validate together (YAML)."),  # noqa: B008
    ) -> None:
        """Validate zone files; exit 0 when they compose into one tree, 1 with every problem otherwise."""
        try:
            tree = load_zone_files(files)
        except ZoneError as exc:
            for issue in exc.issues:
                typer.echo(f"error: {issue}", err=True)
            typer.echo(f"{len(exc.issues)} problem(s) found", err=True)
            raise typer.Exit(1) from None
        with_engines = sum(1 for n in tree if n.engines)
        delegated = sum(1 for n in tree if n.delegation)
        typer.echo(
            f"ok: {len(tree)} names under {tree.apex} from {len(files)} file(s); "
            f"{with_engines} with engines, {delegated} delegated"
        )

    app.add_typer(zone_app, name="zone")
