"""``semdns serve``: the OpenAI-compatible gateway on uvicorn.

Builds the zone tree, the resolver and the runtime once, then serves one process on one event loop
(uvloop and httptools when installed: the fastest loop and HTTP parser uvicorn offers). The zone files
and the tenants file reload without a restart (SIGHUP, ``POST /admin/reload``, ``--watch``:
:mod:`semdns.gateway.reload`); ``--workers N`` runs N such processes on the port
(:mod:`semdns.gateway.workers`), sharing limits, quotas and the response cache through ``--redis``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from semdns.cli_common import error_exit

if TYPE_CHECKING:
    from starlette.routing import Route

    from semdns.gateway import Runtime


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
        workers: str = typer.Option(
            "1",
            "--workers",
            help="Processes serving the port (SO_REUSEPORT), or 'auto' for one per CPU; share limits, "
            "quotas and the response cache with --redis.",
        ),
        watch: bool = typer.Option(
            False,
            "--watch",
            help="Reload when a zone file or the tenants file changes (debounced); SIGHUP and "
            "POST /admin/reload reload in any case.",
        ),
        insecure_open: bool = typer.Option(
            False,
            "--insecure-open",
            help="Without --tenants, serve clients from any address (default: protected mode, "
            "loopback clients only, when --host is not loopback). SEMDNS_INSECURE_OPEN.",
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
        from semdns.gateway import workers as group

        identity = group.WorkerIdentity.from_env()
        try:
            count = group.parse_workers(workers)
            if count > 1 and identity is None:  # the supervisor: the workers do the rest
                import sys

                raise typer.Exit(group.supervise(sys.argv, count, host, port))
        except (ValueError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
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
                host=host,
                insecure_open=True if insecure_open else None,
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
            raise error_exit(exc, 2) from None
        typer.echo(f"semdns: {len(tree)} names under {tree.apex}; building the resolver…", err=True)
        resolver = Resolver(tree, encoder=MiniLMEncoder())
        try:
            runtime = Runtime.build(tree, resolver, settings)
        except (ValueError, TenantsFileError) as exc:
            resolver.close()
            raise error_exit(exc, 2) from None
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
        from semdns.delegation.authority import Authority
        from semdns.gateway.live import Live
        from semdns.gateway.recursion import Recursion
        from semdns.gateway.reload import Reloader

        def protocol_routes(rt: Runtime) -> list[Route]:
            # Each generation (a hot reload builds a new one) answers the protocol over its own tree and
            # resolver; the follower (peer client, referral and answer caches) is shared by all.
            auth = authority
            if rt is not runtime:
                own = getattr(rt.resolver, "inner", rt.resolver)  # tracing may wrap it
                assert isinstance(own, Resolver)
                auth = Authority.build(rt.tree, own, authority.follower, f"http://{host}:{port}")
            # auto follows delegations to the final name, on the protocol server's follower (one cache).
            rt.recursion = Recursion(
                rt.tree, auth.follower, server=auth.server, encoder=resolver.encoder, shallow=resolver.shallow
            )
            return ProtocolRoutes(auth).routes()

        live = Live(runtime, protocol_routes)
        reloader = Reloader(
            live, lambda new_tree: Resolver(new_tree, encoder=resolver.encoder), zone_paths=zone, watch=watch
        )
        reloader.settle_heap = True  # a long-running process: what start built is frozen (gateway/heap.py)
        typer.echo(
            f"semdns: resolver protocol for {tree.apex} at http://{host}:{port}/semdns/v1/query"
            + (f" (answers signed, key {authority.key.key_id})" if authority.key else " (unsigned)"),
            err=True,
        )
        overrides: list[Route] = []
        if identity is not None:
            reloader.after_admin = identity.notify_siblings
            group.follow_supervisor(identity)
            overrides = group.GroupMetrics(live, identity).routes()
            if settings.tenants_file and not settings.redis_url:
                logging.getLogger("semdns.serve").warning(
                    "worker %d: without --redis, rate limits and quotas are per worker", identity.index
                )
        typer.echo(
            "semdns: reload with kill -HUP, POST /admin/reload"
            + (" or by editing the files (watched)" if watch else ""),
            err=True,
        )
        if settings.console:
            typer.echo(f"semdns: console at http://{host}:{port}/ui/", err=True)
        try:
            config = uvicorn.Config(
                create_app(live, reloader=reloader, overrides=overrides, settle_heap=True),
                host=host,
                port=port,
                log_level=log_level.lower(),
                access_log=access_log,
                loop="auto",
                http="auto",
                timeout_graceful_shutdown=5,
            )
            sockets = group.listeners(identity, host, port) if identity is not None else None
            server = uvicorn.Server(config)
            server.run(sockets=sockets)
            if not server.started:
                raise typer.Exit(3)  # as uvicorn.run: the server could not start (logged by uvicorn)
        finally:
            resolver.close()
