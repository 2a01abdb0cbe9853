"""A query whose text travels as a CCP ``words`` context: an authority whose zone file names a word
model serves it to peers, decodes such a query and answers it; an oversized one is refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import msgspec

from conftest import EXAMPLE, Cluster
from semdns.compress.dictionaries import save, train_zone_words
from semdns.protocol.ccp import DictionaryStore, ZoneDictionary, compress_context, decompress_context
from semdns.protocol.codec import MSGPACK_TYPE, decode, encode
from semdns.protocol.messages import Answer, Envelope, Query
from semdns.protocol.words import MAX_WORDS_CONTEXT_BYTES
from semdns.resolve import Resolver
from semdns.zone import load_zone_files

REPO = Path(__file__).resolve().parents[2]
WORDS_URL = "http://127.0.0.1:18949"
QUESTION = "Can my landlord keep the whole deposit for a small scratch on the wall?"


def _words_zone(tmp_path: Path) -> tuple[Path, ZoneDictionary]:
    """The example's legal zone, with a word model trained on public questions named in it."""
    samples = [
        json.loads(line)["query"]
        for line in (REPO / "corpora/routing/triviaqa/train.jsonl").read_text(encoding="utf-8").split("\n")
        if line
    ][:500]
    saved = save(train_zone_words("legal.", samples, version=1), tmp_path, samples=500, sources=["t"])
    text = (EXAMPLE / "legal.yaml").read_text(encoding="utf-8")
    text = text.replace("signing_key: keys/legal.key", f"signing_key: {EXAMPLE / 'keys' / 'legal.key'}")
    text = text.replace("ttl: 3600\n", f"ttl: 3600\ncompress:\n  words: {saved.path.name}\n", 1)
    zone = tmp_path / "legal.yaml"
    zone.write_text(text, encoding="utf-8")
    return zone, saved.dictionary


def _ask(cluster: Cluster, query: Query) -> tuple[int, Answer]:
    async def go() -> httpx.Response:
        async with cluster.client() as client:
            response = await client.post(
                WORDS_URL + "/semdns/v1/query",
                content=encode(query, "msgpack"),
                headers={"content-type": MSGPACK_TYPE},
            )
            await response.aread()
            return response

    response = asyncio.run(go())
    envelope = decode(response.content, Envelope, "msgpack")
    return response.status_code, decode(bytes(envelope.payload), Answer, "msgpack")


def test_an_authority_serves_its_word_model_and_answers_a_words_query(
    cluster: Cluster, example_resolvers: dict[str, Resolver], tmp_path: Path
) -> None:
    zone, words = _words_zone(tmp_path)
    cluster.serve(WORDS_URL, load_zone_files([zone]), example_resolvers["legal"])

    async def fetch() -> httpx.Response:
        async with cluster.client() as client:
            return await client.get(WORDS_URL + f"/semdns/v1/dictionaries/{words.id}")

    served = asyncio.run(fetch())
    assert served.status_code == 200 and served.content == words.data
    # A peer that fetched it codes the question with it; the authority decodes and resolves.
    context = compress_context(QUESTION, dictionary=ZoneDictionary(words.id, served.content))
    assert context.algorithm == "words" and decompress_context(context, DictionaryStore([words])) == QUESTION
    status, answer = _ask(cluster, Query(id="q-words", zone="legal.", text_compressed=context))
    assert status == 200 and not answer.errors, answer.errors
    plain_status, plain = _ask(cluster, Query(id="q-plain", zone="legal.", text=QUESTION))
    assert plain_status == 200 and [n.name for n in answer.names] == [n.name for n in plain.names]
    # Declaring more than a words context may hold is refused before anything is decoded.
    inflated = msgspec.structs.replace(context, original_size=MAX_WORDS_CONTEXT_BYTES + 1)
    status, refused = _ask(cluster, Query(id="q-big", zone="legal.", text_compressed=inflated))
    assert status == 413 and refused.errors[0].code == "message_too_large"
