"""`semdns serve --host 0.0.0.0` as a user runs it (a real process, no tenants file): a client from
another address of this machine is refused with the fix; loopback is served."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from security.netaddr import local_non_loopback_ipv4

OTHER = local_non_loopback_ipv4()
REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(OTHER is None, reason="this machine has no non-loopback IPv4 address")
def test_serve_on_every_interface_without_tenants_is_protected(tmp_path: Path) -> None:
    zone = tmp_path / "zone.yaml"
    zone.write_text("origin: .\nnodes:\n  '@':\n    description: everything\n", encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1"}
    env.pop("SEMDNS_TENANTS_FILE", None)
    env.pop("SEMDNS_INSECURE_OPEN", None)
    command = [sys.executable, "-c", "from semdns.cli import main; main()", "serve", "--zone", str(zone),
               "--host", "0.0.0.0", "--port", str(port), "--lazy-local", "--no-probes"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "semdns serve exited"
            assert time.monotonic() < deadline, "semdns serve did not start within 60 s"
            time.sleep(0.2)
        far = httpx.get(f"http://{OTHER}:{port}/v1/models", timeout=5, trust_env=False)
        assert far.status_code == 403
        assert "--tenants" in far.json()["error"]["message"]
        near = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=5, trust_env=False)
        assert near.status_code == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert "protected mode" in output
