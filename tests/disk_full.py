"""A disk that fills up, for the tests that check a failed write loses nothing (tests/*/test_no_loss_*.py).

Tests run as root here, so a read-only folder does not stop a write; a file-size limit does, whatever
API writes: every write past it fails with EFBIG (SIGXFSZ ignored), as on a full disk."""

from __future__ import annotations

import contextlib
import resource
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def disk_full_after(limit: int) -> Iterator[None]:
    """Every write past ``limit`` bytes of any file fails with EFBIG, as on a disk that fills up."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
