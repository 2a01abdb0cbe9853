"""``semdns serve``: the OpenAI-compatible gateway on uvicorn.

Builds the zone tree, the resolver and the runtime once, then serves one process on one event loop
(uvloop and httptools when installed: the fastest loop and HTTP parser uvicorn offers). Scale out by
running several processes behind a TCP load balancer; the gateway holds no shared state that would
need coordination beyond per-process breakers and caches.
"""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command("serve")
    def serve(
        zone: list[Path] = typer.Option(  # noqa: B008
            None, "--zone", "-z", help="Zone file (repeatable); default: the namespace shipped with semdns."
        ),
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8080, help="Port to listen on."),
        max_body_bytes: int = typer.Option(
            None, help="Largest request body accepted (default 1 MiB, or SEMDNS_MAX_BODY_BYTES)."
        ),
        no_probes: bool = typer.Option(False, "--no-probes", help="Turn active health probes off."),
        lazy_local: bool = typer.Option(
            False, "--lazy-local", help="Load the local model on the first request instead of at start-up."
        ),
        log_level: str = typer.Option("info", help="Log level: debug, info, warning, error."),
        access_log: bool = typer.Option(False, help="Log every request (costs throughput)."),
        tenants: Path = typer.Option(  # noqa: B008
            None,
            "--tenants",
            help="Tenants file (keys, subtrees, limits); default: open (SEMDNS_TENANTS_FILE).",
        ),
        redis: str = typer.Option(
            None,
            "--redis",
            help="Share cache and limits through Redis: redis://HOST:PORT/DB (SEMDNS_REDIS_URL).",
        ),
        cache_shadow: bool = typer.Option(
            False,
            "--cache-shadow",
            help="Response cache in shadow mode for every name (decide, count, never serve).",
        ),
        no_response_cache: bool = typer.Option(
            False, "--no-response-cache", help="Turn the response cache off."
        ),
        no_console: bool = typer.Option(False, "--no-console", help="Do not serve the web console at /ui."),
        console_remote: bool = typer.Option(
            False,
            "--console-remote",
            help="Without --tenants, let non-loopback callers open /ui (SEMDNS_CONSOLE_REMOTE).",
        ),
    ) -> None:
        """Serve the OpenAI-compatible API: send model "auto" (or a name such as contracts.legal)."""
        import uvicorn

        from semdns.errors import TenantsFileError, ZoneError
        from semdns.gateway import GatewaySettings, Runtime, create_app
        from semdns.resolve import MiniLMEncoder, Resolver
        from semdns.zone import load_default_tree, load_zone_files

        logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            tree = load_zone_files(zone) if zone else load_default_tree()
        except ZoneError as exc:
            for issue in exc.issues:
                typer.echo(f"error: {issue}", err=True)
            raise typer.Exit(1) from None
        try:
            settings = GatewaySettings.from_env(
                max_body_bytes=max_body_bytes,
                probes=False if no_probes else None,
                warm_local=False if lazy_local else None,
                tenants_file=str(tenants) if tenants else None,
                redis_url=redis,
                cache_shadow=True if cache_shadow else None,
                response_cache=False if no_response_cache else None,
                console=False if no_console else None,
                console_remote=True if console_remote else None,
            )
            if settings.tenants_file:  # fail before the resolver is built, not after
                from semdns.tenancy import load_tenants

                load_tenants(settings.tenants_file)
            if settings.redis_url:
                from semdns.state import open_state

                open_state(settings.redis_url)
        except (ValueError, TenantsFileError) as exc:
            for line in str(exc).splitlines():
                typer.echo(f"error: {line}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"semdns: {len(tree)} names under {tree.apex}; building the resolver…", err=True)
        resolver = Resolver(tree, encoder=MiniLMEncoder())
        try:
            runtime = Runtime.build(tree, resolver, settings)
        except (ValueError, TenantsFileError) as exc:
            for line in str(exc).splitlines():
                typer.echo(f"error: {line}", err=True)
            resolver.close()
            raise typer.Exit(2) from None
        typer.echo(
            f"semdns: {len(runtime.pools)} names with engines; OpenAI API at http://{host}:{port}/v1",
            err=True,
        )
        from semdns.delegation.http import ProtocolRoutes
        from semdns.delegation.server import build_authority
        from semdns.errors import SemdnsError

        try:
            authority = build_authority(tree, resolver, server_url=f"http://{host}:{port}")
        except SemdnsError as exc:  # an unreadable signing key: say which file and why
            typer.echo(f"error: {exc}", err=True)
            resolver.close()
            raise typer.Exit(2) from None
        from semdns.gateway.recursion import Recursion

        # auto follows delegations to the final name, on the protocol server's follower (one cache).
        runtime.recursion = Recursion(
            tree, authority.follower, server=authority.server, encoder=resolver.encoder
        )
        typer.echo(
            f"semdns: resolver protocol for {tree.apex} at http://{host}:{port}/semdns/v1/query"
            + (f" (answers signed, key {authority.key.key_id})" if authority.key else " (unsigned)"),
            err=True,
        )
        if settings.console:
            typer.echo(f"semdns: console at http://{host}:{port}/ui/", err=True)
        try:
            uvicorn.run(
                create_app(runtime, extra_routes=ProtocolRoutes(authority).routes()),
                host=host,
                port=port,
                log_level=log_level.lower(),
                access_log=access_log,
                loop="auto",
                http="auto",
                timeout_graceful_shutdown=5,
            )
        finally:
            resolver.close()
