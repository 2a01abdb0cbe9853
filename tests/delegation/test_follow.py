"""Delegation end to end, in process: referrals, recursion, caches, stale, cycles, forged answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np
import pytest

from conftest import CODE_URL, LEGAL_URL, ROOT_URL, Cluster, CountingEncoder, CountingShallow
from semdns.delegation.stub import RemoteResolver
from semdns.names import Name
from semdns.protocol.codec import JSON_TYPE, MSGPACK_TYPE, decode, encode
from semdns.protocol.messages import Answer, Embedding, Envelope, Query
from semdns.protocol.signing import ZoneKey
from semdns.resolve import Resolver
from semdns.resolve.encoder import MiniLMEncoder
from semdns.zone import load_default_tree, load_zone_files

LEGAL_Q = "Can my landlord keep my security deposit for normal wear and tear?"
CODE_Q = "why does my python list comprehension raise a TypeError"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def remote(cluster: Cluster, **kwargs: object) -> RemoteResolver:
    return RemoteResolver(ROOT_URL, zone=".", peers=cluster.peers(), **kwargs)  # type: ignore[arg-type]


def resolve_once(cluster: Cluster, query: str, **options: Any) -> Answer:
    """One query through a fresh client against the root, closed afterwards."""

    async def go() -> Answer:
        client = remote(cluster)
        try:
            return await client.resolve(query, **options)
        finally:
            await client.aclose()

    return run(go())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def single(encoder: MiniLMEncoder) -> Resolver:
    return Resolver(load_default_tree(), encoder)


QUERIES = [
    LEGAL_Q,
    CODE_Q,
    "what is a good treatment for migraine",
    "How do I register a trademark for my bakery's name?",
    "my rust borrow checker error: cannot borrow as mutable",
    "Tell me a fun fact about octopuses",
    "the other driver sued me after the accident, what happens at the deposition",
    "How do I review a pull request well?",
]


@pytest.mark.parametrize("mode", ["iterative", "recursive"])
def test_delegated_resolution_matches_one_resolver_holding_every_zone(
    cluster: Cluster, single: Resolver, mode: str
) -> None:
    async def go() -> list[tuple[str, ...]]:
        client = remote(cluster)
        try:
            return [tuple(n.name for n in (await client.resolve(q, mode=mode)).names) for q in QUERIES]  # type: ignore[arg-type]
        finally:
            await client.aclose()

    got = run(go())
    expected = [tuple(str(n) for n in single.resolve(q, use_cache=False).names) for q in QUERIES]
    assert got == expected
    assert any(names[0].endswith("legal.") and names[0] != "legal." for names in got)


def test_iterative_trace_shows_each_hop_and_signatures_verify(cluster: Cluster) -> None:
    answer = resolve_once(cluster, LEGAL_Q, mode="iterative")
    assert [(h.server, h.zone, h.kind) for h in answer.hops] == [
        (ROOT_URL, ".", "referral"),
        (LEGAL_URL, "legal.", "answer"),
    ]
    assert answer.hops[0].referred == ["legal."]
    assert answer.hops[1].verified
    assert [t.outcome for t in answer.trace if t.server == ROOT_URL][-1] == "delegated"
    assert {t.server for t in answer.trace} == {ROOT_URL, LEGAL_URL}
    assert not answer.degraded


def test_recursive_mode_returns_the_chain_from_the_root(cluster: Cluster) -> None:
    answer = resolve_once(cluster, CODE_Q, mode="recursive")
    assert answer.names[0].name.endswith("code.")
    assert [(h.server, h.kind) for h in answer.hops] == [(ROOT_URL, "answer"), (CODE_URL, "answer")]
    assert cluster.authorities[ROOT_URL].counts["recursive"] == 1
    assert cluster.authorities[CODE_URL].counts["iterative"] == 0


VAGUE_LEGAL = [
    "I think the deal I made with the guy renovating my kitchen was unfair, can I back out?",
    "Is it okay that my landlord kept the deposit because of some scuffs on the wall?",
    "My neighbour says the fence is on his side, who decides that?",
    "Can my boss make me sign something saying I won't work for a competitor?",
    "Can they do that to me?",
]


def test_child_reuses_the_parents_embedding(cluster: Cluster, single: Resolver) -> None:
    # A prompt neither keywords nor the lexical pass settle at the root, so the root embeds it; the
    # child must not embed it again.
    query = next(
        (
            q
            for q in VAGUE_LEGAL
            if (d := single.resolve(q, use_cache=False)).trace[0].outcome in ("embedding", "classifier")
            and d.names[0].is_under(Name.parse("legal."))
        ),
        None,
    )
    assert query is not None, "no prompt left the root to the transformer: pick vaguer ones"
    legal_encoder = cluster.authorities[LEGAL_URL].resolver.encoder
    assert isinstance(legal_encoder, CountingEncoder)
    before = legal_encoder.texts

    answer = resolve_once(cluster, query, mode="recursive")
    assert answer.stage in ("embedding", "classifier")
    assert answer.names[0].name.endswith("legal.")
    assert legal_encoder.texts == before


def test_child_reuses_the_parents_shallow_vector(cluster: Cluster, single: Resolver) -> None:
    # A prompt the root settles with the shallow pass (the first layers only) and whose descent below
    # legal. asks the shallow pass again: the child reads the carried vector, it does not run them.
    query = next(
        (
            q
            for q in VAGUE_LEGAL
            if (d := single.resolve(q, use_cache=False)).trace[0].outcome == "shallow"
            and d.names[0].is_under(Name.parse("legal."))
        ),
        None,
    )
    assert query is not None, "no prompt was settled at the root by the shallow pass"
    legal = cluster.authorities[LEGAL_URL].resolver
    assert isinstance(legal.shallow, CountingShallow)
    before = legal.shallow.texts

    answer = resolve_once(cluster, query, mode="recursive")
    assert answer.names[0].name.endswith("legal.")
    assert any(t.server == LEGAL_URL and "shallow" in t.stages for t in answer.trace)
    assert legal.shallow.texts == before


def test_a_carried_shallow_vector_the_child_cannot_use_is_ignored(cluster: Cluster) -> None:
    # Another model's vector, one cut short and one with a NaN: the child runs the layers itself and
    # answers as it would without them; nothing fails.
    authority = cluster.authorities[LEGAL_URL]
    shallow = authority.resolver.shallow
    assert isinstance(shallow, CountingShallow)
    texts = [f"Is a verbal promise to lend my car to {who} enforceable?" for who in ("Ann", "Bo", "Cy")]
    good = shallow.inner.encode(["Is a verbal promise to lend my car enforceable?"])[0]
    unusable = [
        Embedding(model="another-model/layers3", dim=shallow.dim, data=good.astype("<f4").tobytes()),
        Embedding(model=shallow.model_id, dim=shallow.dim, data=good.astype("<f4").tobytes()[:-4]),
        Embedding(
            model=shallow.model_id,
            dim=shallow.dim,
            data=np.where(np.arange(shallow.dim) == 0, np.nan, good).astype("<f4").tobytes(),
        ),
    ]
    for index, (text, carried) in enumerate(zip(texts, unusable, strict=True)):
        expected = authority.resolver.resolve(text, use_cache=False)
        before = shallow.texts
        answer, status = run(
            authority.answer(Query(id=f"q-{index}", text=text, zone="legal.", shallow_embedding=carried))
        )
        assert status == 200 and not answer.errors
        assert [n.name for n in answer.names] == [str(n) for n in expected.names]
        assert shallow.texts == before + 1  # embedded here, the carried vector unused


def test_cached_referral_skips_the_parent(cluster: Cluster) -> None:
    root = cluster.authorities[ROOT_URL]

    async def go() -> list[Answer]:
        client = remote(cluster)
        try:
            first = await client.resolve(LEGAL_Q, mode="iterative")
            again = await client.resolve(LEGAL_Q, mode="iterative")
            other = await client.resolve(
                "Who owns the copyright on a photo I took?", mode="iterative", within="legal."
            )
            return [first, again, other]
        finally:
            await client.aclose()

    _, again, other = run(go())
    assert root.counts["queries"] == 1, "the parent is asked once; later queries use the cached referral"
    assert [h.kind for h in again.hops] == ["cached", "cached"]
    assert [(h.server, h.zone) for h in other.hops] == [(LEGAL_URL, "legal.")]
    assert other.names[0].name.endswith("legal.")
    assert cluster.authorities[LEGAL_URL].counts["queries"] == 2


def test_child_down_stops_at_the_delegation_flagged_degraded(cluster: Cluster) -> None:
    cluster.router.remove(LEGAL_URL)

    for mode in ("iterative", "recursive"):
        answer = resolve_once(cluster, LEGAL_Q, mode=mode)
        assert [n.name for n in answer.names] == ["legal."]
        assert answer.degraded
        assert answer.errors[0].code == "peer_unavailable"
        assert LEGAL_URL in answer.errors[0].message


def test_stale_answer_served_within_its_bound_and_not_after(cluster: Cluster) -> None:
    clock = Clock()

    async def go() -> list[Answer]:
        client = remote(cluster, clock=clock, max_stale_s=600.0)
        try:
            fresh = await client.resolve(LEGAL_Q, mode="iterative")
            cluster.router.remove(LEGAL_URL)
            clock.now += 300 + 1  # the referral's TTL (300 s) has passed: expired, within the bound
            stale = await client.resolve(LEGAL_Q, mode="iterative")
            clock.now += 600  # now past TTL + max_stale
            gone = await client.resolve(LEGAL_Q, mode="iterative")
            return [fresh, stale, gone]
        finally:
            await client.aclose()

    fresh, stale, gone = run(go())
    assert fresh.names[0].name == "contracts.legal."
    assert stale.names[0].name == "contracts.legal." and stale.stale and not stale.degraded
    assert [h.kind for h in stale.hops][-1] == "stale"
    assert [n.name for n in gone.names] == ["legal."] and gone.degraded and not gone.stale


def _zone(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_forged_signature_is_rejected(cluster: Cluster, tmp_path: Path, encoder: MiniLMEncoder) -> None:
    # A root whose delegation says legal.'s key is K, while the server at legal.'s address signs with
    # another key: an impostor answering in legal.'s name.
    real = (Path(__file__).parent.parent.parent / "examples" / "delegation" / "root.yaml").read_text()
    wrong = ZoneKey.generate().public_text
    lines = real.splitlines()
    start = lines.index("  legal.:")
    key_line = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("public_key:"))
    lines[key_line] = lines[key_line].split("public_key:")[0] + f"public_key: {wrong}"
    (tmp_path / "keys").symlink_to(Path(__file__).parent.parent.parent / "examples" / "delegation" / "keys")
    tree = load_zone_files([_zone(tmp_path / "root.yaml", "\n".join(lines) + "\n")])
    forged_root = "http://127.0.0.1:18950"
    cluster.serve(forged_root, tree, Resolver(tree, encoder))

    async def go() -> Answer:
        client = RemoteResolver(forged_root, zone=".", peers=cluster.peers())
        try:
            return await client.resolve(LEGAL_Q, mode="iterative")
        finally:
            await client.aclose()

    answer = run(go())
    assert [n.name for n in answer.names] == ["legal."]
    assert answer.degraded
    assert answer.errors[0].code == "bad_signature"
    assert "forged or tampered" in answer.errors[0].message


def test_tampered_reply_is_rejected(cluster: Cluster) -> None:
    """A man in the middle rewrites the child's answer; the signature no longer verifies."""

    class Tamper(httpx.AsyncBaseTransport):
        def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            if request.url.port != 18941:
                return response
            body = await response.aread()
            envelope = decode(body, Envelope)
            answer = decode(bytes(envelope.payload), Answer)
            evil = msgspec.structs.replace(
                answer, names=[msgspec.structs.replace(answer.names[0], name="ip.legal.")]
            )
            forged = msgspec.structs.replace(envelope, payload=msgspec.Raw(encode(evil)))
            return httpx.Response(response.status_code, headers=response.headers, content=encode(forged))

    from semdns.delegation.client import PeerClient

    async def go() -> Answer:
        peers = PeerClient(httpx.AsyncClient(transport=Tamper(cluster.router)))
        client = RemoteResolver(ROOT_URL, zone=".", peers=peers)
        try:
            return await client.resolve(LEGAL_Q, mode="iterative")
        finally:
            await client.aclose()

    answer = run(go())
    assert [n.name for n in answer.names] == ["legal."]
    assert answer.errors[0].code == "bad_signature"


