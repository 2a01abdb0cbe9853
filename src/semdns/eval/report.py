"""``--report DIR``: a self-contained HTML page with the figures of one evaluation.

The page must open anywhere, offline and years later, so it has no CDN, no script and no external
file: the PNG plots are embedded as base64 (and also written beside it, for slides and diffs). Plots
are drawn with matplotlib's object API (:class:`~matplotlib.figure.Figure`), never pyplot, so nothing
global (backend, open figures) changes in the calling process.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from semdns.eval.metrics import RATES, Evaluation
from semdns.names import Name


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _order(names: Sequence[Name]) -> list[Name]:
    return sorted(set(names), key=lambda n: tuple(reversed(n.labels)))


def confusion_plot(evaluation: Evaluation) -> bytes:
    """Expected (rows) against answered (columns), every name at its own (deepest) level."""
    labels = _order([s.item.expected for s in evaluation.scored] + [s.got for s in evaluation.scored])
    index = {name: i for i, name in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for s in evaluation.scored:
        matrix[index[s.item.expected], index[s.got]] += 1
    size = max(5.0, 0.38 * len(labels) + 2)
    fig = Figure(figsize=(size, size))
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    ticks = [str(n) for n in labels]
    ax.set_xticks(range(len(labels)), ticks, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), ticks, fontsize=8)
    ax.set_xlabel("answered")
    ax.set_ylabel("expected")
    ax.set_title("Confusion matrix")
    peak = matrix.max() if matrix.size else 0
    for (r, c), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if count > peak / 2 else "black"
            ax.text(c, r, str(count), ha="center", va="center", fontsize=7, color=colour)
    return _png(fig)


def reliability_plot(evaluation: Evaluation) -> bytes:
    """Accuracy per confidence bin against the diagonal of perfect calibration."""
    bins = evaluation.calibration.bins
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    centres = [(b.lo + b.hi) / 2 for b in bins]
    accuracy = [b.accuracy if b.accuracy is not None else 0.0 for b in bins]
    ax.bar(centres, accuracy, width=bins[0].hi - bins[0].lo, edgecolor="black", alpha=0.7, label="accuracy")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    for b, x in zip(bins, centres, strict=True):
        if b.count:
            ax.text(x, 0.02, str(b.count), ha="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("exact accuracy")
    ax.set_title(f"Reliability (ECE {evaluation.calibration.ece:.3f}; bar labels: decisions)")
    ax.legend(loc="upper left")
    return _png(fig)


def precision_recall_plot(evaluation: Evaluation) -> bytes:
    """Per-name precision and recall, side by side."""
    stats = evaluation.names
    fig = Figure(figsize=(7, max(3.0, 0.3 * len(stats) + 1.5)))
    ax = fig.add_subplot()
    y = np.arange(len(stats))
    ax.barh(y - 0.2, [s.precision or 0.0 for s in stats], height=0.4, label="precision")
    ax.barh(y + 0.2, [s.recall or 0.0 for s in stats], height=0.4, label="recall")
    ax.set_yticks(y, [str(s.name) for s in stats], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title("Per-name precision and recall")
    ax.legend(loc="lower right")
    return _png(fig)


PLOTS = {
    "confusion.png": ("Confusion matrix", confusion_plot),
    "reliability.png": ("Reliability diagram", reliability_plot),
    "precision_recall.png": ("Per-name precision and recall", precision_recall_plot),
}


def write_report(evaluation: Evaluation, directory: Path, *, meta: dict[str, Any]) -> Path:
    """Write ``index.html``, the PNGs and ``report.json`` into ``directory``; returns the page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    figures: list[str] = []
    for filename, (title, draw) in PLOTS.items():
        data = draw(evaluation)
        (directory / filename).write_bytes(data)
        encoded = base64.b64encode(data).decode("ascii")
        figures.append(
            f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{encoded}">'
            f"<figcaption>{html.escape(title)}</figcaption></figure>"
        )
    summary = evaluation.to_json()
    (directory / "report.json").write_text(json.dumps({**meta, **summary}, indent=2), encoding="utf-8")
    page = directory / "index.html"
    page.write_text(_page(evaluation, meta, figures), encoding="utf-8")
    return page


def _page(evaluation: Evaluation, meta: dict[str, Any], figures: list[str]) -> str:
    rows = "".join(
        f"<tr><td>{rate}</td><td>{evaluation.rates[rate]:.3f}</td>"
        f"<td>[{evaluation.ci95[rate][0]:.3f}, {evaluation.ci95[rate][1]:.3f}]</td></tr>"
        for rate in RATES
    )
    latency = "".join(
        f"<tr><td>{html.escape(s.stage)}</td><td>{s.count}</td><td>{s.share:.1%}</td><td>{s.exact:.1%}</td>"
        f"<td>{s.wrong:.1%}</td><td>{s.p50_us:.0f}</td><td>{s.p99_us:.0f}</td></tr>"
        for s in evaluation.latency
    )
    siblings = "".join(
        f"<tr><td>{s.parent}</td><td>{s.n}</td><td>{s.rate:.3f}</td>"
        f"<td>{html.escape(', '.join(f'{k} ({v})' for k, v in s.pairs.items()))}</td></tr>"
        for s in evaluation.siblings
    )
    described = html.escape(", ".join(f"{k}: {v}" for k, v in meta.items()))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>semdns routing evaluation</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
figure {{ display: inline-block; margin: 1em; vertical-align: top; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>semdns routing evaluation</h1>
<p>{described}; {evaluation.n} queries; intervals: 95% bootstrap.</p>
<h2>Rates</h2>
<table><tr><th>metric</th><th>value</th><th>95% CI</th></tr>{rows}
<tr><td>ECE</td><td>{evaluation.calibration.ece:.3f}</td>
<td>[{evaluation.calibration.ece_ci95[0]:.3f}, {evaluation.calibration.ece_ci95[1]:.3f}]</td></tr></table>
<h2>By deciding stage: what each pass settled, how well, how fast (µs)</h2>
<table><tr><th>stage</th><th>n</th><th>share</th><th>exact</th><th>wrong</th><th>p50</th><th>p99</th></tr>{latency}</table>
<h2>Sibling confusion</h2>
<table><tr><th>parent</th><th>n</th><th>rate</th><th>pairs</th></tr>{siblings}</table>
<h2>Figures</h2>
{"".join(figures)}
</body></html>
"""
