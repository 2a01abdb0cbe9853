"""A non-loopback address of this machine, to connect from "another address" without another machine."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import subprocess


def local_non_loopback_ipv4() -> str | None:
    """An IPv4 address of one of this machine's interfaces that is not loopback (``hostname -I``, then
    the host name's addresses), or ``None`` when it has none (then the tests that need one skip)."""
    candidates: list[str] = []
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5, check=False)
        candidates += out.stdout.split()
    except (OSError, subprocess.SubprocessError):
        pass
    with contextlib.suppress(OSError):
        candidates += [str(info[4][0]) for info in socket.getaddrinfo(socket.gethostname(), None)]
    for text in candidates:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv4Address) and not address.is_loopback:
            return text
    return None