LOOP_ZONE = """\
origin: legal.
nodes:
  "@":
    description: legal questions
    examples: [is this legal]
    delegation:
      servers: [{target}]
      ttl: 60
"""


@pytest.mark.parametrize("mode", ["iterative", "recursive"])
def test_delegation_cycle_is_caught_and_named(
    cluster: Cluster, tmp_path: Path, encoder: MiniLMEncoder, mode: str
) -> None:
    a_url, b_url = "http://127.0.0.1:18960", "http://127.0.0.1:18961"
    for url, target in ((a_url, b_url), (b_url, a_url)):
        tree = load_zone_files([_zone(tmp_path / f"{url[-5:]}.yaml", LOOP_ZONE.format(target=target))])
        cluster.serve(url, tree, Resolver(tree, encoder))

    async def go() -> Answer:
        client = RemoteResolver(a_url, zone="legal.", peers=cluster.peers())
        try:
            return await client.resolve("is it legal to break a lease", mode=mode)  # type: ignore[arg-type]
        finally:
            await client.aclose()

    answer = run(go())
    assert [n.name for n in answer.names] == ["legal."]
    assert answer.degraded
    loop = next(e for e in answer.errors if e.code == "delegation_loop")
    assert a_url in loop.message and b_url in loop.message and "cycle" in loop.message


