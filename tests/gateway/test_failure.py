"""Failure handling end to end: retries and failover between replicas, fallback up the tree (flagged
as degraded), errors that name what failed, timeouts, circuit breakers and active probes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.helpers import Backend, backends, engine, gateway, make_tree
from semdns.engines.breaker import BreakerState
from semdns.gateway import GatewaySettings
from semdns.names import Name
from semdns.zone import ZoneTree

pytestmark = pytest.mark.anyio

LEGAL = Name.parse("legal.")


def _a_then_b(tmp_path: Path, bk: dict[str, Backend]) -> ZoneTree:
    """The root served by replicas a and b in weighted round robin: the first request goes to a."""
    return make_tree(
        tmp_path,
        {
            "@": {
                "engines": [engine(bk["a"]), engine(bk["b"])],
                "gateway": {"balancing": "weighted_round_robin"},
            }
        },
    )


async def test_a_failing_replica_is_retried_on_another(tmp_path: Path) -> None:
    async with backends("a", "b") as bk:
        tree = _a_then_b(tmp_path, bk)
        async with gateway(tree) as gw:
            bk["a"].fake.behaviour.fail_status = 500
            first = await gw.chat("x")  # round robin starts at a: fails, retried on b
            metrics = (await gw.client.get("/metrics")).text
    assert first.status_code == 200
    assert first.json()["semdns"]["attempts"] == 2
    assert first.json()["choices"][0]["message"]["content"] == "hello from b"
    assert "x-semdns-fallback" not in first.headers  # failover within a name is not a degraded answer
    assert 'semdns_retries_total{allowed="true",name="."} 1.0' in metrics
    assert 'outcome="status"' in metrics


@pytest.mark.parametrize("status", [429, 502, 503])
async def test_retryable_statuses_fail_over(tmp_path: Path, status: int) -> None:
    async with backends("a", "b") as bk:
        tree = _a_then_b(tmp_path, bk)
        async with gateway(tree) as gw:
            bk["a"].fake.behaviour.fail_status = status
            response = await gw.chat("x")
    assert response.status_code == 200
    assert bk["a"].fake.requests == 1 and bk["b"].fake.requests == 1


async def test_a_client_error_from_the_backend_is_passed_on_not_retried(tmp_path: Path) -> None:
    async with backends("a", "b") as bk:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(bk["a"]), engine(bk["b"])]}})
        async with gateway(tree) as gw:
            bk["a"].fake.behaviour.fail_status = 400
            bk["b"].fake.behaviour.fail_status = 400
            response = await gw.chat("x")
    assert response.status_code == 400
    assert "failed on purpose" in response.json()["error"]["message"]
    assert bk["a"].fake.requests + bk["b"].fake.requests == 1


async def test_every_leaf_replica_down_falls_back_to_the_parent_flagged_degraded(tmp_path: Path) -> None:
    async with backends("root", "legal", "c1", "c2") as bk:
        tree = make_tree(
            tmp_path,
            {
                "@": {"engines": [engine(bk["root"])]},
                "legal": {"engines": [engine(bk["legal"])]},
                "contracts.legal": {"engines": [engine(bk["c1"]), engine(bk["c2"])]},
            },
        )
        async with gateway(tree) as gw:
            bk["c1"].fake.behaviour.fail_status = 503
            bk["c2"].fake.behaviour.fail_status = 500
            response = await gw.chat("x", model="contracts.legal")
            bk["legal"].fake.behaviour.fail_status = 500
            to_root = await gw.chat("x", model="contracts.legal")
            metrics = (await gw.client.get("/metrics")).text
    assert response.status_code == 200
    assert response.headers["x-semdns-name"] == "legal."
    assert response.headers["x-semdns-resolved"] == "contracts.legal."
    assert response.headers["x-semdns-fallback"] == "contracts.legal.->legal."
    assert response.headers["x-semdns-degraded"] == "true"
    field = response.json()["semdns"]
    assert field["degraded"] is True
    assert field["fallback"][0]["name"] == "contracts.legal."
    assert field["fallback"][0]["reason"] in ("http_503", "http_500")
    assert to_root.headers["x-semdns-name"] == "."
    assert to_root.headers["x-semdns-fallback"] == "contracts.legal.->legal.->."
    assert 'semdns_fallbacks_total{source="contracts.legal.",target="legal."} 2.0' in metrics


async def test_everything_down_is_a_502_that_names_each_failure(tmp_path: Path) -> None:
    async with backends("root", "legal") as bk:
        tree = make_tree(
            tmp_path, {"@": {"engines": [engine(bk["root"])]}, "legal": {"engines": [engine(bk["legal"])]}}
        )
        async with gateway(tree) as gw:
            bk["root"].fake.behaviour.fail_status = 500
            bk["legal"].fake.behaviour.fail_status = 503
            response = await gw.chat("x", model="legal")
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_error"
    assert "legal." in error["message"] and bk["legal"].url in error["message"]
    assert "HTTP 503" in error["message"] and "HTTP 500" in error["message"]
    assert response.headers["x-semdns-resolved"] == "legal."


async def test_connection_refused_is_a_502_naming_the_connect_error(tmp_path: Path) -> None:
    dead = {"kind": "openai", "url": "http://127.0.0.1:9/v1", "model": "m"}  # port 9: discard, closed
    tree = make_tree(tmp_path, {"@": {"engines": [dead]}})
    async with gateway(tree) as gw:
        response = await gw.chat("x")
    assert response.status_code == 502
    assert "connect error" in response.json()["error"]["message"]


async def test_a_slow_backend_times_out_with_504(tmp_path: Path) -> None:
    async with backends("slow") as bk:
        bk["slow"].fake.behaviour.latency_s = 2.0
        tree = make_tree(
            tmp_path,
            {"@": {"engines": [engine(bk["slow"])], "gateway": {"attempt_timeout_s": 0.2, "max_retries": 0}}},
        )
        async with gateway(tree) as gw:
            response = await gw.chat("x")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"


async def test_the_whole_request_deadline_bounds_all_attempts(tmp_path: Path) -> None:
    async with backends("a", "b", "c") as bk:
        for b in bk.values():
            b.fake.behaviour.latency_s = 2.0
        tree = make_tree(
            tmp_path,
            {
                "@": {
                    "engines": [engine(bk["a"]), engine(bk["b"]), engine(bk["c"])],
                    "gateway": {"attempt_timeout_s": 0.2, "deadline_s": 0.3},
                }
            },
        )
        async with gateway(tree) as gw:
            response = await gw.chat("x")
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "deadline_exceeded"
    # 0.2 s on one replica, the 0.1 s left on another, then the deadline: never all three.
    assert 1 <= sum(b.fake.requests for b in bk.values()) <= 2


async def test_breaker_opens_after_consecutive_failures_and_stops_traffic(tmp_path: Path) -> None:
    async with backends("bad", "good") as bk:
        tree = make_tree(
            tmp_path,
            {
                "@": {
                    "engines": [engine(bk["bad"]), engine(bk["good"])],
                    "gateway": {
                        "balancing": "weighted_round_robin",
                        "breaker": {"consecutive_failures": 2, "sleep_s": 60},
                    },
                }
            },
        )
        async with gateway(tree) as gw:
            bk["bad"].fake.behaviour.fail_status = 500
            for _ in range(6):
                assert (await gw.chat("x")).status_code == 200
            bad_replica = next(r for r in gw.runtime.pools[Name.parse(".")].replicas if "bad" in r.label)
            metrics = (await gw.client.get("/metrics")).text
    assert bad_replica.breaker.state is BreakerState.OPEN
    assert bk["bad"].fake.requests == 2  # then the breaker kept traffic away
    assert bk["good"].fake.requests == 6
    assert f'semdns_breaker_state{{name=".",replica="{bad_replica.label}"}} 2.0' in metrics


async def test_breaker_half_opens_after_the_sleep_window_and_closes_on_success(tmp_path: Path) -> None:
    async with backends("only") as bk:
        tree = make_tree(
            tmp_path,
            {
                "@": {
                    "engines": [engine(bk["only"])],
                    "gateway": {
                        "max_retries": 0,
                        "breaker": {"consecutive_failures": 1, "sleep_s": 0.2, "half_open_probes": 1},
                    },
                }
            },
        )
        async with gateway(tree) as gw:
            replica = gw.runtime.pools[Name.parse(".")].replicas[0]
            bk["only"].fake.behaviour.fail_next = 1
            assert (await gw.chat("x")).status_code == 502
            assert replica.breaker.state is BreakerState.OPEN
            refused = await gw.chat("x")  # open: not even tried
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "no_engine_available"
            assert bk["only"].fake.requests == 1
            # Wait out the sleep window (bounded loop), then one trial request closes the breaker.
            for _ in range(100):
                if replica.breaker.state is BreakerState.HALF_OPEN:
                    break
                await asyncio.sleep(0.01)
            assert replica.breaker.state is BreakerState.HALF_OPEN
            assert (await gw.chat("x")).status_code == 200
            assert replica.breaker.state is BreakerState.CLOSED


async def test_active_probes_take_a_dead_replica_out_and_bring_it_back(tmp_path: Path) -> None:
    async with backends("a", "b") as bk:
        tree = make_tree(
            tmp_path,
            {"@": {"engines": [engine(bk["a"]), engine(bk["b"])], "gateway": {"probe_interval_s": 60}}},
        )
        settings = GatewaySettings(probes=True, warm_local=False)
        async with gateway(tree, settings=settings) as gw:
            prober = gw.runtime.prober
            assert prober is not None
            bk["a"].fake.behaviour.fail_status = 503  # /v1/models answers 503 too
            await prober.probe_once()
            ready = (await gw.client.get("/readyz")).json()
            for _ in range(4):
                assert (await gw.chat("x")).status_code == 200
            served_by_a_while_down = bk["a"].fake.requests
            bk["a"].fake.behaviour.fail_status = None
            await prober.probe_once()
            a = next(r for r in gw.runtime.pools[Name.parse(".")].replicas if r.label.startswith(bk["a"].url))
            metrics = (await gw.client.get("/metrics")).text
    assert ready["status"] == "ready"
    assert served_by_a_while_down == 0
    assert a.healthy is True
    assert f'semdns_replica_healthy{{name=".",replica="{a.label}"}} 1.0' in metrics


async def test_retry_budget_limits_retries(tmp_path: Path) -> None:
    async with backends("a", "b", "c") as bk:
        for b in bk.values():
            b.fake.behaviour.fail_status = 500
        tree = make_tree(
            tmp_path,
            {
                "@": {
                    "engines": [engine(bk[n]) for n in "abc"],
                    "gateway": {"breaker": {"consecutive_failures": 1000}},
                }
            },
        )
        settings = GatewaySettings(
            probes=False, warm_local=False, retry_budget_ratio=0.0, retry_budget_min_per_s=0.0
        )
        async with gateway(tree, settings=settings) as gw:
            gw.runtime.dispatcher.budget._tokens = 1.0  # exactly one retry in the bucket
            await gw.chat("x")
            await gw.chat("x")
            metrics = (await gw.client.get("/metrics")).text
    assert sum(b.fake.requests for b in bk.values()) == 3  # 2 first attempts + the one budgeted retry
    assert 'semdns_retries_total{allowed="false",name="."} 2.0' in metrics
