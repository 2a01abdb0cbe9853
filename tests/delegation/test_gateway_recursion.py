"""Chat requests through a parent gateway follow delegations end to end (real processes on 127.0.0.1).

The example's three resolvers run as ``semdns serve`` processes (test_processes.Cluster); their zone
files are rewritten so that every engine of the ``legal.`` child points at one fake OpenAI backend and
the root's glue engines for ``legal.`` at another, so no model runs and each answer says who served it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from test_processes import LEGAL_Q, Cluster

from semdns.testing import FakeInThread, FakeOpenAI


def _point_engines(path: Path, url: str, only: str | None = None) -> None:
    """Every engine of the zone file (or of the node ``only``) becomes the fake at ``url``."""
    zone: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for name, node in zone["nodes"].items():
        if node.get("engines") and (only is None or name == only):
            node["engines"] = [{"kind": "openai", "url": url + "/v1", "model": f"fake-{name}"}]
    path.write_text(yaml.safe_dump(zone, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, FakeOpenAI, FakeOpenAI]]:
    child, glue = FakeInThread("child"), FakeInThread("glue")
    for backend in (child, glue):
        backend.start()
        assert backend.ready.wait(10)
    made = Cluster(tmp_path_factory.mktemp("recursion"))
    _point_engines(made.folder / "legal.yaml", child.url)
    _point_engines(made.folder / "root.yaml", glue.url, only="legal.")
    try:
        made.start()
        yield made, child.fake, glue.fake
    finally:
        for zone in made.procs:
            made.stop(zone)
        child.stop()
        glue.stop()


def _chat(url: str, model: str, *, stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": LEGAL_Q}], "stream": stream}
    return httpx.post(url + "/v1/chat/completions", json=body, timeout=30)


def test_auto_is_followed_to_the_child_and_served_by_its_engine(
    setup: tuple[Cluster, FakeOpenAI, FakeOpenAI],
) -> None:
    cluster, child, _ = setup
    response = _chat(cluster.urls["."], "auto")
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["choices"][0]["message"]["content"] == "hello from child"
    assert child.last_body is not None and child.last_body["model"] == "fake-contracts"
    assert response.headers["x-semdns-resolved"] == "contracts.legal."
    assert response.headers["x-semdns-name"] == "contracts.legal."
    assert response.headers["x-semdns-delegated-to"] == cluster.urls["legal."]
    assert "x-semdns-degraded" not in response.headers
    field = payload["semdns"]
    assert field["name"] == "contracts.legal." and field["delegated_to"] == cluster.urls["legal."]
    assert field["delegation"] == {"followed": True, "degraded": False, "stale": False, "errors": []}
    assert field["child"]["name"] == "contracts.legal." and field["child"]["stage"] == "explicit"


def test_explicit_name_under_a_delegation_is_forwarded(
    setup: tuple[Cluster, FakeOpenAI, FakeOpenAI],
) -> None:
    cluster, child, _ = setup
    response = _chat(cluster.urls["."], "contracts.legal")
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "hello from child"
    assert response.headers["x-semdns-name"] == "contracts.legal."
    assert response.headers["x-semdns-delegated-to"] == cluster.urls["legal."]
    assert child.last_body is not None and child.last_body["model"] == "fake-contracts"
    assert _chat(cluster.urls["."], "nothing.legal").status_code == 404  # the child does not define it
    assert _chat(cluster.urls["."], "nothing.creative").status_code == 404  # no delegation covers it


def test_streaming_through_the_parent(setup: tuple[Cluster, FakeOpenAI, FakeOpenAI]) -> None:
    cluster, _, _ = setup
    response = _chat(cluster.urls["."], "auto", stream=True)
    assert response.status_code == 200, response.text
    assert response.headers["x-semdns-delegated-to"] == cluster.urls["legal."]
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    first = json.loads(events[0])
    assert first["semdns"]["name"] == "contracts.legal."
    assert first["semdns"]["child"]["name"] == "contracts.legal."
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert text == "hello from child"


def test_child_down_is_served_by_the_glue_flagged_degraded(
    setup: tuple[Cluster, FakeOpenAI, FakeOpenAI],
) -> None:
    """Last in the file: it stops the legal. resolver."""
    cluster, _, glue = setup
    cluster.stop("legal.")
    # Another legal question: the follower has no cached answer for it.
    body = {"model": "auto", "messages": [{"role": "user", "content": "Can I patent a recipe?"}]}
    response = httpx.post(cluster.urls["."] + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["choices"][0]["message"]["content"] == "hello from glue"
    assert glue.last_body is not None and glue.last_body["model"] == "fake-legal."
    assert response.headers["x-semdns-resolved"] == "legal."
    assert response.headers["x-semdns-degraded"] == "true"
    assert "x-semdns-delegated-to" not in response.headers
    delegation = payload["semdns"]["delegation"]
    assert delegation["degraded"] and delegation["errors"][0]["code"] == "peer_unavailable"
    # An explicit name under the delegation falls back to the glue too, flagged.
    explicit = _chat(cluster.urls["."], "contracts.legal")
    assert explicit.status_code == 200, explicit.text
    assert explicit.json()["choices"][0]["message"]["content"] == "hello from glue"
    assert explicit.headers["x-semdns-name"] == "legal."
    assert explicit.headers["x-semdns-fallback"] == "contracts.legal.->legal."
    assert explicit.headers["x-semdns-degraded"] == "true"
