"""OpenTelemetry on a real gateway: one request's trace, exported by OTLP/HTTP to a small receiver on
127.0.0.1 (decoded with opentelemetry-proto), has every stage; ``traceparent`` reaches the engine and
a delegated resolver; with no OTLP endpoint set nothing is built."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.types import Receive, Scope, Send

from semdns.delegation.client import PeerClient
from semdns.dispatch import Dispatcher
from semdns.errors import DelegationError
from semdns.gateway import GatewaySettings, Runtime, create_app
from semdns.gateway.tracing import TracedDispatcher, Tracing
from semdns.names import Name
from semdns.protocol.messages import Query
from semdns.resolve.decision import Answer, LevelTrace, RoutingDecision, Score
from semdns.testing import serve_app

from .helpers import backends, make_tree

pytestmark = pytest.mark.anyio


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: keeps every span it is sent, and the headers of every request."""

    spans: list[Any] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.headers.append(headers)
        status = 404
        reply = b""
        if scope["path"] == "/v1/traces":
            if headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    self.spans.extend(scope_spans.spans)
            status, reply = 200, ExportTraceServiceResponse().SerializeToString()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send({"type": "http.response.body", "body": reply})


def attributes(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in span.attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        out[kv.key] = (
            [getattr(v, v.WhichOneof("value")) for v in value.array_value.values]
            if kind == "array_value"
            else getattr(value, kind)
        )
    return out


class TwoLevels:
    """Resolves everything to ``contracts.legal.`` in two levels, as the real resolver reports them."""

    async def aresolve(self, query: str, context: str | None = None) -> RoutingDecision:
        legal, contracts = Name.parse("legal."), Name.parse("contracts.legal.")
        trace = (
            LevelTrace(Name.parse("."), "descend", (legal,), (Score(legal, 0.93),), ("keyword",), 120.0),
            LevelTrace(
                legal,
                "descend",
                (contracts,),
                (Score(contracts, 0.81), Score(Name.parse("court.legal."), 0.4)),
                ("keyword", "embedding"),
                900.0,
            ),
        )
        answers = (Answer(contracts, str(contracts.to_dn()), 0.81),)
        return RoutingDecision(query, answers, trace, 0.81, "embedding", 60, "miss", 1.0)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
async def receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    collector = Receiver()
    async with serve_app(collector) as server:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.url)
        monkeypatch.setenv("OTEL_SERVICE_NAME", "semdns-test")
        yield collector


