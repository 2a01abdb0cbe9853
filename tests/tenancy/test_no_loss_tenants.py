"""``semdns tenant add`` loses nothing when the write goes wrong: a disk that fills up mid-write, a
folder that is a file, a tenants file kept private (0600) or reached through a symlink, a file of the
temporary file's name. The previous file must survive byte for byte, nothing half-written may be left
beside it, and the error must name the path (exit status, not a traceback).

A full disk is real here, not mocked: ``RLIMIT_FSIZE`` makes every write past the limit fail with
EFBIG, whatever API the code writes with (and it works as root, unlike a read-only folder)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml
from typer.testing import CliRunner

from disk_full import disk_full_after
from semdns.cli import _register, app
from semdns.tenancy import add_tenant_key, hash_key, load_tenants

_register()
runner = CliRunner()

H1 = "sha256:" + "1" * 64
FILE = f"""\
# Tenants of the staging gateway. Owner: platform team.
tenants:
    acme:
        keys:
            - {H1}   # laptop key
        requests_per_min: 600
"""


def add(path: Path, name: str = "bob") -> object:
    return runner.invoke(app, ["tenant", "add", name, "--file", str(path)])


def test_a_disk_full_mid_write_leaves_the_old_file_byte_for_byte_and_prints_no_key(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(FILE, encoding="utf-8")
    before = path.read_bytes()
    with disk_full_after(64):  # the new text is longer than the old: cut in its first line
        result = runner.invoke(app, ["tenant", "add", "bob", "--file", str(path)])
    assert result.exit_code != 0, result.output
    assert path.read_bytes() == before
    assert "sk-semdns-" not in result.stdout  # a key whose hash was not stored must not be handed out
    assert set(load_tenants(path).by_name) == {"acme"}


def test_a_disk_full_mid_write_is_a_clear_error_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(FILE, encoding="utf-8")
    with disk_full_after(64):
        result = runner.invoke(app, ["tenant", "add", "bob", "--file", str(path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tenants.yaml"]
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and "error: " in result.output and str(path) in result.output


def test_a_tenants_file_under_a_regular_file_is_a_clear_error_and_the_file_is_kept(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    path = blocker / "tenants.yaml"
    result = add(path)
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2 and "error: " in result.output and str(path) in result.output
    assert "sk-semdns-" not in result.stdout


def test_a_private_tenants_file_stays_private(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(FILE, encoding="utf-8")
    path.chmod(0o600)
    result = add(path)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_symlinked_tenants_file_is_updated_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "config" / "tenants.yaml"
    real.parent.mkdir()
    real.write_text(FILE, encoding="utf-8")
    link = tmp_path / "tenants.yaml"
    link.symlink_to(real)
    result = add(link)
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[0]
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert hash_key(key) in real.read_text(encoding="utf-8")


def test_a_file_named_like_the_temporary_file_is_not_clobbered(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(FILE, encoding="utf-8")
    mine = tmp_path / "tenants.yaml.tmp"
    mine.write_text("my notes, not semdns's\n", encoding="utf-8")
    result = add(path)
    assert result.exit_code == 0, result.output
    assert mine.read_text(encoding="utf-8") == "my notes, not semdns's\n"


def test_a_successful_add_leaves_only_the_tenants_file(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(FILE, encoding="utf-8")
    result = add(path)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tenants.yaml"]
    assert set(load_tenants(path).by_name) == {"acme", "bob"}
    assert path.read_text(encoding="utf-8").startswith(FILE.splitlines()[0])  # the comment is kept


def _add_many(job: tuple[str, int]) -> list[str]:
    folder, worker = job
    return [add_tenant_key(Path(folder) / "tenants.yaml", f"w{worker}-{i}") for i in range(6)]


def test_adds_at_the_same_time_take_turns_and_every_key_lands(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "tenants.yaml"
    add_tenant_key(path, "first")
    # Spawned, not forked: the test process has other threads (model workers, runtime pools) by the
    # time this runs, and a child forked while one of them held a lock waited on it for ever (a fresh
    # clone's CI hung here on 2026-12-01). Spawned children start clean and take the same file lock.
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        keys = [key for batch in pool.map(_add_many, [(str(tmp_path), w) for w in range(4)]) for key in batch]
    tenants = yaml.safe_load(path.read_text(encoding="utf-8"))["tenants"]
    assert len(tenants) == 1 + 24, "an edit replaced another's"
    stored = {h for entry in tenants.values() for h in entry["keys"]}
    assert {hash_key(key) for key in keys} <= stored
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tenants.yaml"], "nothing left behind"
