"""The opt-in file watch of ``semdns serve --watch``: poll, debounce, then ask for a reload.

Polling ``stat`` (modification time, size, inode) once a second costs nothing measurable and needs no
dependency; it also sees what editors do (write in place, or write a temporary file and rename it).
A change is acted on only once the files have stayed the same for one more interval (debounce), so an
editor's several writes, or ``cp`` of several zone files, give one reload, not a reload of a half
written file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from pathlib import Path

Signature = tuple[tuple[int, int, int] | None, ...]


def signature(paths: Sequence[Path]) -> Signature:
    """``(mtime_ns, size, inode)`` of each file, ``None`` for one that cannot be read now."""
    out: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            out.append(None)
        else:
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(out)


async def watch_files(
    paths: Callable[[], Sequence[Path]],
    trigger: Callable[[str], None],
    *,
    interval_s: float = 1.0,
) -> None:
    """Call ``trigger("watch")`` once after each settled change of ``paths()``; runs until cancelled."""
    seen = signature(paths())
    pending: Signature | None = None
    while True:
        await asyncio.sleep(interval_s)
        now = signature(paths())
        if pending is not None and now == pending:
            pending = None
            seen = now
            trigger("watch")
        elif now != seen:
            pending = now  # changed: wait one more interval for it to settle
        else:
            pending = None
