"""Writing results: one CSV row and one JSON object per run, and PNG plots of messages and latency vs G."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from semdns.sim.config import SimConfig
from semdns.sim.runner import RunResult


def write_results(results: Sequence[RunResult], out: Path, cfg: SimConfig | None = None) -> list[Path]:
    """Write ``results.csv`` and ``results.json`` (with the config that produced them) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [r.as_dict() for r in results]
    csv_path, json_path = out / "results.csv", out / "results.json"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        if rows:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    doc = {"config": cfg.model_dump(mode="json") if cfg else None, "runs": rows}
    json_path.write_text(json.dumps(doc, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    return [csv_path, json_path]


def write_plots(results: Sequence[RunResult], out: Path) -> list[Path]:
    """Messages per query vs G (log-log) and routing/TTFT latency vs G, one line per topology."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    kinds = list(dict.fromkeys(r.topology for r in results))
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for k in kinds:
        rs = [r for r in results if r.topology == k]
        ax.plot([r.engines for r in rs], [r.messages_per_query for r in rs], marker="o", label=k)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("engines G")
    ax.set_ylabel("messages per query")
    ax.set_title("Messages per query vs G")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    p = out / "messages_vs_G.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(p)

    fig, ax = plt.subplots(figsize=(6, 4))
    for k in kinds:
        rs = [r for r in results if r.topology == k]
        g = [r.engines for r in rs]
        line = ax.plot(g, [r.routing_p50_ms for r in rs], marker="o", label=f"{k} routing p50")
        ax.plot(g, [r.routing_p99_ms for r in rs], ls="--", color=line[0].get_color(), label=f"{k} p99")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("engines G")
    ax.set_ylabel("routing latency (ms)")
    ax.set_title("Routing latency vs G")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    p = out / "latency_vs_G.png"
    fig.savefig(p, dpi=120)
    plt.close(fig)
    paths.append(p)
    return paths
