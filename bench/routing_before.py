"""The routing figures of an earlier semdns commit on today's evaluation splits ("before" figures).

Scores whatever ``semdns`` is importable (point ``PYTHONPATH`` at an older checkout's ``src``) on the
first 300 items of each ``corpora/routing/*/eval.jsonl`` (spread evenly), with the definitions of
``semdns eval`` (subtree labels and ``acceptable`` included). Old commits have no ``semdns eval``,
hence this small, dependency-free scorer. The figures in docs/routing.md came from::

    git worktree add /tmp/old 0be916c
    cd /tmp/old && SEMDNS_CACHE_DIR=/tmp/oldcache HF_HUB_OFFLINE=1 PYTHONPATH=/tmp/old/src \\
        /path/to/semdns/.venv/bin/python /path/to/semdns/bench/routing_before.py
"""

from __future__ import annotations

import json
import sys

from _common import evaluation_splits
from semdns.names import Name
from semdns.resolve import Resolver
from semdns.zone import load_default_tree

LIMIT = 300


def main() -> None:
    resolver = Resolver(load_default_tree())
    out: dict[str, dict[str, float]] = {}
    for path in evaluation_splits():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
        step = max(len(rows) / LIMIT, 1)
        rows = [rows[int(i * step)] for i in range(min(LIMIT, len(rows)))]
        exact = primary = wrong = abstain = 0
        for row in rows:
            expected = Name.parse(row["expected"])
            acceptable = {Name.parse(a) for a in row.get("acceptable", [])}
            got = resolver.resolve(row["query"], use_cache=False).names[0]
            ok = got == expected or got in acceptable or (bool(row.get("subtree")) and got.is_under(expected))
            up = not ok and expected.is_under(got) and got != expected
            exact += ok
            primary += got.labels[-1:] == expected.labels[-1:]
            abstain += up
            wrong += not ok and not up
        n = len(rows)
        out[path.parent.name] = {"n": n, "exact": exact / n, "primary": primary / n, "wrong": wrong / n}
        print(path.parent.name, out[path.parent.name], file=sys.stderr)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
