"""Protocol and delegation benchmark: prints one JSON object.

    python bench/protocol.py [--queries N]

1. ``codec``: encode+decode microseconds and bytes per message, MessagePack vs JSON (median of 7
   runs of a few thousand iterations each).
2. ``signing``: Ed25519 sign and verify microseconds.
3. ``delegation``: the example's three resolvers (examples/delegation) served by uvicorn on loopback
   sockets in this process. Latency of one resolver holding every zone (in-process, no HTTP) vs
   iterative and recursive resolution through the root, on keyword-decided queries (no embedding, so
   the difference is the hops); the added time per hop; embedding reused vs recomputed at the child;
   hops once a referral is cached; and the agreement with the single resolver on the labelled set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "src"))

from semdns.delegation.client import PeerClient  # noqa: E402
from semdns.delegation.convert import embedding_message  # noqa: E402
from semdns.delegation.follower import Follower  # noqa: E402
from semdns.delegation.server import build_authority, create_protocol_app  # noqa: E402
from semdns.delegation.stub import RemoteResolver  # noqa: E402
from semdns.eval.routing import load_labelled  # noqa: E402
from semdns.protocol import codec  # noqa: E402
from semdns.protocol.ccp import compress_context  # noqa: E402
from semdns.protocol.messages import (  # noqa: E402
    AggregatedResult,
    Answer,
    Envelope,
    PartialResult,
    Query,
)
from semdns.protocol.signing import ZoneKey  # noqa: E402
from semdns.protocol.vectors import valid_messages  # noqa: E402
from semdns.resolve import MiniLMEncoder, Resolver  # noqa: E402
from semdns.testing.servers import serve_app  # noqa: E402
from semdns.zone import load_default_tree, load_zone_files  # noqa: E402

EXAMPLE = REPO / "examples" / "delegation"
KEYWORD_LEGAL = [
    "Can my landlord keep my security deposit for normal wear and tear?",
    "How do I register a trademark for my bakery's name?",
    "the other driver sued me after the accident, what happens at the deposition",
    "Is a non-compete clause in my employment contract enforceable?",
]


def _median_us(fn: Callable[[], object], iterations: int) -> float:
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(iterations):
            fn()
        runs.append((time.perf_counter() - start) / iterations * 1e6)
    return statistics.median(runs)


def codec_figures(encoder: MiniLMEncoder) -> dict[str, Any]:
    vector = encoder.encode(["Can my landlord keep my security deposit for normal wear and tear?"])[0]
    typical = Query(
        id=uuid.uuid4().hex,
        text="Can my landlord keep my security deposit for normal wear and tear?",
        embedding=embedding_message(vector, encoder),
        zone="legal.",
        start_confidence=0.86,
        trace_id="trace-1",
        hops=1,
    )
    key = ZoneKey.generate()
    answer = valid_messages()["answer"]
    payload = codec.encode(answer)
    messages: dict[str, msgspec.Struct] = {
        "query_typical (text + 384-d embedding)": typical,
        "query_text_only": Query(id=uuid.uuid4().hex, text=typical.text, zone="legal."),
        "answer": answer,
        "answer_referral": valid_messages()["answer-referral"],
        "envelope_signed": Envelope(zone="legal.", payload=msgspec.Raw(payload), sig=key.sign(payload)),
        "compressed_context_4KiB": compress_context(
            ("User: my lease says... Assistant: In most states " * 90)[:4096]
        ),
        "aggregated_result": AggregatedResult(
            id="q", results=[PartialResult(name="legal.", content="x" * 400, confidence=0.8)] * 2
        ),
    }
    out: dict[str, Any] = {}
    for name, message in messages.items():
        row: dict[str, Any] = {}
        cls = type(message)
        for form in ("msgpack", "json"):
            if isinstance(message, Envelope):  # the payload is always in the envelope's own form
                inner = codec.encode(answer, form)  # type: ignore[arg-type]
                message = Envelope(zone="legal.", payload=msgspec.Raw(inner), sig=key.sign(inner))
            data = codec.encode(message, form)  # type: ignore[arg-type]
            row[form] = {
                "bytes": len(data),
                "encode_decode_us": round(
                    _median_us(lambda m=message, f=form, c=cls: codec.decode(codec.encode(m, f), c, f), 2000),
                    2,
                ),
            }
        out[name] = row
    data = codec.encode(payload)
    sig = key.sign(payload)
    public = key.private.public_key()
    out["signing"] = {
        "sign_us": round(_median_us(lambda: key.sign(payload), 500), 1),
        "verify_us": round(_median_us(lambda: public.verify(sig, b"semdns-answer-v1\x00" + payload), 500), 1),
        "payload_bytes": len(data),
    }
    return out


async def delegation_figures(encoder: MiniLMEncoder, limit: int | None) -> dict[str, Any]:
    trees = {stem: load_zone_files([EXAMPLE / f"{stem}.yaml"]) for stem in ("root", "legal", "code")}
    # Decision caches off: every query below runs the whole descent on every resolver.
    resolvers = {stem: Resolver(tree, encoder, cache_size=0) for stem, tree in trees.items()}
    single = Resolver(load_default_tree(), encoder)
    # Start the children first: the root's zone must point at their real ports, so it is rendered
    # with them (the same generator as the committed example).
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", EXAMPLE / "generate.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)

    from contextlib import AsyncExitStack

    shared_peers = PeerClient()  # the default transport (one pooled aiohttp session)

    async with AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        authorities = {}
        for stem in ("legal", "code"):
            # bind first to learn the port, then tell the authority its URL
            authority = build_authority(trees[stem], resolvers[stem], server_url="http://placeholder")
            server = await stack.enter_async_context(serve_app(create_protocol_app(authority)))
            authority.server = server.url
            urls[stem] = server.url
            authorities[stem] = authority
        ports = {
            ".": 18940,
            "legal.": int(urls["legal"].rsplit(":", 1)[1]),
            "code.": int(urls["code"].rsplit(":", 1)[1]),
        }
        folder = Path(__import__("tempfile").mkdtemp())
        (folder / "keys").symlink_to(EXAMPLE / "keys")
        (folder / "root.yaml").write_text(gen.render(ports)["root.yaml"])
        root_tree = load_zone_files([folder / "root.yaml"])
        root_resolver = Resolver(root_tree, encoder, cache_size=0)
        root_auth = build_authority(root_tree, root_resolver, server_url="http://placeholder")
        root_auth.follower = Follower(shared_peers, cache_size=0)  # recursive: always ask
        root_server = await stack.enter_async_context(serve_app(create_protocol_app(root_auth)))
        root_auth.server = root_server.url
        authorities["root"] = root_auth

        async def timed(client: RemoteResolver, text: str, mode: str) -> tuple[float, Answer]:
            start = time.perf_counter()
            answer = await client.resolve(text, mode=mode)  # type: ignore[arg-type]
            return (time.perf_counter() - start) * 1e6, answer

        def fresh_client(**kwargs: Any) -> RemoteResolver:
            return RemoteResolver(root_server.url, zone=".", **kwargs)

        # warm everything (connections, thread pools, decision caches stay off for the timing below)
        warm = fresh_client()
        for text in KEYWORD_LEGAL:
            await warm.resolve(text, mode="iterative")
            await warm.resolve(text, mode="recursive")
        await warm.aclose()

        rounds = 40
        local_us, iter_us, rec_us, hops_iter, hops_rec = [], [], [], [], []
        for i in range(rounds):
            text = KEYWORD_LEGAL[i % len(KEYWORD_LEGAL)]
            start = time.perf_counter()
            single.resolve(text, use_cache=False)
            local_us.append((time.perf_counter() - start) * 1e6)
            client = fresh_client(peers=shared_peers)
            t, a = await timed(client, text, "iterative")
            iter_us.append(t)
            hops_iter.append(sum(1 for h in a.hops if h.server != "cache"))
            client = fresh_client(peers=shared_peers)
            t, a = await timed(client, text, "recursive")
            rec_us.append(t)
            hops_rec.append(sum(1 for h in a.hops if h.server != "cache"))
        local = statistics.median(local_us)
        iterative = statistics.median(iter_us)
        recursive = statistics.median(rec_us)
        # One query to one resolver over HTTP (no delegation) = the base cost of asking at all.
        direct_us = []
        for i in range(rounds):
            direct = RemoteResolver(urls["legal"], zone="legal.", peers=shared_peers)
            t, _ = await timed(direct, KEYWORD_LEGAL[i % len(KEYWORD_LEGAL)], "iterative")
            direct_us.append(t)
        one_hop = statistics.median(direct_us)

        # Embedding reused vs recomputed at the child: a query the classifier decides at legal.
        hard = "I think the deal I made with the guy renovating my kitchen was unfair, can I back out?"
        vector = encoder.encode([hard])[0]
        peers = shared_peers
        reused, recomputed = [], []
        for _ in range(rounds):
            for carry, bucket in ((True, reused), (False, recomputed)):
                query = Query(
                    id=uuid.uuid4().hex,
                    text=hard,
                    zone="legal.",
                    start_confidence=0.9,
                    embedding=embedding_message(vector, encoder) if carry else None,
                )
                start = time.perf_counter()
                await peers.ask(urls["legal"], query, 10.0)
                bucket.append((time.perf_counter() - start) * 1e6)

        # Hops once a referral is cached: a query constrained to legal. goes straight to the child.
        cached_client = fresh_client(peers=shared_peers)
        before = root_auth.counts["queries"]
        await cached_client.resolve(KEYWORD_LEGAL[0], mode="iterative")
        after_first = root_auth.counts["queries"]
        extra = []
        for text in KEYWORD_LEGAL[1:]:
            answer = await cached_client.resolve(text, mode="iterative", within="legal.")
            extra.append(sum(1 for h in answer.hops if h.server != "cache") - 1)
        parent_asked = [after_first - before, root_auth.counts["queries"] - after_first]

        # Agreement on the labelled set
        items = load_labelled(
            sorted(p for p in (REPO / "bench" / "data" / "queries").glob("*.yaml") if p.name != "multi.yaml")
        )
        if limit:
            items = items[:limit]
        texts = [i.text for i in items]
        expected = [tuple(str(n) for n in single.resolve(t, use_cache=False).names) for t in texts]
        agreement = {}
        for mode in ("iterative", "recursive"):
            client = fresh_client(peers=shared_peers)
            got = []
            for t in texts:
                answer = await client.resolve(t, mode=mode)  # type: ignore[arg-type]
                got.append(tuple(n.name for n in answer.names))
            agreement[mode] = round(sum(g == e for g, e in zip(got, expected, strict=True)) / len(texts), 4)
        return {
            "device": "CPU, uvicorn on 127.0.0.1 sockets in one process",
            "queries_timed": rounds,
            "local_single_resolver_us": round(local, 1),
            "one_resolver_over_http_us": round(one_hop, 1),
            "iterative_us": round(iterative, 1),
            "recursive_us": round(recursive, 1),
            "hops_iterative": statistics.median(hops_iter),
            "hops_recursive": statistics.median(hops_rec),
            # (delegated - one resolver asked over HTTP) / (hops - 1): what each extra hop adds
            "added_per_hop_iterative_us": round(
                (iterative - one_hop) / (statistics.median(hops_iter) - 1), 1
            ),
            "added_per_hop_recursive_us": round((recursive - one_hop) / (statistics.median(hops_rec) - 1), 1),
            "child_embedding_reused_us": round(statistics.median(reused), 1),
            "child_embedding_recomputed_us": round(statistics.median(recomputed), 1),
            "parent_queries_first_then_cached": parent_asked,
            "extra_hops_once_referral_cached": max(extra),
            "agreement_with_single_resolver": agreement,
            "labelled_queries": len(texts),
        }


stack_client: Any = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=None, help="limit the labelled queries")
    args = parser.parse_args()
    encoder = MiniLMEncoder()
    encoder.encode(["warm-up"])
    result: dict[str, Any] = {"codec": codec_figures(encoder)}

    async def run() -> dict[str, Any]:
        import httpx

        global stack_client
        async with httpx.AsyncClient(trust_env=False) as client:
            stack_client = client
            return await delegation_figures(encoder, args.queries)

    result["delegation"] = asyncio.run(run())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
