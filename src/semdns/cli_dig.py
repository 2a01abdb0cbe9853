"""``semdns dig``: show a resolution the way ``dig`` shows a DNS lookup.

Text output mirrors dig's sections (question, answer, trace, statistics); ``--json`` prints one JSON
object a line (the :meth:`RoutingDecision.to_json` shape), and ``-f FILE`` resolves one query a line in
a single process, like dig's batch mode.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import typer

from semdns import __version__
from semdns.cli_common import load_tree_or_exit
from semdns.resolve.decision import RoutingDecision
from semdns.textfiles import unreadable
from semdns.zone import ZoneTree


def format_decision(decision: RoutingDecision, tree: ZoneTree) -> str:
    """The dig-style text block for one decision."""
    lines = [
        f"; <<>> semdns dig {__version__} <<>> {json.dumps(decision.query)}",
        f";; status: {'MULTI' if decision.is_multi else 'NOERROR'}, answers: {len(decision.answers)}, "
        f"stage: {decision.stage}, cache: {decision.cache}",
        "",
        ";; QUESTION SECTION:",
        f";{json.dumps(decision.query)}",
        "",
        ";; ANSWER SECTION:",
    ]
    width = max((len(str(a.name)) for a in decision.answers), default=1) + 2
    for answer in decision.answers:
        dn = answer.dn or '""'
        lines.append(f"{answer.name!s:<{width}}{decision.ttl:<7}IN  CONF {answer.confidence:.3f}  {dn}")
    lines += ["", ";; TRACE SECTION:"]
    node_width = max((len(str(t.node)) for t in decision.trace), default=1) + 2
    for level in decision.trace:
        chosen = ", ".join(str(n) for n in level.chosen) or "-"
        arrow = "stays" if level.chosen == (level.node,) else f"-> {chosen}"
        if level.outcome in ("leaf", "delegated"):
            lines.append(f";  {level.node!s:<{node_width}}{level.outcome}")
            continue
        scores = "  ".join(f"{s.name} {s.score:.3f}" for s in level.scores)
        tried = "+".join(level.stages_tried) or "-"
        lines.append(
            f";  {level.node!s:<{node_width}}{arrow:<28}{level.outcome:<11}"
            f"[{tried}]  {scores}  ({_fmt_us(level.elapsed_us)})"
        )
    lines += [
        "",
        f";; Query time: {_fmt_us(decision.elapsed_us)}",
        f";; ZONES: {len(tree)} names under {tree.apex}",
        f";; WHEN: {time.strftime('%a %b %d %H:%M:%S %Z %Y')}",
        "",
    ]
    return "\n".join(lines)


def _fmt_us(us: float) -> str:
    return f"{us:.0f} µs" if us < 1000 else f"{us / 1000:.2f} ms"


def _read_batch(source: str) -> Iterator[str]:
    handle = sys.stdin if source == "-" else Path(source).open(encoding="utf-8")  # noqa: SIM115
    try:
        for raw in handle:
            line = raw.strip()
            if line and not line.startswith("#"):
                yield line
    finally:
        if handle is not sys.stdin:
            handle.close()


def register(app: typer.Typer) -> None:
    """Add ``dig`` to ``app``."""

    @app.command("dig")
    def dig(
        query: str | None = typer.Argument(None, help="The query to resolve."),
        zone: list[Path] | None = typer.Option(  # noqa: B008
            None, "--zone", "-z", help="Zone file (repeatable); default: the shipped namespace."
        ),
        batch: str | None = typer.Option(
            None, "-f", "--file", help="Resolve one query a line from FILE ('-' for stdin)."
        ),
        as_json: bool = typer.Option(False, "--json", help="One JSON object a line."),
        no_cache: bool = typer.Option(False, "--no-cache", help="Bypass the decision cache."),
        server: str | None = typer.Option(
            None, "--server", "-s", help="Ask the remote resolver at URL (its /semdns/v1/query)."
        ),
        trace: bool = typer.Option(
            False, "--trace", help="With --server: follow the referrals from here, printing each hop."
        ),
        trust_key: str | None = typer.Option(
            None, "--trust-key", help="With --server: the server's public key; its answers must verify."
        ),
        within: str | None = typer.Option(
            None,
            "--within",
            help="With --server: resolve only below this name (a cached referral skips parents).",
        ),
    ) -> None:
        """Resolve queries to semantic names and show how (stage, scores, time per level)."""
        if query is None and batch is None:
            typer.echo("error: give a query, or -f FILE for batch mode", err=True)
            raise typer.Exit(2)
        if server is not None:
            from semdns.delegation.dig import run_remote

            remote_queries = [query] if query is not None else list(_read_batch(batch or "-"))
            code = run_remote(
                server, remote_queries, trace=trace, as_json=as_json, trust_key=trust_key, within=within
            )
            raise typer.Exit(code)
        if trace or trust_key or within:
            typer.echo("error: --trace, --trust-key and --within need --server URL", err=True)
            raise typer.Exit(2)
        tree = load_tree_or_exit(zone)
        from semdns.resolve import Resolver

        resolver = Resolver(tree)
        queries: list[str] = [query] if query is not None else []
        try:
            stream = _read_batch(batch) if batch is not None else iter(())
            for text in [*queries, *stream]:
                decision = resolver.resolve(text, use_cache=not no_cache)
                if as_json:
                    typer.echo(json.dumps(decision.to_json(), ensure_ascii=False))
                else:
                    typer.echo(format_decision(decision, tree))
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"error: cannot read {batch}: {unreadable(exc)}", err=True)
            raise typer.Exit(1) from None
        finally:
            resolver.close()