async def test_one_request_trace_has_every_stage(receiver: Receiver, tmp_path: Path) -> None:
    async with backends("legal") as be:
        dead = f"http://127.0.0.1:{closed_port()}/v1"
        tree = make_tree(
            tmp_path,
            {
                "@": {"description": "root"},
                "legal": {"engines": [{"kind": "openai", "url": be["legal"].url, "model": "legal"}]},
                "contracts.legal": {
                    "engines": [{"kind": "openai", "url": dead, "model": "c"}],
                    "gateway": {"max_retries": 0},
                },
                "court.legal": {"description": "courts"},
            },
        )
        runtime = Runtime.build(tree, TwoLevels(), GatewaySettings(probes=False, warm_local=False))
        assert runtime.tracing is not None and isinstance(runtime.dispatcher, TracedDispatcher)
        caller_trace = "0af7651916cd43dd8448eb211c80319c"
        async with (
            serve_app(create_app(runtime)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as client,
        ):
            body = {"model": "auto", "messages": [{"role": "user", "content": "review this contract"}]}
            reply = await client.post(
                "/v1/chat/completions",
                content=orjson.dumps(body),
                headers={"traceparent": f"00-{caller_trace}-b7ad6b7169203331-01"},
            )
            assert reply.status_code == 200, reply.text
            assert reply.headers["x-semdns-name"] == "legal."  # contracts' only replica is down
            sent = be["legal"].fake.last_headers.get("traceparent", "")
            assert await asyncio.to_thread(runtime.tracing.flush)
        spans = [s for s in receiver.spans if s.trace_id.hex() == caller_trace]
        by_name: dict[str, list[Any]] = {}
        for span in spans:
            by_name.setdefault(span.name, []).append(span)
        assert set(by_name) >= {
            "semdns.request /v1/chat/completions",
            "semdns.resolve",
            "semdns.resolve.level",
            "semdns.cache.lookup",
            "semdns.dispatch",
            "semdns.attempt",
            "semdns.fallback",
            "semdns.engine.http POST",
        }, sorted(by_name)
        (request,) = by_name["semdns.request /v1/chat/completions"]
        assert request.parent_span_id.hex() == "b7ad6b7169203331"  # continues the caller's trace
        assert attributes(request)["semdns.name"] == "legal."
        levels = sorted(by_name["semdns.resolve.level"], key=lambda s: attributes(s)["semdns.depth"])
        assert [attributes(s)["semdns.node"] for s in levels] == [".", "legal."]
        assert attributes(levels[1])["semdns.stage"] == "embedding"
        assert attributes(levels[1])["semdns.scores"] == [0.81, 0.4]
        (resolve,) = by_name["semdns.resolve"]
        assert all(s.parent_span_id == resolve.span_id for s in levels)
        (dispatch,) = by_name["semdns.dispatch"]
        assert attributes(dispatch)["semdns.attempts"] == 2 and attributes(dispatch)["semdns.degraded"]
        attempts = by_name["semdns.attempt"]
        assert sorted(attributes(a)["semdns.outcome"] for a in attempts)[-1] == "ok"
        assert any(attributes(a)["semdns.outcome"] != "ok" for a in attempts)
        assert all(a.parent_span_id == dispatch.span_id for a in attempts)
        (fallback,) = by_name["semdns.fallback"]
        assert attributes(fallback) == {"semdns.source": "contracts.legal.", "semdns.target": "legal."}
        # the engine saw our trace, with the HTTP client span as its parent
        http_ok = [s for s in by_name["semdns.engine.http POST"] if s.span_id.hex() in sent]
        assert sent.startswith(f"00-{caller_trace}-") and len(http_ok) == 1
        assert http_ok[0].parent_span_id in {a.span_id for a in attempts}
        assert {s.name for s in spans if s.parent_span_id == request.span_id} >= {
            "semdns.resolve",
            "semdns.cache.lookup",
            "semdns.dispatch",
        }


async def test_a_streamed_answer_is_one_attempt_span_to_its_last_event(
    receiver: Receiver, tmp_path: Path
) -> None:
    async with backends("root") as be:
        tree = make_tree(
            tmp_path, {"@": {"engines": [{"kind": "openai", "url": be["root"].url, "model": "root"}]}}
        )
        runtime = Runtime.build(tree, TwoLevels(), GatewaySettings(probes=False, warm_local=False))
        assert runtime.tracing is not None
        async with (
            serve_app(create_app(runtime)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as client,
        ):
            body = {"model": ".", "stream": True, "messages": [{"role": "user", "content": "hi there"}]}
            reply = await client.post("/v1/chat/completions", content=orjson.dumps(body))
            assert reply.status_code == 200 and reply.text.rstrip().endswith("data: [DONE]")
            sent = be["root"].fake.last_headers["traceparent"]
            assert await asyncio.to_thread(runtime.tracing.flush)
    trace_id = sent.split("-")[1]
    spans = [s for s in receiver.spans if s.trace_id.hex() == trace_id]
    (attempt,) = [s for s in spans if s.name == "semdns.attempt"]
    assert attributes(attempt)["semdns.outcome"] == "ok" and attributes(attempt)["semdns.stream"]
    assert attributes(attempt)["semdns.events"] >= 3
    assert [e.name for e in attempt.events] == ["first event"]
    assert {s.name for s in spans} >= {"semdns.request /v1/chat/completions", "semdns.dispatch"}


async def test_traceparent_reaches_a_delegated_resolver(receiver: Receiver) -> None:
    peer = Receiver()  # any HTTP server that records headers stands in for the child resolver
    tracing = Tracing.from_env()
    assert tracing is not None
    client = PeerClient(form="json")
    client.trace_configs = tracing.trace_configs()
    try:
        async with serve_app(peer) as server:
            with tracing.tracer.start_as_current_span("parent") as span:
                with pytest.raises(DelegationError):  # the stand-in answers 404
                    await client.ask(server.url, Query(id="q1", zone=".", text="x"), 5.0)
                trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        await client.aclose()
        await asyncio.to_thread(tracing.shutdown)
    assert peer.headers and peer.headers[0]["traceparent"].startswith(f"00-{trace_id}-")


async def test_no_endpoint_no_tracing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert Tracing.from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "  "}) is None
    tree = make_tree(tmp_path, {"@": {"description": "root"}})
    runtime = Runtime.build(tree, TwoLevels(), GatewaySettings(probes=False, warm_local=False))
    assert runtime.tracing is None and type(runtime.dispatcher) is Dispatcher
    assert isinstance(runtime.resolver, TwoLevels) and runtime.edge is not None
    assert runtime.edge.tracer is None and runtime.client.trace_configs is None
