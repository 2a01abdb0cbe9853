"""Confidence cascades on real servers (127.0.0.1): an unsure specialist (low token log-probabilities)
hands over to its parent or its policy's target within the deadline; streams are decided before the
first byte; the answer says whether and why it escalated; malformed policies fail zone loading."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.helpers import backends, engine, gateway, make_tree, sse_events
from semdns.errors import ZoneError
from semdns.zone import load_zone_files

pytestmark = pytest.mark.anyio


def _tree(tmp_path: Path, b: dict[str, Any], **cascade: Any) -> Any:
    policy = {"enabled": True, "threshold": -1.0, **cascade}
    return make_tree(
        tmp_path,
        {
            "@": {"engines": [engine(b["root"])]},
            "legal": {"engines": [engine(b["legal"])], "cascade": policy},
            "large": {"engines": [engine(b["large"])]},
        },
    )


async def test_unsure_specialist_escalates_to_its_parent(tmp_path: Path) -> None:
    async with backends("root", "legal", "large") as b:
        b["legal"].fake.behaviour.logprob = -3.0
        b["root"].fake.behaviour.logprob = -0.2
        async with gateway(_tree(tmp_path, b)) as gw:
            response = await gw.chat("a lease question", model="legal")
            metrics = (await gw.client.get("/metrics")).text
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "hello from root"
    assert body["choices"][0].get("logprobs") is None  # the client did not ask for them
    assert response.headers["x-semdns-cascade"].startswith("escalated; from=legal.; to=.; score=-3.000")
    cascade = body["semdns"]["cascade"]
    assert cascade["escalated"] is True and cascade["path"] == ["legal.", "."]
    assert cascade["scores"] == [-3.0, -0.2] and cascade["reason"] == "escalated:confident"
    assert body["semdns"]["name"] == "."
    assert b["legal"].fake.last_body is not None and b["legal"].fake.last_body["logprobs"] is True
    assert (
        'semdns_cascade_total{name="legal.",outcome="escalated",reason="escalated:confident"} 1.0' in metrics
    )


async def test_confident_answer_is_kept_and_logprobs_pass_when_asked(tmp_path: Path) -> None:
    async with backends("root", "legal", "large") as b:
        b["legal"].fake.behaviour.logprob = -0.3
        async with gateway(_tree(tmp_path, b, score="min")) as gw:
            plain = await gw.chat("a lease question", model="legal")
            asked = await gw.chat("a lease question", model="legal", logprobs=True)
    assert plain.json()["choices"][0]["message"]["content"] == "hello from legal"
    assert plain.headers["x-semdns-cascade"] == "kept; score=-0.300; threshold=-1.0; reason=confident"
    assert plain.json()["semdns"]["cascade"]["statistic"] == "min"
    assert b["root"].fake.requests == 0
    content = asked.json()["choices"][0]["logprobs"]["content"]
    assert [t["token"] for t in content] == ["hello", "from", "legal"]


async def test_target_then_no_logprobs_and_target_failure(tmp_path: Path) -> None:
    async with backends("root", "legal", "large") as b:
        b["legal"].fake.behaviour.logprob = -2.0
        b["large"].fake.behaviour.ignore_logprobs = True  # a target that returns no logprobs
        async with gateway(_tree(tmp_path, b, target="large")) as gw:
            to_target = await gw.chat("q", model="legal")
            b["large"].fake.behaviour.fail_status = 400
            failed = await gw.chat("q", model="legal")
            b["legal"].fake.behaviour.ignore_logprobs = True
            none = await gw.chat("q", model="legal")
    assert to_target.json()["choices"][0]["message"]["content"] == "hello from large"
    assert to_target.json()["semdns"]["cascade"]["path"] == ["legal.", "large."]
    assert to_target.json()["semdns"]["cascade"]["scores"] == [-2.0, None]
    assert failed.json()["choices"][0]["message"]["content"] == "hello from legal"
    assert failed.json()["semdns"]["cascade"]["reason"] == "target_failed"
    assert none.json()["semdns"]["cascade"] == {
        "escalated": False,
        "path": ["legal."],
        "scores": [None],
        "statistic": "mean",
        "threshold": -1.0,
        "reason": "no_logprobs",
    }


async def test_no_time_left_means_no_escalation(tmp_path: Path) -> None:
    async with backends("root", "legal", "large") as b:
        b["legal"].fake.behaviour.logprob = -5.0
        async with gateway(_tree(tmp_path, b, min_remaining_s=3600)) as gw:
            response = await gw.chat("q", model="legal")
    assert response.json()["semdns"]["cascade"]["reason"] == "deadline"
    assert b["root"].fake.requests == 0


def _streamed(response: Any) -> tuple[str, list[dict[str, Any]]]:
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks), chunks


@pytest.mark.parametrize("mode", ["prefix", "buffer"])
async def test_streams_are_decided_before_the_first_byte(tmp_path: Path, mode: str) -> None:
    async with backends("root", "legal", "large") as b:
        b["legal"].fake.behaviour.reply = "uncertain words from the legal specialist here"
        b["legal"].fake.behaviour.chunks = 4
        b["legal"].fake.behaviour.logprob = -4.0
        b["root"].fake.behaviour.logprob = -0.1
        async with gateway(_tree(tmp_path, b, stream=mode, prefix_tokens=2)) as gw:
            low = await gw.chat("q", model="legal", stream=True)
            b["legal"].fake.behaviour.logprob = -0.1
            high = await gw.chat("q", model="legal", stream=True)
    text, chunks = _streamed(low)
    assert text == "hello from root" and "legal" not in text
    assert chunks[0]["semdns"]["cascade"]["path"] == ["legal.", "."]
    assert low.headers["x-semdns-cascade"].startswith("escalated; from=legal.; to=.")
    text, chunks = _streamed(high)
    assert text == "uncertain words from the legal specialist here"
    assert all(c["choices"][0].get("logprobs") is None for c in chunks)
    assert high.headers["x-semdns-cascade"].startswith("kept;")


WriteZone = Callable[..., Path]

MALFORMED = [
    pytest.param("cascade:\n  threshold: 0.5\n", 3, "less than or equal to 0", id="positive-threshold"),
    pytest.param("cascade:\n  score: median\n", 3, "'mean' or 'min'", id="score"),
    pytest.param("cascade:\n  target: '..x'\n", 3, "target must be a semantic name", id="target"),
    pytest.param("cascade:\n  stream: later\n", 3, "'prefix' or 'buffer'", id="stream"),
    pytest.param("cascade:\n  max_escalations: 0\n", 3, "greater than or equal to 1", id="escalations"),
    pytest.param("cascade:\n  verifier: yes\n", 3, "verifier", id="unknown-field"),
]


@pytest.mark.parametrize(("block", "line", "message"), MALFORMED)
def test_malformed_cascade_blocks(write_zone: WriteZone, block: str, line: int, message: str) -> None:
    path = write_zone("origin: .\n" + block + "nodes:\n  '@': {}\n")
    with pytest.raises(ZoneError) as info:
        load_zone_files([path])
    text = str(info.value)
    assert f"{path}:{line}:" in text and "cascade" in text and message in text, text
