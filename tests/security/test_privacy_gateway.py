"""The privacy policy on the request path, over a real gateway and a fake engine: what the engine
receives, what the client gets back, what the response cache and the logs hold."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.helpers import Backend, Gateway, StubResolver, backends, engine, gateway, make_tree, sse_events
from semdns.gateway import GatewaySettings
from semdns.names import Name
from semdns.resolve.decision import RoutingDecision

pytestmark = pytest.mark.anyio

CARD = "4111 1111 1111 1111"
CARD_2 = "5500 0000 0000 0004"
EMAIL = "jane.roe@example.org"


class RecordingResolver(StubResolver):
    """The stub resolver, remembering every query it was asked to resolve."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queries: list[str] = []

    async def aresolve(self, query: str, context: str | None = None) -> RoutingDecision:
        self.queries.append(query)
        return await super().aresolve(query, context)


@contextlib.asynccontextmanager
async def setup(
    tmp_path: Path, apex: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Gateway, Backend, RecordingResolver]]:
    async with backends("root", "bank") as b:
        root: dict[str, Any] = {"engines": [engine(b["root"])]}
        if apex:
            root["privacy"] = apex
        tree = make_tree(
            tmp_path,
            {
                "@": root,
                "bank": {"engines": [engine(b["bank"])], "privacy": {"action": "mask"}},
                "cards.bank": {
                    "engines": [engine(b["bank"])],
                    "privacy": {"action": "mask", "restore": False},
                },
                "vault": {
                    "engines": [engine(b["bank"])],
                    "privacy": {"action": "refuse", "detectors": ["card"]},
                },
                "chat": {"engines": [engine(b["root"])]},
            },
        )
        resolver = RecordingResolver([("card", "bank."), ("vault", "vault."), ("chat", "chat.")])
        settings = GatewaySettings(probes=False, warm_local=False)
        async with gateway(tree, resolver, settings) as gw:
            yield gw, b["bank"], resolver


def sent_text(backend: Backend) -> str:
    assert backend.fake.last_body is not None
    return orjson.dumps(backend.fake.last_body).decode()


