"""The console's JSON, SSE and access rules over real HTTP, malformed input included."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from semdns.gateway import GatewaySettings, Runtime, create_app
from semdns.names import Name
from semdns.ui.feed import DecisionFeed, FeedFull
from ui.helpers import console_gateway

pytestmark = pytest.mark.anyio


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


async def test_namespace_lists_names_replicas_and_the_broken_one(tmp_path: Path) -> None:
    async with console_gateway(tmp_path) as gw:
        data = (await gw.client.get("/ui/api/namespace")).json()
        assert data["zones"] == [{"origin": ".", "names": 4, "serial": 0}]  # a zone file without one: 0
        # where the loaded tree records zone serials (ZoneTree.serials), they are shown
        object.__setattr__(gw.runtime.tree, "serials", {Name.parse("."): 2026113001})
        zones = (await gw.client.get("/ui/api/namespace")).json()["zones"]
        assert zones == [{"origin": ".", "names": 4, "serial": 2026113001}]
    nodes = {n["name"]: n for n in data["nodes"]}
    assert set(nodes) == {".", "legal.", "medical.", "ip.legal."}
    assert nodes["ip.legal."]["delegation"]["signed"] is False
    assert nodes["ip.legal."]["delegation"]["ttl"] == 600
    assert nodes["ip.legal."]["replicas"] == [] and nodes["legal."]["delegation"] is None
    assert nodes["legal."]["dn"] == "CN=Legal,O=Test"
    assert nodes["legal."]["parent"] == "."
    assert [r["ok"] for r in nodes["legal."]["replicas"]] == [True]
    broken = nodes["medical."]["replicas"][0]
    assert broken["healthy"] is False and broken["ok"] is False
    assert data["names_down"] == ["medical."]


async def test_dig_returns_the_decision_and_its_dig_text(tmp_path: Path) -> None:
    async with console_gateway(tmp_path) as gw:
        got = (await gw.client.get("/ui/api/dig", params={"q": "review this contract"})).json()
        assert got["decision"]["names"] == ["legal."]
        assert got["decision"]["trace"][0]["stages_tried"] == ["keyword"]
        assert ";; ANSWER SECTION:" in got["text"] and "legal." in got["text"]
        for params in ({}, {"q": "   "}, {"q": "x" * 4001}):
            error = _error(await gw.client.get("/ui/api/dig", params=params), 400)
            assert error["param"] == "q"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"not json", None),
        (b"[1, 2]", None),
        (b"{}", "query"),
        (b'{"query": 5}', "query"),
        (b'{"query": ""}', "q"),
        (b'{"query": "hi", "model": ""}', "model"),
        (b'{"query": "hi", "model": 3}', "model"),
        (b'{"query": "hi", "max_tokens": 0}', "max_tokens"),
        (b'{"query": "hi", "max_tokens": true}', "max_tokens"),
        (b'{"query": "hi", "max_tokens": "5"}', "max_tokens"),
        (b'{"query": "hi", "temperature": 2}', None),
    ],
)
async def test_send_refuses_malformed_bodies(tmp_path: Path, body: bytes, param: str | None) -> None:
    async with console_gateway(tmp_path) as gw:
        error = _error(await gw.client.post("/ui/api/send", content=body), 400)
    assert error["param"] == param


async def test_send_goes_through_the_gateway_and_shows_its_headers(tmp_path: Path) -> None:
    async with console_gateway(tmp_path) as gw:
        got = (await gw.client.post("/ui/api/send", json={"query": "a contract question"})).json()
        assert got["status"] == 200
        assert got["headers"]["x-semdns-name"] == "legal."
        assert got["body"]["semdns"]["name"] == "legal."
        fell = (await gw.client.post("/ui/api/send", json={"query": "ask a doctor"})).json()
        assert fell["status"] == 200  # medical.'s only replica is down: its parent answered
        assert fell["headers"]["x-semdns-degraded"] == "true"
        assert fell["headers"]["x-semdns-fallback"] == "medical.->."
        unknown = (await gw.client.post("/ui/api/send", json={"query": "x", "model": "nowhere"})).json()
        assert unknown["status"] == 404


async def _read_events(lines: AsyncIterator[str], want: int, kind: str) -> list[dict[str, object]]:
    """The next ``want`` SSE events of ``kind`` (bounded by the caller's timeout)."""
    events: list[dict[str, object]] = []
    current = ""
    async for line in lines:
        if line.startswith("event: "):
            current = line[7:]
        elif line.startswith("data: ") and current == kind:
            events.append(orjson.loads(line[6:]))
            if len(events) >= want:
                break
    return events


async def test_the_feed_shows_requests_as_they_are_served_without_prompts(tmp_path: Path) -> None:
    secret = "a contract about my secret pineapple recipe"
    async with console_gateway(tmp_path) as gw:
        before = gw.runtime.feed.stats()
        await gw.chat(secret)  # nobody watches: nothing is built or published
        assert gw.runtime.feed.stats() == before
        async with gw.client.stream("GET", "/ui/api/feed") as feed:
            assert feed.headers["content-type"].startswith("text/event-stream")
            lines = feed.aiter_lines()
            rates = await asyncio.wait_for(_read_events(lines, 1, "rates"), 10)
            assert rates[0]["totals"] == {"legal.": 1.0}
            assert gw.runtime.feed.watching
            answered = await gw.chat(secret)
            await gw.chat("ask a doctor")
            streamed = await gw.chat("contract, streamed", stream=True)
            assert streamed.status_code == 200
            got = await asyncio.wait_for(_read_events(lines, 3, "decision"), 10)
    ok, fell, stream = got
    assert stream["stream"] is True and ok["stream"] is False and stream["name"] == "legal."
    assert ok["name"] == "legal." and ok["status"] == 200 and ok["stage"] == "keyword"
    assert ok["confidence"] == 0.9 and ok["decision_cache"] == "miss" and ok["tenant"] == "anon"
    assert ok["response_cache"] == answered.headers["x-semdns-response-cache"] and ok["degraded"] is False
    assert isinstance(ok["latency_ms"], float) and ok["latency_ms"] > 0
    assert fell["status"] == 200 and fell["resolved"] == "medical." and fell["name"] == "."
    assert fell["degraded"] is True and fell["fallback"] == "medical.->."
    assert "pineapple" not in orjson.dumps(got).decode()
    assert not gw.runtime.feed.watching  # the subscription ended with the connection


async def test_a_slow_viewer_loses_events_and_they_are_counted() -> None:
    feed = DecisionFeed(queue_size=2, max_subscribers=1)
    feed.publish({"n": 0})
    assert feed.stats()["published"] == 0  # nobody watching: not even serialised
    with feed.subscribe() as sub:
        for i in range(5):
            feed.publish({"n": i})
        assert sub.queue.qsize() == 2 and sub.dropped == 3
        assert feed.stats() == {"subscribers": 1, "published": 5, "dropped": 3, "queue_size": 2}
        with pytest.raises(FeedFull), feed.subscribe():
            pass
    assert not feed.watching
    with pytest.raises(ValueError):
        DecisionFeed(queue_size=0)


async def test_caches_and_tenants(tmp_path: Path) -> None:
    async with console_gateway(tmp_path, tenants=True) as gw:
        admin = {"authorization": f"Bearer {gw.keys['ops']}"}
        first = (await gw.client.get("/ui/api/tenants", headers=admin)).json()
        assert first["mode"] == "file"
        acme = next(t for t in first["tenants"] if t["name"] == "acme")
        assert acme["limits"] == {"requests_per_min": 100, "tokens_per_min": 10_000, "daily_tokens": 100_000}
        assert acme["remaining"]["requests"] == 100
        assert (await gw.chat("contract terms", key=gw.keys["acme"])).status_code == 200
        await asyncio.sleep(0.2)  # token usage is settled in the background
        later = (await gw.client.get("/ui/api/tenants", headers=admin)).json()
        acme = next(t for t in later["tenants"] if t["name"] == "acme")
        assert acme["remaining"]["requests"] == 99
        assert acme["remaining"]["daily_tokens"] < 100_000
        caches = (await gw.client.get("/ui/api/caches", headers=admin)).json()
        assert caches["response_cache"]["enabled"] is True
        assert sum(caches["response_cache"]["totals"].values()) == 1  # one request, one outcome
        assert caches["feed"]["subscribers"] == 0


async def test_open_gateway_has_no_tenants(tmp_path: Path) -> None:
    async with console_gateway(tmp_path, settings={"response_cache": False}) as gw:
        assert (await gw.client.get("/ui/api/tenants")).json() == {"mode": "open", "tenants": []}
        assert (await gw.client.get("/ui/api/caches")).json()["response_cache"] == {"enabled": False}


async def test_tenant_mode_needs_an_admin_key(tmp_path: Path) -> None:
    def basic(password: str) -> dict[str, str]:
        return {"authorization": "Basic " + base64.b64encode(f"me:{password}".encode()).decode()}

    async with console_gateway(tmp_path, tenants=True) as gw:
        refused = await gw.client.get("/ui/")
        _error(refused, 401)
        assert refused.headers["www-authenticate"].startswith("Basic")
        _error(await gw.client.get("/ui/api/namespace", headers=basic(gw.keys["acme"])), 403)
        _error(await gw.client.get("/ui/api/namespace", headers=basic("sk-semdns-wrong")), 401)
        _error(await gw.client.get("/ui/api/namespace", headers={"authorization": "Basic %%%"}), 401)
        _error(await gw.client.get("/ui/api/namespace", headers=basic("")), 401)
        for headers in (basic(gw.keys["ops"]), {"authorization": f"Bearer {gw.keys['ops']}"}):
            assert (await gw.client.get("/ui/api/namespace", headers=headers)).status_code == 200
        # the console's own send carries the admin's key, so the request is admitted and attributed
        sent = await gw.client.post("/ui/api/send", json={"query": "contract"}, headers=basic(gw.keys["ops"]))
        assert sent.json()["status"] == 200


def _client(runtime: Runtime, peer: str) -> httpx.AsyncClient:
    """A client whose requests reach a fresh app over ``runtime`` from address ``peer``."""
    transport = httpx.ASGITransport(app=create_app(runtime, manage_runtime=False), client=(peer, 5))
    return httpx.AsyncClient(transport=transport, base_url="http://gw")


async def test_open_mode_refuses_remote_callers_unless_allowed(tmp_path: Path) -> None:
    async with console_gateway(tmp_path) as gw:
        async with _client(gw.runtime, "10.1.2.3") as client:
            error = _error(await client.get("/ui/api/namespace"), 403)
            assert "--console-remote" in str(error["message"])
        async with _client(gw.runtime, "::1") as client:
            assert (await client.get("/ui/api/namespace")).status_code == 200
        gw.runtime.settings = GatewaySettings(console_remote=True, probes=False)
        async with _client(gw.runtime, "10.1.2.3") as client:
            assert (await client.get("/ui/api/namespace")).status_code == 200
        gw.runtime.settings = GatewaySettings(console=False)
        async with _client(gw.runtime, "127.0.0.1") as client:
            _error(await client.get("/ui/"), 404)


async def test_page_and_assets(tmp_path: Path) -> None:
    async with console_gateway(tmp_path) as gw:
        redirect = await gw.client.get("/ui")
        assert redirect.status_code == 308 and redirect.headers["location"] == "/ui/"
        page = await gw.client.get("/ui/")
        assert page.status_code == 200 and "semdns console" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "http" not in page.text.replace("http-equiv", "")  # nothing loaded from elsewhere
        js = await gw.client.get("/ui/static/console.js")
        assert js.headers["content-type"].startswith("text/javascript")
        css = await gw.client.get("/ui/static/console.css")
        assert css.headers["content-type"].startswith("text/css")
        for bad in ("/ui/static/nope.js", "/ui/static/index.html", "/ui/static/..%2Fapp.py"):
            _error(await gw.client.get(bad), 404)
        _error(await gw.client.post("/ui/api/namespace"), 405)


async def test_the_feed_names_tenants_and_shows_refused_requests(tmp_path: Path) -> None:
    async with console_gateway(tmp_path, tenants=True) as gw:
        admin = {"authorization": f"Bearer {gw.keys['ops']}"}
        _error(await gw.client.get("/ui/api/feed"), 401)  # the feed is behind the admin key too
        async with gw.client.stream("GET", "/ui/api/feed", headers=admin) as feed:
            lines = feed.aiter_lines()
            await asyncio.wait_for(_read_events(lines, 1, "rates"), 10)
            assert (await gw.chat("contract", key=gw.keys["acme"])).status_code == 200
            assert (await gw.chat("contract")).status_code == 401
            assert (await gw.chat("contract", key="sk-semdns-not-a-key")).status_code == 401
            got = await asyncio.wait_for(_read_events(lines, 3, "decision"), 10)
    assert [e["tenant"] for e in got] == ["acme", "unauthenticated", "unauthenticated"]
    assert [e["status"] for e in got] == [200, 401, 401]
    assert got[1]["name"] == "-" and got[1]["stage"] == "-" and got[1]["confidence"] is None
