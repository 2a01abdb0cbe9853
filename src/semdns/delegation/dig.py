"""``semdns dig --server URL``: ask a remote resolver; ``--trace`` follows referrals from here.

The text output mirrors ``dig +trace``: one block per resolver asked (server, zone, referral or
answer, time, whether its signature verified), then the answer and the per-level trace across
resolvers. ``--json`` prints the local ``dig --json`` keys plus ``hops`` and ``degraded``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable

from semdns import __version__
from semdns.delegation.convert import dig_json
from semdns.delegation.stub import Mode, RemoteResolver
from semdns.errors import SemdnsError
from semdns.protocol.messages import Answer


def _ms(us: float) -> str:
    return f"{us / 1000:.2f} ms"


def format_remote(answer: Answer, query: str, *, elapsed_us: float, mode: Mode) -> str:
    """The dig-style text block of one remote resolution."""
    status = "DEGRADED" if answer.degraded else ("MULTI" if len(answer.names) > 1 else "NOERROR")
    lines = [
        f"; <<>> semdns dig {__version__} <<>> {'+trace ' if mode == 'iterative' else ''}{json.dumps(query)}",
        f";; status: {status}, answers: {len(answer.names)}, stage: {answer.stage}, "
        f"hops: {sum(1 for h in answer.hops if h.server not in ('cache', '-'))}"
        + (", stale" if answer.stale else ""),
        "",
    ]
    for hop in answer.hops:
        if hop.kind == "referral":
            what = "referral to " + ", ".join(hop.referred)
        elif hop.kind == "error" and hop.error is not None:
            what = f"ERROR {hop.error.code}: {hop.error.message}"
        else:
            what = hop.kind
        signed = "signature verified" if hop.verified else "unsigned"
        lines.append(f"{hop.zone:<14}{what}")
        lines.append(f";; Received from {hop.server} ({hop.zone}) in {_ms(hop.elapsed_us)}, {signed}")
        lines.append("")
    lines.append(";; ANSWER SECTION:")
    width = max((len(n.name) for n in answer.names), default=1) + 2
    for name in answer.names:
        conf = f"CONF {name.confidence:.3f}"
        lines.append(f"{name.name:<{width}}{answer.ttl:<7}IN  {conf}  zone {name.zone}  {name.dn or '-'}")
    lines += ["", ";; TRACE SECTION:"]
    node_width = max((len(t.node) for t in answer.trace), default=1) + 2
    for level in answer.trace:
        chosen = ", ".join(level.chosen) or "-"
        scores = "  ".join(f"{s.name} {s.score:.3f}" for s in level.scores)
        where = level.server or "-"
        lines.append(f";  {level.node:<{node_width}}{level.outcome:<10} -> {chosen:<24} @{where}  {scores}")
    if answer.errors:
        lines += ["", ";; ERRORS:"] + [f";  {e.code}: {e.message}" for e in answer.errors]
    lines += [
        "",
        f";; Query time: {_ms(elapsed_us)}",
        f";; WHEN: {time.strftime('%a %b %d %H:%M:%S %Z %Y')}",
        "",
    ]
    return "\n".join(lines)


async def _run(
    server: str,
    queries: Iterable[str],
    *,
    mode: Mode,
    as_json: bool,
    trust_key: str | None,
    within: str | None,
    timeout_s: float,
) -> int:
    remote = RemoteResolver(server, trust_key=trust_key, deadline_s=timeout_s)
    worst = 0
    try:
        for text in queries:
            started = time.perf_counter()
            answer = await remote.resolve(text, mode=mode, within=within)
            elapsed = (time.perf_counter() - started) * 1e6
            if as_json:
                print(json.dumps(dig_json(answer, text, elapsed_us=elapsed), ensure_ascii=False))
            else:
                print(format_remote(answer, text, elapsed_us=elapsed, mode=mode))
            if not answer.names or (answer.errors and answer.names[0].confidence == 0.0):
                worst = 1
    finally:
        await remote.aclose()
    return worst


def run_remote(
    server: str,
    queries: Iterable[str],
    *,
    trace: bool,
    as_json: bool,
    trust_key: str | None = None,
    within: str | None = None,
    timeout_s: float = 10.0,
) -> int:
    """Resolve ``queries`` against ``server``; the exit status (1 when a resolver could not be asked)."""
    mode: Mode = "iterative" if trace else "recursive"
    try:
        return asyncio.run(
            _run(
                server,
                queries,
                mode=mode,
                as_json=as_json,
                trust_key=trust_key,
                within=within,
                timeout_s=timeout_s,
            )
        )
    except SemdnsError as exc:
        print(f"error: {exc}", flush=True)
        return 1