def test_hop_limit(cluster: Cluster) -> None:
    answer = resolve_once(cluster, LEGAL_Q, mode="iterative", hop_limit=1)
    assert answer.degraded and answer.errors[0].code == "hop_limit_exceeded"
    assert [n.name for n in answer.names] == ["legal."]


def test_max_depth_constraint(cluster: Cluster) -> None:
    answer = resolve_once(cluster, LEGAL_Q, mode="recursive", max_depth=1)
    assert [n.name for n in answer.names] == ["legal."]


# -- the HTTP endpoint ----------------------------------------------------------------------------


def _post(cluster: Cluster, url: str, body: bytes, content_type: str = MSGPACK_TYPE) -> httpx.Response:
    async def go() -> httpx.Response:
        async with cluster.client() as client:
            response = await client.post(
                url + "/semdns/v1/query", content=body, headers={"content-type": content_type}
            )
            await response.aread()
            return response

    return run(go())


def _error(response: httpx.Response) -> tuple[str, str]:
    form = "json" if "json" in response.headers["content-type"] else "msgpack"
    envelope = decode(response.content, Envelope, form)  # type: ignore[arg-type]
    answer = decode(bytes(envelope.payload), Answer, form)  # type: ignore[arg-type]
    return answer.errors[0].code, answer.errors[0].message


