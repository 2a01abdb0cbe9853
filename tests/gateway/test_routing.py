"""Addressing (auto, explicit name, DN, unknown), the explanation headers and body field, and the
operational routes, against a real gateway and real fake backends on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.helpers import StubResolver, backends, engine, gateway, make_tree, sse_events
from semdns.gateway import GatewaySettings

pytestmark = pytest.mark.anyio


def _tree(tmp_path: Path, b: dict) -> object:
    return make_tree(
        tmp_path,
        {
            "@": {"description": "general", "engines": [engine(b["root"])]},
            "legal": {"description": "law", "engines": [engine(b["legal"])]},
            "contracts.legal": {
                "description": "contracts",
                "dn": "CN=Contracts,OU=Legal,O=Text",
                "engines": [engine(b["contracts"])],
            },
            "math": {"description": "maths, no engines of its own"},
        },
    )


async def test_auto_resolves_the_last_user_message_with_earlier_turns_as_context(tmp_path: Path) -> None:
    async with backends("root", "legal", "contracts") as b:
        resolver = StubResolver([("contract", "contracts.legal.")])
        async with gateway(_tree(tmp_path, b), resolver) as gw:
            messages = [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "I run a bakery"},
                {"role": "assistant", "content": "Nice!"},
                {"role": "user", "content": "Review this contract clause"},
            ]
            response = await gw.client.post(
                "/v1/chat/completions", content=orjson.dumps({"model": "auto", "messages": messages})
            )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "hello from contracts"
    assert body["object"] == "chat.completion"
    assert response.headers["x-semdns-name"] == "contracts.legal."
    assert response.headers["x-semdns-resolved"] == "contracts.legal."
    assert response.headers["x-semdns-stage"] == "keyword"
    assert response.headers["x-semdns-cache"] == "miss"
    assert float(response.headers["x-semdns-confidence"]) == pytest.approx(0.9)
    assert "x-semdns-fallback" not in response.headers
    assert body["semdns"]["name"] == "contracts.legal."
    assert body["semdns"]["degraded"] is False
    assert resolver.contexts == ["be brief\nI run a bakery\nNice!"]
    # The backend was asked for its own model, not for the semantic name.
    assert b["contracts"].fake.last_body is not None
    assert b["contracts"].fake.last_body["model"] == "contracts"


async def test_absent_model_means_auto(tmp_path: Path) -> None:
    async with (
        backends("root", "legal", "contracts") as b,
        gateway(_tree(tmp_path, b), StubResolver([("law", "legal.")])) as gw,
    ):
        response = await gw.chat("a question about law")
    assert response.headers["x-semdns-name"] == "legal."


@pytest.mark.parametrize(
    "model", ["contracts.legal", "contracts.legal.", "CONTRACTS.Legal", "CN=Contracts,OU=Legal,O=Text"]
)
async def test_explicit_name_or_dn_routes_directly(tmp_path: Path, model: str) -> None:
    async with backends("root", "legal", "contracts") as b:
        resolver = StubResolver()
        async with gateway(_tree(tmp_path, b), resolver) as gw:
            response = await gw.chat("anything at all", model=model)
    assert response.status_code == 200, response.text
    assert response.headers["x-semdns-name"] == "contracts.legal."
    assert response.headers["x-semdns-stage"] == "explicit"
    assert response.headers["x-semdns-cache"] == "bypass"
    assert resolver.calls == 0


@pytest.mark.parametrize("model", ["tax.legal", "CN=Nobody,OU=Nowhere", "not a name!"])
async def test_unknown_name_is_404_with_an_openai_error_body(tmp_path: Path, model: str) -> None:
    async with backends("root", "legal", "contracts") as b, gateway(_tree(tmp_path, b)) as gw:
        response = await gw.chat("hi", model=model)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert error["type"] == "invalid_request_error"
    assert error["message"]


async def test_name_without_engines_is_served_by_its_ancestor_and_flagged(tmp_path: Path) -> None:
    async with backends("root", "legal", "contracts") as b, gateway(_tree(tmp_path, b)) as gw:
        response = await gw.chat("integrals", model="math")
    assert response.status_code == 200
    assert response.headers["x-semdns-name"] == "."
    assert response.headers["x-semdns-resolved"] == "math."
    assert response.headers["x-semdns-fallback"] == "math.->."
    assert response.json()["semdns"]["fallback"] == [{"name": "math.", "reason": "no_engines"}]


async def test_completions_endpoint(tmp_path: Path) -> None:
    async with (
        backends("root", "legal", "contracts") as b,
        gateway(_tree(tmp_path, b), StubResolver([("contract", "contracts.legal.")])) as gw,
    ):
        response = await gw.client.post(
            "/v1/completions", content=orjson.dumps({"prompt": "A contract is", "max_tokens": 5})
        )
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["text"] == "hello from contracts"
    assert response.headers["x-semdns-name"] == "contracts.legal."


def _multi_tree(tmp_path: Path, b: dict) -> object:
    return make_tree(
        tmp_path,
        {
            "@": {"description": "general", "engines": [engine(b["root"])]},
            "legal": {"description": "law", "engines": [engine(b["legal"])]},
            "medical": {"description": "medicine", "engines": [engine(b["medical"])]},
        },
    )


async def test_cross_domain_decision_fans_out_and_aggregates(tmp_path: Path) -> None:
    async with backends("root", "legal", "medical") as b:
        b["legal"].fake.behaviour.reply = "Malpractice claims need proof of negligence and damages."
        b["medical"].fake.behaviour.reply = "A missed tumour on a scan is a diagnostic error."
        resolver = StubResolver([("malpractice", "legal.")], names=["legal.", "medical."])
        async with gateway(_multi_tree(tmp_path, b), resolver) as gw:
            response = await gw.chat("malpractice after a missed tumour")
    assert response.status_code == 200, response.text
    body = response.json()
    content = body["choices"][0]["message"]["content"]
    # Both specialists answered, each under a heading that names it (RAP aggregation).
    assert "[legal.]\nMalpractice claims need proof" in content
    assert "[medical.]\nA missed tumour" in content
    assert b["legal"].fake.requests == 1 and b["medical"].fake.requests == 1 and b["root"].fake.requests == 0
    assert response.headers["x-semdns-names"] == "legal.,medical."
    assert response.headers["x-semdns-name"] == "legal.,medical."
    assert "x-semdns-degraded" not in response.headers
    field = body["semdns"]
    assert field["cross_domain"] is True and field["degraded"] is False
    assert field["served"] == ["legal.", "medical."]
    parts = field["aggregation"]["parts"]
    assert [p["name"] for p in parts] == ["legal.", "medical."]
    assert all(p["error"] is None and p["confidence"] == 0.9 for p in parts)
    # Different answers from two confident specialists are flagged for the reader.
    assert field["aggregation"]["conflicts"][0]["kind"] == "divergent"
    assert body["usage"]["total_tokens"] == 2 * 4  # the fake reports 4 tokens a call: summed over parts


async def test_cross_domain_part_that_fails_is_reported_not_fatal(tmp_path: Path) -> None:
    async with backends("root", "legal", "medical") as b:
        b["medical"].fake.behaviour.fail_status = 400  # rejected: no retry, no fallback for this part
        resolver = StubResolver([("malpractice", "legal.")], names=["legal.", "medical."])
        async with gateway(_multi_tree(tmp_path, b), resolver) as gw:
            response = await gw.chat("malpractice after a missed tumour")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "hello from legal"
    assert response.headers["x-semdns-degraded"] == "true"
    assert body["semdns"]["degraded"] is True
    parts = {p["name"]: p for p in body["semdns"]["aggregation"]["parts"]}
    assert parts["medical."]["error"]["code"]
    assert body["semdns"]["aggregation"]["conflicts"][0]["kind"] == "missing"


async def test_cross_domain_stream_and_completions(tmp_path: Path) -> None:
    async with backends("root", "legal", "medical") as b:
        resolver = StubResolver([("malpractice", "legal.")], names=["legal.", "medical."])
        async with gateway(_multi_tree(tmp_path, b), resolver) as gw:
            streamed = await gw.chat("malpractice after a missed tumour", stream=True)
            completion = await gw.client.post(
                "/v1/completions", content=orjson.dumps({"prompt": "malpractice and tumours"})
            )
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = sse_events(streamed.text)
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["semdns"]["cross_domain"] is True
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    # Each part streams under its own heading (tests/gateway/test_fanout_stream.py has the details).
    assert "[legal.] (confidence 0.90)\nhello from legal" in text
    assert "[medical.] (confidence 0.90)\nhello from medical" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert completion.status_code == 200, completion.text
    assert "[medical.]\nhello from medical" in completion.json()["choices"][0]["text"]


async def test_models_lists_auto_and_every_name_with_engines(tmp_path: Path) -> None:
    async with backends("root", "legal", "contracts") as b, gateway(_tree(tmp_path, b)) as gw:
        response = await gw.client.get("/v1/models")
    ids = [m["id"] for m in response.json()["data"]]
    assert ids == ["auto", ".", "legal.", "contracts.legal."]


async def test_health_readiness_metrics_and_admin_resolve(tmp_path: Path) -> None:
    async with (
        backends("root", "legal", "contracts") as b,
        gateway(
            _tree(tmp_path, b),
            StubResolver([("contract", "contracts.legal.")]),
            GatewaySettings(probes=False, warm_local=False, admin_key="sk-operator"),
        ) as gw,
    ):
        admin = {"authorization": "Bearer sk-operator"}
        assert (await gw.client.get("/healthz")).json() == {"status": "ok"}
        ready = await gw.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        await gw.chat("contract question")
        await gw.chat("hi", model="nope.nope")
        dig = await gw.client.get("/admin/resolve", params={"q": "a contract"}, headers=admin)
        assert dig.status_code == 200
        assert dig.json()["names"] == ["contracts.legal."]
        missing = await gw.client.get("/admin/resolve", headers=admin)
        assert missing.status_code == 400
        metrics = (await gw.client.get("/metrics")).text
    assert 'semdns_requests_total{name="contracts.legal.",stage="keyword",status="200"} 1.0' in metrics
    assert 'semdns_requests_total{name="-",stage="-",status="404"} 1.0' in metrics
    assert "semdns_resolution_seconds_bucket" in metrics
    assert 'semdns_engine_seconds_count{name="contracts.legal."' in metrics
    assert 'semdns_decision_cache_total{status="miss"} 1.0' in metrics
    assert "semdns_breaker_state{" in metrics


async def test_unknown_path_and_wrong_method_get_json_errors(tmp_path: Path) -> None:
    async with backends("root", "legal", "contracts") as b, gateway(_tree(tmp_path, b)) as gw:
        missing = await gw.client.get("/v2/nothing")
        wrong = await gw.client.get("/v1/chat/completions")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


async def test_api_key_is_read_from_the_environment_variable_the_zone_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEMDNS_TEST_KEY", "sk-test-123")
    async with backends("root") as b:
        tree = make_tree(tmp_path, {"@": {"engines": [engine(b["root"], api_key_env="SEMDNS_TEST_KEY")]}})
        async with gateway(tree) as gw:
            await gw.chat("hi")
    assert b["root"].fake.last_headers["authorization"] == "Bearer sk-test-123"
