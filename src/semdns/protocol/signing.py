"""Ed25519 zone keys: generate, store, sign answers, verify them against a delegation's key.

Like DNSSEC's DS records, the parent's delegation record carries the child zone's *public* key; the
child signs every answer it sends (the exact payload bytes, prefixed by a domain-separation tag so a
signature can never be replayed as something else) and the asker verifies it with the key it got from
the parent, not with anything the child says about itself. Keys are stored as PEM (PKCS#8), the public
half is printed as base64 of its 32 raw bytes, which is what zone files hold.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from semdns.atomic import atomic_write
from semdns.errors import BadSignature, ProtocolError

# Domain separation: what is signed is TAG + payload, so a signature over an answer is useless for any
# other purpose (or any other protocol version family).
SIGNATURE_TAG = b"semdns-answer-v1\x00"


class KeyFileError(ProtocolError):
    """A key file that cannot be read or is not an Ed25519 private key."""

    http_status = 500
    code = "key_error"


def public_key_text(key: Ed25519PublicKey) -> str:
    """Base64 of the 32 raw bytes: the form zone files and referrals carry."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_id(public_key: str) -> str:
    """A short, stable identifier of a public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(public_key.encode("ascii")).hexdigest()[:16]


def parse_public_key(text: str) -> Ed25519PublicKey:
    """Decode a base64 public key; raise :class:`ProtocolError` saying what is wrong."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"public key {text[:20]!r}… is not base64") from exc
    if len(raw) != 32:
        raise ProtocolError(f"public key must be 32 bytes (Ed25519), got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class ZoneKey:
    """A zone's signing key pair."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> ZoneKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: str | Path) -> ZoneKey:
        """Read a PEM (PKCS#8, unencrypted) Ed25519 private key, as ``semdns key gen`` writes it."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyFileError(f"cannot read the key file {path}: {exc.strerror or exc}") from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(
                f"{path} is not an unencrypted PEM private key ({exc}); create one with `semdns key gen`"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
        return cls(key)

    def save(self, path: str | Path) -> None:
        """Write the private key as PEM, readable by the owner only; a failed write keeps the file that was
        there."""
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Whole or not at all, and private even when it replaces a file that was not (--force).
        atomic_write(path, pem, mode=0o600)

    @property
    def public_text(self) -> str:
        return public_key_text(self.private.public_key())

    @property
    def key_id(self) -> str:
        return key_id(self.public_text)

    def sign(self, payload: bytes) -> bytes:
        return self.private.sign(SIGNATURE_TAG + payload)


def verify(public_key: str | Ed25519PublicKey, payload: bytes, signature: bytes | None, *, who: str) -> None:
    """Check ``signature`` over ``payload``; raise :class:`BadSignature` naming ``who`` otherwise."""
    if signature is None:
        raise BadSignature(f"{who}: the answer is not signed, but its delegation requires a signature")
    key = parse_public_key(public_key) if isinstance(public_key, str) else public_key
    try:
        key.verify(signature, SIGNATURE_TAG + payload)
    except InvalidSignature:
        raise BadSignature(
            f"{who}: signature does not verify against the delegation's key "
            f"{key_id(public_key_text(key))} (forged or tampered answer); it was rejected"
        ) from None
