"""What several ``semdns`` sub-commands share: loading the zones they are asked to work on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer

from semdns.errors import ZoneError
from semdns.zone import ZoneTree, load_default_tree, load_zone_files


def error_exit(exc: Exception, code: int) -> typer.Exit:
    """Print ``exc`` as ``error: ...`` lines (one problem a line, each keeping its ``file:line``) and
    return the exit to raise with ``code``."""
    for line in str(exc).splitlines():
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(code)


def folder_or_exit(folder: Path) -> None:
    """Make the output folder ``folder`` now, before a long run: a path that cannot be a folder (a
    regular file, or under one) is named and exits 1 instead of ending the run in a traceback."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        typer.echo(f"error: cannot write into {folder}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None


def load_tree_or_exit(zone: Sequence[Path] | None) -> ZoneTree:
    """The zone files given (or the shipped namespace); on errors, print every ``file:line`` issue and
    exit 1, the way ``semdns zone check`` does."""
    try:
        return load_zone_files(list(zone)) if zone else load_default_tree()
    except ZoneError as exc:
        for issue in exc.issues:
            typer.echo(f"error: {issue}", err=True)
        raise typer.Exit(1) from None
