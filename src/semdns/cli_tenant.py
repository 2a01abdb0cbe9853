"""``semdns tenant add`` and ``semdns cache stats | purge``.

``tenant add`` edits the tenants file directly (it prints the new key once; only its hash is
stored). The cache commands talk to a running gateway's admin routes, so that they see the same
state whether it lives in-process or in Redis, and a purge reaches every process.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from semdns.cli_common import error_exit


def register(app: typer.Typer) -> None:
    """Add ``tenant`` and ``cache`` command groups to ``app``."""
    tenant = typer.Typer(help="Tenants: API keys (stored as hashes), subtrees, limits.", no_args_is_help=True)
    cache = typer.Typer(help="The response cache of a running gateway.", no_args_is_help=True)
    app.add_typer(tenant, name="tenant")
    app.add_typer(cache, name="cache")

    @tenant.command("add")
    def tenant_add(
        name: str = typer.Argument(..., help="Tenant name (lower-case letters, digits, '-', '_')."),
        file: Path = typer.Option(  # noqa: B008
            Path("tenants.yaml"), "--file", "-f", help="The tenants file (created if missing)."
        ),
        subtree: list[str] = typer.Option(None, "--subtree", help="A name the tenant may use (repeatable)."),  # noqa: B008
        outside: str = typer.Option(None, help="Outside its subtrees: refuse (403) or ancestor."),
        requests_per_min: int = typer.Option(None, help="Requests per minute (token bucket)."),
        tokens_per_min: int = typer.Option(None, help="Tokens per minute (token bucket)."),
        daily_tokens: int = typer.Option(None, help="Daily token quota."),
        admin: bool = typer.Option(
            False, "--admin", help="May call the /admin routes (cache stats and purge, resolve)."
        ),
    ) -> None:
        """Create a key for NAME (creating the tenant if needed); the key is printed once, never stored."""
        from semdns.errors import TenantsFileError
        from semdns.tenancy import add_tenant_key

        try:
            key = add_tenant_key(
                file,
                name,
                subtrees=tuple(subtree) if subtree else None,
                outside=outside,
                requests_per_min=requests_per_min,
                tokens_per_min=tokens_per_min,
                daily_tokens=daily_tokens,
                admin=True if admin else None,
            )
        except TenantsFileError as exc:
            raise error_exit(exc, 2) from None
        typer.echo(key)
        typer.echo(
            f"stored the hash of this key for tenant {name!r} in {file}; it cannot be shown again", err=True
        )

    def _call(method: str, url: str, path: str, key: str | None, params: dict[str, str]) -> dict[str, object]:
        import httpx

        headers = {"authorization": f"Bearer {key}"} if key else {}
        try:
            response = httpx.request(
                method, url.rstrip("/") + path, params=params, headers=headers, timeout=30
            )
        except httpx.HTTPError as exc:
            typer.echo(f"error: cannot reach the gateway at {url}: {exc}", err=True)
            raise typer.Exit(1) from None
        try:
            body = response.json()
        except ValueError:  # an HTML page, a proxy's text: not the gateway's admin API
            body = None
        if not isinstance(body, dict):
            kind = response.headers.get("content-type", "no content type")
            typer.echo(
                f"error: {response.url} answered {response.status_code} ({kind}), not the gateway's JSON: "
                "is --url the gateway?",
                err=True,
            )
            raise typer.Exit(1)
        if response.status_code != 200:
            error = body.get("error")
            message = error.get("message") if isinstance(error, dict) else response.text
            typer.echo(f"error: {response.status_code}: {message}", err=True)
            raise typer.Exit(1)
        return body

    url_option = typer.Option("http://127.0.0.1:8080", "--url", help="The gateway.")
    key_option = typer.Option(None, "--key", envvar="SEMDNS_ADMIN_KEY", help="An admin tenant's key.")

    @cache.command("stats")
    def cache_stats(url: str = url_option, key: str = key_option) -> None:
        """Entries, hit rate by tier and by name, shadow false hits (JSON)."""
        typer.echo(json.dumps(_call("GET", url, "/admin/cache/stats", key, {}), indent=2))

    @cache.command("purge")
    def cache_purge(
        url: str = url_option,
        key: str = key_option,
        tenant: str = typer.Option(None, "--tenant", help="Only this tenant's entries."),
        name: str = typer.Option(None, "--name", help="Only this name's entries."),
    ) -> None:
        """Delete cached answers (all, or one tenant's, or one name's), in every process."""
        params = {k: v for k, v in {"tenant": tenant, "name": name}.items() if v}
        typer.echo(json.dumps(_call("POST", url, "/admin/cache/purge", key, params)))
