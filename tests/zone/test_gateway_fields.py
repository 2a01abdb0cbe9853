"""The zone fields the gateway added (``gateway:`` per node, ``timeout_s`` per engine): defaults keep
old files valid, and each malformed value is reported with file, line and what to change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from semdns.errors import ZoneError
from semdns.names import Name
from semdns.zone import load_zone_files

WriteZone = Callable[..., Path]

ENGINE = "    engines:\n      - kind: openai\n        url: http://127.0.0.1:1/v1\n        model: m\n"


def test_defaults_and_overrides(write_zone: WriteZone) -> None:
    text = (
        "origin: .\nnodes:\n  '@':\n"
        + ENGINE
        + "        timeout_s: 2.5\n"
        + "    gateway:\n      balancing: prefix_affinity\n      max_retries: 1\n"
        + "      breaker: {consecutive_failures: 3}\n  legal: {}\n"
    )
    tree = load_zone_files([write_zone(text)])
    root = tree.node(Name.parse("."))
    assert root.gateway.balancing == "prefix_affinity"
    assert root.gateway.breaker.consecutive_failures == 3
    assert root.gateway.breaker.sleep_s == 10.0
    assert root.engines[0].timeout_s == 2.5
    assert tree.node(Name.parse("legal.")).gateway.balancing == "least_outstanding"


MALFORMED = [
    pytest.param("    gateway:\n      balancing: random\n", 5, "least_outstanding", id="bad-balancing"),
    pytest.param("    gateway:\n      attempt_timeout_s: 0\n", 5, "greater than 0", id="zero-timeout"),
    pytest.param(
        "    gateway:\n      attempt_timeout_s: 10\n      deadline_s: 5\n",
        4,
        "deadline_s",
        id="deadline-short",
    ),
    pytest.param(
        "    gateway:\n      max_retries: -1\n", 5, "greater than or equal to 0", id="negative-retries"
    ),
    pytest.param(
        "    gateway:\n      retries: 2\n", 5, "unknown field 'retries'", id="unknown-gateway-field"
    ),
    pytest.param("    gateway:\n      prefix_tokens: 0\n", 5, "greater than or equal to 1", id="zero-prefix"),
    pytest.param(
        "    gateway:\n      probe_interval_s: -1\n", 5, "greater than or equal to 0", id="bad-probe"
    ),
    pytest.param(
        "    gateway:\n      breaker:\n        error_rate: 1.5\n",
        6,
        "less than or equal to 1",
        id="bad-error-rate",
    ),
    pytest.param("    gateway:\n      breaker:\n        sleep_s: 0\n", 6, "greater than 0", id="zero-sleep"),
    pytest.param(
        "    gateway:\n      breaker:\n        half_open_probes: 0\n",
        6,
        "greater than or equal to 1",
        id="zero-probes",
    ),
    pytest.param(
        "    gateway:\n      breaker:\n        trips: 3\n",
        6,
        "unknown field 'trips'",
        id="unknown-breaker-field",
    ),
    pytest.param(ENGINE + "        timeout_s: -1\n", 8, "greater than 0", id="bad-engine-timeout"),
]


@pytest.mark.parametrize(("snippet", "line", "message"), MALFORMED)
def test_malformed_gateway_fields(write_zone: WriteZone, snippet: str, line: int, message: str) -> None:
    path = write_zone("origin: .\nnodes:\n  '@':\n" + snippet, "bad.yaml")
    with pytest.raises(ZoneError) as info:
        load_zone_files([path])
    first = str(info.value.issues[0])
    assert first.startswith(f"{path}:{line}:"), first
    assert message in first, first
