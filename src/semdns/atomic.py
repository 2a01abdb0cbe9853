"""Replacing a file whole or not at all.

The content goes to a temporary file in the target's folder, is flushed to disk, and is renamed over
the target (``os.replace``, atomic within one file system). A failure at any point (a full disk, an
exception while the content is produced, an interrupted process) leaves the previous file as it was
and no temporary file behind, and a reader never sees half a file. Everything semdns writes that a
user owns or that a later start reads back goes through here: the tenants file, zone keys,
classifier artefacts, compression dictionaries and the caches under ``~/.cache/semdns``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # not a POSIX system: edits are not serialised across processes
    fcntl = None  # type: ignore[assignment]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o666 & ~_umask()
"""The mode ``open()`` would give a new file (read once: reading the umask briefly changes it)."""


def _real_target(path: str | Path) -> Path:
    """The file that writing ``path`` changes (a symbolic link's target), its folder made."""
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def atomic_write(
    path: str | Path, content: bytes | Callable[[BinaryIO], object], *, mode: int | None = None
) -> None:
    """Replace ``path`` with ``content`` (bytes, or a function that writes to the open binary file).

    ``mode``: the new file's permissions; by default an existing file keeps its own and a new one gets
    what ``open()`` would give it. A symbolic link is kept: the file it points to is replaced."""
    target = _real_target(path)
    if mode is None:
        mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else _NEW_FILE_MODE
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(content, bytes):
                handle.write(content)
            else:
                content(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def exclusive_edit(path: str | Path) -> Iterator[None]:
    """Hold the lock on ``path``'s folder while a read-modify-write of ``path`` runs, so that two
    processes editing the same file (two ``semdns tenant add`` at once) take turns instead of one
    replacing the other's edit. The folder is locked, not the file, because :func:`atomic_write`
    replaces the file's inode; nothing is left behind."""
    target = _real_target(path)
    if fcntl is None:
        yield
        return
    folder = os.open(target.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # closing the descriptor releases the lock
