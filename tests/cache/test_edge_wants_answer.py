"""Which answers the request path keeps for the edge's write-back (``Edge.wants_answer``): only those
the response cache can store or a tenant's tokens must be charged for."""

from __future__ import annotations

from pathlib import Path

import pytest

from semdns.cache import CacheLookup, CacheRequest, client_control
from semdns.cache.entry import CacheEntry
from semdns.gateway.edge import Edge
from semdns.names import Name
from semdns.state import MemoryState
from semdns.tenancy.config import Tenant
from semdns.tenancy.gate import Admission, Principal

pytestmark = pytest.mark.anyio

ENDPOINT = "/v1/chat/completions"


def _request(temperature: float, cache_control: str | None = None) -> CacheRequest:
    body = {"model": "auto", "temperature": temperature, "messages": [{"role": "user", "content": "hi"}]}
    return CacheRequest("anon", ".", ENDPOINT, body, "hi", control=client_control(cache_control, None))


async def test_only_an_answer_the_cache_can_store_or_a_tenant_pays_for_is_kept(tmp_path: Path) -> None:
    from gateway.helpers import make_tree

    tree = make_tree(
        tmp_path, {"@": {"engines": [{"kind": "openai", "url": "http://127.0.0.1:9", "model": "m"}]}}
    )
    edge = Edge(tree, MemoryState(), None)
    assert edge.cache is not None
    try:
        anonymous = Admission(Principal("anon"))
        tenant = Tenant("acme", (Name.parse("."),), "refuse", None, None, None, False)
        paying = Admission(Principal("t:acme", tenant))

        deterministic = await edge.cache.lookup(_request(0.0))
        assert deterministic.status == "miss" and deterministic.storable
        assert edge.wants_answer(anonymous, deterministic)

        sampled = await edge.cache.lookup(_request(0.7))  # nondeterministic: the cache is bypassed
        assert sampled.status == "bypass" and not sampled.storable
        assert not edge.wants_answer(anonymous, sampled)
        assert edge.wants_answer(paying, sampled)  # its tokens are still charged

        no_store = await edge.cache.lookup(_request(0.0, "no-store"))
        assert not no_store.storable
        assert not edge.wants_answer(anonymous, no_store)

        entry = CacheEntry("e1", "anon", ".", ENDPOINT, "p", "hi", "json", b"{}", 0.0, 60, 0)
        served = CacheLookup("hit", _request(0.0), entry=entry, storable=True)
        assert served.served and not edge.wants_answer(anonymous, served)

        assert not edge.wants_answer(anonymous, None)
        assert not edge.wants_answer(None, deterministic)
    finally:
        await edge.aclose()
