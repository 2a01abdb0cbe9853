"""Zone keys: sign and verify, and every way a signature or a key file can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from semdns.errors import BadSignature, ProtocolError
from semdns.protocol.signing import KeyFileError, ZoneKey, parse_public_key, verify


def test_sign_and_verify_round_trip(tmp_path: Path) -> None:
    key = ZoneKey.generate()
    key.save(tmp_path / "zone.key")
    loaded = ZoneKey.load(tmp_path / "zone.key")
    assert loaded.public_text == key.public_text
    assert (tmp_path / "zone.key").stat().st_mode & 0o777 == 0o600
    verify(key.public_text, b"payload", loaded.sign(b"payload"), who="test")


def test_tampered_payload_is_rejected() -> None:
    key = ZoneKey.generate()
    signature = key.sign(b'{"names":["contracts.legal."]}')
    with pytest.raises(BadSignature, match="forged or tampered"):
        verify(key.public_text, b'{"names":["evil.legal."]}', signature, who="legal.")


def test_signature_by_another_key_is_rejected() -> None:
    honest, forger = ZoneKey.generate(), ZoneKey.generate()
    with pytest.raises(BadSignature, match=rf"legal\.: signature does not verify.*{honest.key_id}"):
        verify(honest.public_text, b"x", forger.sign(b"x"), who="legal.")


def test_missing_signature_is_rejected() -> None:
    with pytest.raises(BadSignature, match="not signed"):
        verify(ZoneKey.generate().public_text, b"x", None, who="legal.")


def test_signature_is_domain_separated() -> None:
    # A raw Ed25519 signature over the payload alone (no semdns tag) must not verify.
    key = ZoneKey.generate()
    with pytest.raises(BadSignature):
        verify(key.public_text, b"x", key.private.sign(b"x"), who="legal.")


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64!", "not base64"), ("AAAA", "must be 32 bytes")],
)
def test_malformed_public_keys(text: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_public_key(text)


def test_key_file_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read the key file"):
        ZoneKey.load(tmp_path / "missing.key")
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(KeyFileError, match="not an unencrypted PEM private key"):
        ZoneKey.load(tmp_path / "bad.key")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "ec.key").write_bytes(other)
    with pytest.raises(KeyFileError, match="not an Ed25519 key"):
        ZoneKey.load(tmp_path / "ec.key")
