"""API keys: generated with ``secrets``, stored only as SHA-256 hashes.

A plain SHA-256 (not a slow password hash) is the right tool here: the keys are 256 random bits, so
there is nothing to brute-force, and the gateway hashes the presented key on every request.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from pathlib import Path
from typing import Any

import yaml

from semdns.atomic import atomic_write, exclusive_edit
from semdns.errors import TenantsFileError
from semdns.tenancy.config import TENANT_NAME_RE, parse_tenants
from semdns.tenancy.edit import Unsupported, add_key
from semdns.textfiles import UnreadableText, read_text

KEY_PREFIX = "sk-semdns-"


def generate_key() -> str:
    """A new API key: ``sk-semdns-`` and 43 URL-safe characters (256 random bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """What the tenants file stores for ``key``."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def add_tenant_key(path: Path, name: str, **settings: Any) -> str:
    """Add a new key for tenant ``name`` (created when missing, with ``settings``) and return the key.

    The file is validated before and after, then replaced atomically. An existing file is edited in
    place (:mod:`semdns.tenancy.edit`): its comments and layout are kept; only a layout the editor
    does not handle (a tenant written as a flow mapping) is rewritten whole.
    """
    if not TENANT_NAME_RE.match(name):
        raise TenantsFileError(f"tenant name {name!r} must be lower-case letters, digits, '-' or '_'")
    try:
        with exclusive_edit(path):  # two adds at once take turns: neither key is lost
            return _add_key(path, name, settings)
    except OSError as exc:
        raise TenantsFileError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _add_key(path: Path, name: str, settings: dict[str, Any]) -> str:
    """:func:`add_tenant_key`'s read, edit and replace, under the folder's lock."""
    data: dict[str, Any] = {"tenants": {}}
    text: str | None = None
    if path.exists():
        try:
            text = read_text(path)
        except UnreadableText as exc:
            raise TenantsFileError(f"{path}: cannot read: {exc.reason}") from None
        parse_tenants(text, str(path))  # refuse to edit a file that is already invalid
        data = yaml.safe_load(text)
    given = {k: v for k, v in settings.items() if v is not None}
    key = generate_key()
    out: str | None = None
    if text is not None:
        with contextlib.suppress(Unsupported):
            out = add_key(text, name, hash_key(key), given)
    if out is None:
        entry = data.setdefault("tenants", {}).setdefault(name, {})
        for field, value in given.items():
            entry[field] = list(value) if isinstance(value, tuple) else value
        entry.setdefault("keys", []).append(hash_key(key))
        out = yaml.safe_dump(data, sort_keys=False)
    parse_tenants(out, str(path))
    atomic_write(path, out.encode("utf-8"))  # whole or not at all; the mode and a link's target kept
    return key
