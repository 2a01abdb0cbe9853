"""``semdns key gen | show``: a zone's Ed25519 signing key.

``gen`` writes the private key (PEM, mode 0600) for the zone file's ``signing_key`` and prints the
public half, which goes into the parent zone's delegation record as ``public_key``.
"""

from __future__ import annotations

from pathlib import Path

import typer

key_app = typer.Typer(help="Zone signing keys (Ed25519) for signed delegations.", no_args_is_help=True)


@key_app.command("gen")
def gen(
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the private key (PEM)."),  # noqa: B008
    force: bool = typer.Option(False, "--force", help="Overwrite an existing key file."),
) -> None:
    """Create a key pair; print the public key for the parent's delegation record."""
    from semdns.protocol.signing import ZoneKey

    if out.exists() and not force:
        typer.echo(f"error: {out} exists; pass --force to replace it (the old key stops working)", err=True)
        raise typer.Exit(1)
    key = ZoneKey.generate()
    try:
        key.save(out)
    except OSError as exc:
        typer.echo(f"error: cannot write {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    _print(key.public_text, key.key_id, out)


@key_app.command("show")
def show(path: Path = typer.Argument(..., help="A private key file written by `semdns key gen`.")) -> None:  # noqa: B008
    """Print the public key of a private key file."""
    from semdns.errors import SemdnsError
    from semdns.protocol.signing import ZoneKey

    try:
        key = ZoneKey.load(path)
    except SemdnsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print(key.public_text, key.key_id, path)


def _print(public: str, key_id: str, path: Path) -> None:
    typer.echo(f"private key: {path}  (zone file: signing_key: <this file's path relative to the zone file>)")
    typer.echo(f"key id:      {key_id}")
    typer.echo(f"public key:  {public}")
    typer.echo("parent zone delegation record:")
    typer.echo(f"    public_key: {public}")


def register(app: typer.Typer) -> None:
    """Add ``key`` to ``app``."""
    app.add_typer(key_app, name="key")
