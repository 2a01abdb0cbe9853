"""The ``paper-table`` preset: the specification's §9.1 scaling table, recomputed by the model.

The paper prints, for G = 8..64, "Traditional O(G)" messages (64, 256, 1024, 4096 = G²), "Hierarchical
O(log G)" messages (16, 32, 64, 128 = 2G), the reduction (1 − 2/G) and a "measured latency improvement"
(2.3x, 3.8x, 6.2x, 11.7x). This preset runs the simulator's all-to-all baseline, flat router and
hierarchy for G = 8..1024 and prints the model's figures beside the published ones, with a note whose
numbers are taken from the run (so changing a parameter changes the note too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from semdns.sim.config import SimConfig, TopologyKind, parse_config
from semdns.sim.runner import RunResult, simulate

PAPER_ENGINES = (8, 16, 32, 64, 128, 256, 512, 1024)
#: The paper's §9.1 table (only G = 8..64 are published).
PUBLISHED: dict[int, tuple[int, int, float, float]] = {
    8: (64, 16, 75.0, 2.3),
    16: (256, 32, 87.5, 3.8),
    32: (1024, 64, 93.75, 6.2),
    64: (4096, 128, 96.9, 11.7),
}
KINDS: tuple[TopologyKind, ...] = ("all_to_all", "flat", "hierarchical")


def paper_config(overrides: dict[str, Any] | None = None) -> SimConfig:
    """The preset's config: defaults, G = 8..1024, the three topologies; ``overrides`` merge on top."""
    base: dict[str, Any] = {
        "requests": {"count": 20_000, "rate_per_engine_s": 2.0},
        "topology": {"kinds": list(KINDS), "engines": list(PAPER_ENGINES), "branching": 4},
    }
    for key, val in (overrides or {}).items():
        if isinstance(val, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **val}
        else:
            base[key] = val
    return parse_config(base)


def run_paper(
    cfg: SimConfig, on_run: Callable[[RunResult], None] | None = None
) -> dict[int, dict[str, RunResult]]:
    table: dict[int, dict[str, RunResult]] = {}
    for g in cfg.topology.engines:
        for kind in KINDS:
            r = simulate(cfg, kind, g)
            table.setdefault(g, {})[kind] = r
            if on_run is not None:
                on_run(r)
    return table


