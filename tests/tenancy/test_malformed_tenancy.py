"""Malformed tenants files through ``semdns tenant add`` and ``semdns serve --tenants``, and a gateway
URL that answers something other than the gateway's JSON for ``semdns cache stats | purge``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app
from semdns.errors import TenantsFileError
from semdns.tenancy import load_tenants

SMALL = Path(__file__).parent.parent / "data" / "zones" / "small.yaml"
BAD = "tenants:\n  acme:\n    requests_per_min: 0\n"
_register()
runner = CliRunner()


def test_tenant_add_refuses_an_invalid_file_with_its_line_and_leaves_it_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = runner.invoke(app, ["tenant", "add", "bob", "--file", str(path)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert f"error: {path}:3: tenants.acme.requests_per_min" in result.output
    assert "sk-" not in result.stdout  # no key printed for a tenant that was not stored
    assert path.read_text(encoding="utf-8") == BAD


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--requests-per-min", "0"], "requests_per_min"),
        (["--outside", "fallback"], "outside"),
        (["--subtree", "bad name!"], "bad name!"),
    ],
)
def test_tenant_add_refuses_bad_settings_and_leaves_the_file_unchanged(
    tmp_path: Path, args: list[str], message: str
) -> None:
    path = tmp_path / "tenants.yaml"
    runner.invoke(app, ["tenant", "add", "acme", "--file", str(path)])
    before = path.read_text(encoding="utf-8")
    result = runner.invoke(app, ["tenant", "add", "bob", "--file", str(path), *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "error: " in result.output and message in result.output
    assert path.read_text(encoding="utf-8") == before


def test_tenant_add_refuses_a_bad_tenant_name(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    result = runner.invoke(app, ["tenant", "add", "Acme Corp", "--file", str(path)])
    assert result.exit_code == 2 and "must be lower-case" in result.output
    assert not path.exists()


def test_a_tenants_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_bytes(b"tenants:\n  caf\xe9: {}\n")
    with pytest.raises(TenantsFileError, match=r"tenants\.yaml: cannot read the tenants file"):
        load_tenants(path)
    served = runner.invoke(app, ["serve", "--zone", str(SMALL), "--port", "1", "--tenants", str(path)])
    assert served.exit_code == 2, served.output
    assert f"error: {path}: cannot read the tenants file" in served.output


def test_serve_refuses_an_invalid_tenants_file_with_its_line_before_building_anything(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = runner.invoke(app, ["serve", "--zone", str(SMALL), "--port", "1", "--tenants", str(path)])
    assert result.exit_code == 2, result.output
    assert f"error: {path}:3: tenants.acme.requests_per_min" in result.output
    assert "building the resolver" not in result.output


def test_tenant_add_on_a_file_that_is_not_utf8_names_it(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    raw = b"tenants:\n  caf\xe9: {}\n"
    path.write_bytes(raw)
    result = runner.invoke(app, ["tenant", "add", "bob", "--file", str(path)])
    assert path.read_bytes() == raw
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and f"error: {path}" in result.output


# -- semdns cache stats | purge against something that is not (quite) the gateway ------------------


@pytest.fixture
def not_a_gateway() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 answering every request with the body its path asks for."""
    seen: list[str] = []
    answers = {
        "/error/admin/cache/stats": (401, "application/json", b'{"error": {"message": "give an admin key"}}'),
        "/html/admin/cache/stats": (404, "text/html", b"<html>not here</html>"),
        "/html/admin/cache/purge": (404, "text/html", b"<html>not here</html>"),
        "/ok-html/admin/cache/stats": (200, "text/html", b"<html>welcome</html>"),
    }

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            status, kind, body = answers.get(self.path.split("?")[0], (500, "text/plain", b"?"))
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_cache_stats_shows_the_gateways_error_message(not_a_gateway: tuple[str, list[str]]) -> None:
    url, seen = not_a_gateway
    result = runner.invoke(app, ["cache", "stats", "--url", f"{url}/error"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "error: 401: give an admin key" in result.output
    assert seen == ["GET /error/admin/cache/stats"]


def test_cache_stats_cannot_reach_a_closed_port() -> None:
    result = runner.invoke(app, ["cache", "stats", "--url", "http://127.0.0.1:1"])
    assert result.exit_code == 1 and "error: cannot reach the gateway at http://127.0.0.1:1" in result.output


@pytest.mark.parametrize(
    ("command", "prefix"), [("stats", "/html"), ("purge", "/html"), ("stats", "/ok-html")]
)
def test_cache_commands_refuse_an_answer_that_is_not_json(
    not_a_gateway: tuple[str, list[str]], command: str, prefix: str
) -> None:
    url, _seen = not_a_gateway
    result = runner.invoke(app, ["cache", command, "--url", url + prefix])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1 and "error: " in result.output and url in result.output