def test_endpoint_reads_a_newer_minor_and_refuses_a_newer_major(cluster: Cluster) -> None:
    newer_minor = b'{"v": "1.4", "id": "q1", "text": "what is a tort", "zone": "legal.", "hint_v14": true}'
    response = _post(cluster, LEGAL_URL, newer_minor, JSON_TYPE)
    assert response.status_code == 200 and response.headers["content-type"] == JSON_TYPE
    newer_major = b'{"v": "2.0", "id": "q1", "text": "what is a tort", "zone": "legal."}'
    response = _post(cluster, LEGAL_URL, newer_major, JSON_TYPE)
    assert response.status_code == 400
    code, message = _error(response)
    assert code == "unsupported_version" and "2.0 is not supported" in message


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "message"),
    [
        (b"\xc1\xff garbage", MSGPACK_TYPE, 400, "malformed_message", "malformed Query"),
        (b"{not json", JSON_TYPE, 400, "malformed_message", "malformed Query"),
        (b"x" * (4 * 1024 * 1024 + 1), MSGPACK_TYPE, 413, "message_too_large", "exceeds the limit"),
        (b'{"id": "q", "zone": "legal."}', JSON_TYPE, 400, "invalid_request", "neither text"),
        (
            b'{"id": "q", "text": "hi", "zone": "medical."}',
            JSON_TYPE,
            421,
            "not_authoritative",
            "serves legal.",
        ),
        (
            b'{"id": "q", "text": "hi", "zone": "bad..name"}',
            JSON_TYPE,
            400,
            "malformed_message",
            "empty label",
        ),
        (b"hello", "text/plain", 400, "malformed_message", "unsupported content type"),
    ],
)
def test_endpoint_malformed_input(
    cluster: Cluster, body: bytes, content_type: str, status: int, code: str, message: str
) -> None:
    response = _post(cluster, LEGAL_URL, body, content_type)
    assert response.status_code == status
    got_code, got_message = _error(response)
    assert (got_code, message in got_message) == (code, True), got_message


def test_zone_and_dictionary_endpoints(cluster: Cluster) -> None:
    async def go() -> tuple[dict[str, object], int, int]:
        async with cluster.client() as client:
            info = (await client.get(LEGAL_URL + "/semdns/v1/zone")).json()
            ok = await client.get(LEGAL_URL + f"/semdns/v1/dictionaries/{info['dictionaries'][0]}")
            missing = await client.get(LEGAL_URL + "/semdns/v1/dictionaries/legal.:0000")
            return info, ok.status_code, missing.status_code

    info, ok, missing = run(go())
    assert (
        info["apex"] == "legal."
        and info["public_key"]
        == ZoneKey.load(
            Path(__file__).parent.parent.parent / "examples" / "delegation" / "keys" / "legal.key"
        ).public_text
    )
    assert (ok, missing) == (200, 404)


def test_query_round_trip_of_the_resolver_values() -> None:
    assert Name.parse("legal.") == Name.parse("legal")
    assert decode(encode(Query(id="x", text="t")), Query).text == "t"