def _f(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def render_markdown(cfg: SimConfig, table: dict[int, dict[str, RunResult]]) -> str:
    """The Markdown table and the note, every figure from ``table`` except the published columns."""
    b = cfg.topology.branching
    lines = [
        "# semdns simulate paper-table",
        "",
        f"Model: {cfg.requests.count:,} requests per run at {cfg.requests.rate_for(1):g} req/s per engine, "
        f"branching factor b = {b}, decision-cache TTL {cfg.resolver.cache_ttl_s:g} s, "
        f"{cfg.network.rack_size} engines per rack, accelerator {cfg.engines.accelerator}, seed {cfg.seed}. "
        "Messages are per query (path messages, see `semdns.sim.topology`); latency is routing latency "
        "(arrival to dispatch), p50.",
        "",
        "| G | paper traditional | model all-to-all | paper hierarchical | model hierarchical | "
        "model flat router | paper reduction | model reduction | paper latency gain | "
        "model routing p50 all-to-all / flat / hier. (ms) | model gain | model TTFT p99 flat / hier. (ms) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g, row in table.items():
        a, f, h = row["all_to_all"], row["flat"], row["hierarchical"]
        pub = PUBLISHED.get(g)
        red = 100.0 * (1.0 - h.messages_per_query / a.messages_per_query)
        gain = a.routing_p50_ms / h.routing_p50_ms if h.routing_p50_ms > 0 else float("nan")
        lines.append(
            f"| {g} | {pub[0] if pub else '-'} | {_f(a.messages_per_query)} | {pub[1] if pub else '-'} | "
            f"{_f(h.messages_per_query, 2)} | {_f(f.messages_per_query, 2)} | "
            f"{f'{pub[2]:g} %' if pub else '-'} | {red:.3f} % | {f'{pub[3]:g}x' if pub else '-'} | "
            f"{a.routing_p50_ms:.2f} / {f.routing_p50_ms:.2f} / {h.routing_p50_ms:.2f} | {gain:.2f}x | "
            f"{f.ttft_p99_ms:.0f} / {h.ttft_p99_ms:.0f} |"
        )
    gs = sorted(table)
    g_small, g_big = gs[0], gs[-1]
    h_small, h_big = table[g_small]["hierarchical"], table[g_big]["hierarchical"]
    a64 = table.get(64, table[g_big])
    gains = {
        g: row["all_to_all"].routing_p50_ms / row["hierarchical"].routing_p50_ms for g, row in table.items()
    }
    big_gain = [g for g, x in gains.items() if x >= 1.2]
    where = (
        f"it stays within {min(gains.values()):.2f}x–{max(gains.values()):.2f}x at every G"
        if not big_gain
        else f"it stays below 1.2x up to G = {max([g for g in gs if g < big_gain[0]], default=gs[0])} and "
        f"reaches {gains[g_big]:.1f}x at G = {g_big}"
    )
    f_big = table[g_big]["flat"]
    lines += [
        "",
        "## Note: where the paper's figures differ from the model, and why",
        "",
        f'- **The column headings do not match their numbers.** The paper\'s "Traditional O(G)" column is '
        'G² (64, 256, 1024, 4096) and its "Hierarchical O(log G)" column is 2G (16, 32, 64, 128), which '
        "grows linearly. In this model an all-to-all exchange per query costs 3 + G(G−1) messages "
        f"({_f(a64['all_to_all'].messages_per_query, 0)} at G = {a64['all_to_all'].engines}): quadratic, as "
        "the paper's §2.2 says, not O(G).",
        f"- **The hierarchy is O(log G) per query here, not 2G.** A query descends one referral per level "
        f"of a b = {b} tree, so its path costs depth + 3 messages, and a decision-cache hit "
        f"({100 * h_big.cache_hit_ratio:.0f} % of queries at G = {g_big}) costs 3. The mean grows from "
        f"{h_small.messages_per_query:.2f} at G = {g_small} to "
        f"{h_big.messages_per_query:.2f} at G = {g_big}. "
        "The model's reduction against all-to-all is therefore larger than the paper's 1 − 2/G.",
        "- **A flat router is the stronger baseline.** One global router with pushed load reports "
        "sends 3 messages per query, fewer than the hierarchy; what grows with G is its scoring work "
        "(G candidates per query) and its background load reports (G per interval: "
        f"{table[g_big]['flat'].background_messages_per_s:,.0f}/s at G = {g_big} vs "
        f"{h_big.background_messages_per_s:,.0f}/s for the hierarchy, which also reports up the tree). "
        "The paper's comparison against all-to-all overstates what hierarchy buys against a sensible "
        "centralised design.",
        '- **Latency gains are not reproduced.** The paper calls its 2.3x–11.7x gains "measured" but '
        "describes a simulation, and gives no formula. In this model routing latency is dominated by "
        "classification (the resolver stages), which every design pays, and the all-to-all round adds "
        f"only microseconds on rack-scale links: {where}. Where a gain appears it comes from the central "
        "router saturating (it runs every query's classification and scores all G engines on "
        f"{cfg.resolver.workers} workers; the flat router's p50 is {f_big.routing_p50_ms:.2f} ms at "
        f"G = {g_big}), not from messages, and it rests on an assumption that favours the hierarchy: "
        "the classification work is split over the resolvers on the path. Engine queueing, not "
        "routing, dominates time to first token.",
        "- **What the model leaves out**: link contention, tensor-parallel all-reduce cost, accuracy (the "
        "paper reports accuracy from a performance simulator, which cannot produce it).",
    ]
    return "\n".join(lines) + "\n"
