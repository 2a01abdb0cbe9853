"""Each balancing policy, on replicas with fake engines (selection is pure: no I/O needed)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from semdns.engines.breaker import CircuitBreaker
from semdns.engines.pool import Pool, Replica, leading_tokens
from semdns.engines.protocol import EngineCall
from semdns.names import Name
from semdns.zone.schema import BreakerSpec, GatewayPolicy

NAME = Name.parse("legal.")


class FakeEngine:
    def __init__(self, label: str) -> None:
        self.label = label

    async def complete(self, call: EngineCall) -> dict[str, Any]:
        return {}

    async def stream(self, call: EngineCall) -> AsyncIterator[bytes]:
        yield b""

    async def probe(self) -> bool:
        return True

    async def aclose(self) -> None:
        pass


def _pool(policy: str, weights: tuple[int, ...] = (1, 1, 1), **extra: Any) -> Pool:
    replicas = [
        Replica(NAME, FakeEngine(f"r{i}"), w, CircuitBreaker(BreakerSpec())) for i, w in enumerate(weights)
    ]
    return Pool(NAME, replicas, GatewayPolicy(balancing=policy, **extra), rng=random.Random(1))  # type: ignore[arg-type]


def _chat(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def test_least_outstanding_picks_the_idlest_and_rotates_ties() -> None:
    pool = _pool("least_outstanding")
    a, b, c = pool.replicas
    a.outstanding, b.outstanding, c.outstanding = 3, 1, 2
    assert pool.select(_chat("x")) is b
    b.outstanding = 3
    c.outstanding = 3
    picks = {pool.select(_chat("x")).label for _ in range(6)}  # type: ignore[union-attr]
    assert picks == {"r0", "r1", "r2"}


def test_power_of_two_never_picks_the_busiest_of_three() -> None:
    pool = _pool("power_of_two")
    pool.replicas[0].outstanding = 10
    picks = Counter(pool.select(_chat("x")).label for _ in range(300))  # type: ignore[union-attr]
    assert picks["r0"] == 0
    assert picks["r1"] > 0 and picks["r2"] > 0


def test_weighted_round_robin_follows_weights_smoothly() -> None:
    pool = _pool("weighted_round_robin", weights=(5, 1, 1))
    sequence = [pool.select(_chat("x")).label for _ in range(7)]  # type: ignore[union-attr]
    assert Counter(sequence) == {"r0": 5, "r1": 1, "r2": 1}
    assert sequence[:3] != ["r0", "r0", "r0"]  # smooth: the heavy replica is interleaved


def test_session_affinity_keeps_a_session_on_one_replica_and_moves_only_its_own_sessions() -> None:
    pool = _pool("session_affinity")
    sessions = [f"user-{i}" for i in range(60)]
    before = {s: pool.select(_chat("x"), s).label for s in sessions}  # type: ignore[union-attr]
    assert all(pool.select(_chat("y"), s).label == before[s] for s in sessions)  # type: ignore[union-attr]
    assert len(set(before.values())) == 3
    down = pool.replicas[1]
    down.healthy = False
    after = {s: pool.select(_chat("x"), s).label for s in sessions}  # type: ignore[union-attr]
    moved = [s for s in sessions if after[s] != before[s]]
    assert moved and all(before[s] == down.label for s in moved)  # consistent hashing


def test_session_affinity_without_a_key_balances_by_load() -> None:
    pool = _pool("session_affinity")
    pool.replicas[0].outstanding = 5
    pool.replicas[1].outstanding = 5
    assert pool.select(_chat("x"), None) is pool.replicas[2]


def test_prefix_affinity_sends_a_shared_prefix_to_one_replica() -> None:
    pool = _pool("prefix_affinity", prefix_tokens=8)
    shared = "You are a contracts lawyer. Answer briefly and cite the clause."
    first = pool.select(_chat(shared + " Question one about clause 4?"))
    again = pool.select(_chat(shared + " A different question about liability?"))
    assert first is again  # the first 8 tokens are the same
    spread = {pool.select(_chat(f"prompt number {i} " + shared)).label for i in range(40)}  # type: ignore[union-attr]
    assert len(spread) == 3  # different prefixes spread over the replicas


def test_prefix_affinity_moves_only_the_prefixes_of_a_lost_replica() -> None:
    pool = _pool("prefix_affinity", prefix_tokens=4)
    prompts = [f"prefix {i} shared tail words here" for i in range(50)]
    before = {p: pool.select(_chat(p)).label for p in prompts}  # type: ignore[union-attr]
    pool.replicas[0].healthy = False
    after = {p: pool.select(_chat(p)).label for p in prompts}  # type: ignore[union-attr]
    assert all(after[p] == before[p] for p in prompts if before[p] != "r0")  # rendezvous hashing


def test_leading_tokens_reads_messages_in_order() -> None:
    body = {"messages": [{"role": "system", "content": "a b c"}, {"role": "user", "content": "d e"}]}
    assert leading_tokens(body, 4) == "a b c d"
    assert leading_tokens({"prompt": "x y z"}, 2) == "x y"


@pytest.mark.parametrize(
    "policy",
    ["least_outstanding", "power_of_two", "weighted_round_robin", "session_affinity", "prefix_affinity"],
)
def test_every_policy_skips_excluded_and_unavailable_replicas(policy: str) -> None:
    pool = _pool(policy)
    a, b, c = pool.replicas
    a.healthy = False
    for _ in range(20):
        assert pool.select(_chat("x"), "s", exclude=[b]) is c
    c.breaker._open()
    assert pool.select(_chat("x"), "s", exclude=[b]) is None
