"""bench/gateway.py's wrk load generator: every request the next unique body, its figures read back,
and a run that runs out of unique prompts refused rather than reported. Needs Debian's wrk (the
benchmark's optional load generator); skipped where it is not installed."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from bench_scripts import load_bench

pytestmark = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        _Recorder.seen.append(json.loads(body)["messages"][0]["content"])
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """wrk resets its connections when it stops: expected here, not worth a traceback."""


@pytest.fixture
def server() -> Iterator[int]:
    _Recorder.seen = []
    httpd = _Quiet(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield int(httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def test_each_request_is_a_different_prompt_and_the_figures_come_back(server: int) -> None:
    gateway = load_bench("gateway")
    prompts = [f'question number {i}: what is {i} squared?\nanswer "briefly"' for i in range(20_000)]
    row = gateway._wrk_unique(server, prompts, 4, 1)
    assert row["requests"] > 0 and row["errors"] == 0 and row["rps"] > 0
    assert 0 <= row["load_generator_cpu_cores"] < 2
    assert len(_Recorder.seen) == len(set(_Recorder.seen)) >= row["requests"]  # none repeated
    assert set(_Recorder.seen) <= set(prompts)


def test_running_out_of_unique_prompts_is_refused(server: int) -> None:
    gateway = load_bench("gateway")
    with pytest.raises(SystemExit, match="ran out of unique prompts"):
        gateway._wrk_unique(server, ["only", "three", "prompts"], 2, 1)
