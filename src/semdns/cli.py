"""The ``semdns`` command line: ``dig``, ``zone check`` and the commands later capabilities add.

Each sub-command lives in its own module and is registered here, so this file only wires them up.
"""

from __future__ import annotations

import os

import typer

os.environ.setdefault("HF_HUB_OFFLINE", "1")

app = typer.Typer(
    name="semdns",
    help="semdns: resolve LLM requests to the most specialised model through semantic names.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    """Attach every sub-command; imported lazily so that ``semdns --help`` stays fast."""
    from semdns.cli_compress import register as register_compress
    from semdns.cli_dig import register as register_dig
    from semdns.cli_eval import register as register_eval
    from semdns.cli_key import register as register_key
    from semdns.cli_serve import register as register_serve
    from semdns.cli_simulate import register as register_simulate
    from semdns.cli_tenant import register as register_tenant
    from semdns.cli_train import register as register_train
    from semdns.cli_zone import register as register_zone

    register_compress(app)
    register_dig(app)
    register_eval(app)
    register_key(app)
    register_simulate(app)
    register_serve(app)
    register_tenant(app)
    register_train(app)
    register_zone(app)


def _check_environment() -> None:
    """Refuse a malformed setting read from the environment before any command loads a model."""
    from semdns.model_workers import default_workers, encoder_threads, switch_interval_s

    try:
        default_workers()
        encoder_threads()
        switch_interval_s()
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


def main() -> None:
    """Console-script entry point."""
    _check_environment()
    _register()
    app()


if __name__ == "__main__":
    main()
