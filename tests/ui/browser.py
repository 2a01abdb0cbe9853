"""Chromium for the console tests: Debian's system binary, launched by Playwright.

Playwright's own browser download does not work on these machines, so the tests launch the system
binary (``SEMDNS_CHROMIUM``, else ``/usr/bin/chromium``, else ``chromium`` on PATH). When none is
installed, :func:`chromium_path` runs ``scripts/ensure-chromium.sh`` once (what ``scripts/test.sh``
does first); the tests skip, saying why, only when that install fails.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "img"
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]


def _find() -> str | None:
    for candidate in (os.environ.get("SEMDNS_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


@functools.cache
def chromium_path() -> tuple[str | None, str]:
    """(path, "") when Chromium is there, installing it if needed; (None, why) when it cannot be."""
    found = _find()
    if found:
        return found, ""
    try:
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "ensure-chromium.sh")],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"Chromium is not installed and scripts/ensure-chromium.sh could not run: {exc}"
    found = _find()
    if found:
        return found, ""
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return None, "Chromium is not installed and scripts/ensure-chromium.sh failed: " + " | ".join(tail)
