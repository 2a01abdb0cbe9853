"""Say in one line which installed packages differ from the lock files, before anything else runs.

`scripts/setup.sh` installs exactly the versions in ``requirements/lock.txt`` and
``requirements/models.txt``; a package installed by hand afterwards (an upgrade being tried, a tool
that pulled a newer release) silently changes what the tests run against. This check reads both locks,
keeps the lines whose environment markers apply here, and compares them with what is installed. It
prints one line and exits 0 whether or not it finds drift (the suite decides what fails); with
``--strict`` it exits 1 on drift.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.utils import canonicalize_name

LOCKS = ("requirements/lock.txt", "requirements/models.txt")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?\s*$")


def locked(root: Path) -> dict[str, str]:
    """Package name (canonical) -> the version the lock asks for in this environment."""
    wanted: dict[str, str] = {}
    for lock in LOCKS:
        for line in (root / lock).read_text(encoding="utf-8").splitlines():
            match = _PIN.match(line)
            if match is None:
                continue
            name, version, marker = match.groups()
            if marker and not Marker(marker).evaluate():
                continue
            wanted[canonicalize_name(name)] = version
    return wanted


def drift(root: Path) -> list[str]:
    """One ``name installed X, lock Y`` entry per package that differs (or is missing)."""
    differences: list[str] = []
    for name, version in sorted(locked(root).items()):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            differences.append(f"{name} missing, lock {version}")
            continue
        if installed != version:
            differences.append(f"{name} installed {installed}, lock {version}")
    return differences


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    differences = drift(root)
    if differences:
        print(
            "semdns: the environment differs from the lock (" + "; ".join(differences) + ") — "
            "reinstall with: rm -f .venv/.semdns-setup && bash scripts/setup.sh",
            file=sys.stderr,
        )
        return 1 if "--strict" in argv else 0
    print(f"semdns: environment matches the lock ({len(locked(root))} packages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
