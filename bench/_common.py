"""What every benchmark here shares: one percentile definition and one way to print its JSON.

The benchmarks are scripts (``python bench/NAME.py``), so this module is imported by its plain name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0–100) of ``values``; NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def emit(result: dict[str, Any], out: Path | None) -> None:
    """Print the result as indented JSON, and write the same text to ``out`` when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        out.write_text(text + "\n", encoding="utf-8")


def public_prompts(limit: int, seed: int = 0) -> list[str]:
    """Unique public prompts from every routing evaluation split (code, exams, word problems,
    trivia...), shuffled with a fixed seed: the traffic of the line-rate benchmarks."""
    import random

    texts: list[str] = []
    for path in sorted((Path(__file__).resolve().parent.parent / "corpora" / "routing").glob("*/eval.jsonl")):
        lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        texts += [json.loads(line)["query"] for line in lines]
    unique = list(dict.fromkeys(texts))
    random.Random(seed).shuffle(unique)
    return unique[:limit]