def everything_in(obj: object, seen: set[int] | None = None, depth: int = 0) -> list[bytes]:
    """Every str/bytes reachable from ``obj`` (dicts, sequences, attributes), as bytes."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or depth > 12:
        return []
    seen.add(id(obj))
    if isinstance(obj, str):
        return [obj.encode()]
    if isinstance(obj, bytes | bytearray | memoryview):
        return [bytes(obj)]
    out: list[bytes] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += everything_in(k, seen, depth + 1) + everything_in(v, seen, depth + 1)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            out += everything_in(v, seen, depth + 1)
    elif hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
        names = list(getattr(obj, "__dict__", {})) + list(getattr(obj, "__slots__", ()))
        for name in names:
            out += everything_in(getattr(obj, name, None), seen, depth + 1)
    return out


async def test_a_card_number_is_masked_before_the_engine_and_restored_for_the_client(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with setup(tmp_path) as (gw, bank, _):
            bank.fake.behaviour.reply = "I blocked card [CARD_1] and wrote to [EMAIL_1]"
            prompt = f"please block my card {CARD}, then mail {EMAIL}"
            response = await gw.chat(prompt, temperature=0)
            assert response.status_code == 200, response.text
            sent = sent_text(bank)
            assert CARD not in sent and EMAIL not in sent
            assert "[CARD_1]" in sent and "[EMAIL_1]" in sent
            body = response.json()
            assert body["choices"][0]["message"]["content"] == f"I blocked card {CARD} and wrote to {EMAIL}"
            assert body["semdns"]["privacy"] == {
                "action": "mask",
                "found": {"card": 1, "email": 1},
                "restored": True,
            }
            assert response.headers["x-semdns-privacy"] == "masked; card=1,email=1; restored"
            edge = gw.runtime.edge
            assert edge is not None and edge.cache is not None
            await edge.cache.drain()
            stored = b"\n".join(everything_in(edge))
            assert b"[CARD_1]" in stored  # the masked request and answer are cached...
            for secret in (CARD, CARD.replace(" ", ""), EMAIL):
                assert secret.encode() not in stored  # ...the originals are not
            # The same request with another card: a cache hit, restored with this request's card.
            again = await gw.chat(f"please block my card {CARD_2}, then mail {EMAIL}", temperature=0)
            assert again.headers["x-semdns-response-cache"] == "hit"
            assert (
                again.json()["choices"][0]["message"]["content"]
                == f"I blocked card {CARD_2} and wrote to {EMAIL}"
            )
    logged = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    assert CARD not in logged and CARD_2 not in logged and EMAIL not in logged


async def test_restore_off_keeps_placeholders(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, bank, _):
        bank.fake.behaviour.reply = "card [CARD_1] blocked"
        response = await gw.chat(f"card {CARD} lost", model="cards.bank")
        assert response.json()["choices"][0]["message"]["content"] == "card [CARD_1] blocked"
        assert response.headers["x-semdns-privacy"] == "masked; card=1"


async def test_refuse_names_the_kind_never_the_value(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, bank, _):
        before = bank.fake.requests
        response = await gw.chat(f"vault: store {CARD}")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "personal_data_refused" and error["param"] == "messages"
        assert "card (1)" in error["message"] and CARD not in response.text
        assert bank.fake.requests == before
        # Its detectors are cards only: an e-mail address passes.
        assert (await gw.chat(f"vault: write to {EMAIL}")).status_code == 200
        assert EMAIL in sent_text(bank)


async def test_pass_sends_the_prompt_as_written(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, _, _r):
        response = await gw.chat(f"chat about {CARD}")
        assert response.status_code == 200 and "x-semdns-privacy" not in response.headers


async def test_streams_are_masked_and_keep_placeholders(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, bank, _):
        bank.fake.behaviour.reply = "blocked [CARD_1] now"
        response = await gw.chat(f"card {CARD}", stream=True)
        assert response.status_code == 200
        assert CARD not in sent_text(bank)
        text = "".join(
            orjson.loads(e)["choices"][0]["delta"].get("content") or ""
            for e in sse_events(response.text)[:-1]
        )
        assert "[CARD_1]" in text
        assert response.headers["x-semdns-privacy"] == "masked; card=1"


async def test_completions_prompts_are_masked(tmp_path: Path) -> None:
    async with setup(tmp_path) as (gw, bank, _):
        payload = {"model": "bank", "prompt": f"my IBAN is DE89 3704 0044 0532 0130 00 and card {CARD}"}
        response = await gw.client.post("/v1/completions", content=orjson.dumps(payload))
        assert response.status_code == 200, response.text
        sent = sent_text(bank)
        assert "[IBAN_1]" in sent and "[CARD_1]" in sent and "DE89" not in sent


async def test_an_apex_policy_masks_before_resolution(tmp_path: Path) -> None:
    async with setup(tmp_path, apex={"action": "mask"}) as (gw, _bank, resolver):
        response = await gw.chat(f"chat: my card is {CARD}")
        assert response.status_code == 200
        assert resolver.queries and all(CARD not in q for q in resolver.queries)
        assert "[CARD_1]" in resolver.queries[-1]


async def test_a_fan_out_follows_the_strictest_policy(tmp_path: Path) -> None:
    async with backends("a", "b") as b:
        tree = make_tree(
            tmp_path,
            {
                "@": {"engines": [engine(b["a"])]},
                "open": {"engines": [engine(b["a"])]},
                "strict": {"engines": [engine(b["b"])], "privacy": {"action": "mask"}},
            },
        )
        resolver = StubResolver([("both", "open.")], names=["open.", "strict."])
        async with gateway(tree, resolver) as gw:
            response = await gw.chat(f"both: {CARD}")
            assert response.status_code == 200, response.text
            for backend in b.values():
                assert CARD not in sent_text(backend)


@pytest.mark.parametrize(
    ("privacy", "message"),
    [
        ({"action": "scrub"}, "privacy.action"),
        ({"detectors": ["name"]}, "named-entity model"),
        ({"detectors": []}, "detectors is empty"),
        ({"detectors": ["email", "passport"]}, "unknown detector 'passport'"),
        ({"restore": "sometimes"}, "privacy.restore"),
        ({"mask": True}, "mask"),
    ],
)
def test_bad_privacy_settings_are_zone_errors(tmp_path: Path, privacy: dict[str, Any], message: str) -> None:
    from semdns.errors import ZoneError

    with pytest.raises(ZoneError) as info:
        make_tree(tmp_path, {"@": {"privacy": privacy}})
    assert message in str(info.value)
    assert "gateway-zone.yaml:" in str(info.value)


def test_node_privacy_replaces_the_zones_fields(tmp_path: Path) -> None:
    import yaml

    from semdns.zone import load_zone_files

    path = tmp_path / "z.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "origin": ".",
                "privacy": {"action": "mask", "detectors": ["card"]},
                "nodes": {"@": {}, "a": {"privacy": {"action": "refuse"}}},
            }
        )
    )
    tree = load_zone_files([path])
    assert tree.nodes[Name.parse(".")].privacy.action == "mask"
    a = tree.nodes[Name.parse("a.")].privacy
    assert a.action == "refuse" and a.detectors == ("card",)


def test_the_masking_is_read_from_the_request_state_without_it_being_there() -> None:
    from starlette.requests import Request

    from semdns.gateway.privacy_gate import _STATE_KEY, _held
    from semdns.privacy.policy import Masking

    def request(state: dict[str, Any] | None) -> Request:
        scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/", "headers": []}
        if state is not None:
            scope["state"] = state
        return Request(scope)

    assert _held(request(None)) is None
    assert _held(request({})) is None
    assert _held(request({_STATE_KEY: "not a masking"})) is None
    held = request({})
    masking = Masking()
    setattr(held.state, _STATE_KEY, masking)  # as shield keeps it
    assert _held(held) is masking
