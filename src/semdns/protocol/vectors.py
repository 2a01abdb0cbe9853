"""Golden test vectors: fixed messages with their exact MessagePack bytes and JSON form.

Another implementation tests itself against ``docs/protocol/vectors/``: for every ``valid`` vector it
must decode ``msgpack_hex`` and ``json`` to the same message and (when it encodes fields in schema
order, as semdns does) re-encode ``msgpack_hex`` byte for byte; for every ``invalid`` vector it must
refuse the bytes with ``error_code``. The signed vector is signed with a fixed test key (its seed is in
the file) so the signature can be checked too. Regenerate with ``python -m semdns.protocol.vectors``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from semdns.protocol.codec import encode
from semdns.protocol.messages import (
    AggregatedResult,
    Answer,
    Chunk,
    CompressedContext,
    ConflictNote,
    Constraints,
    ContentType,
    Embedding,
    Envelope,
    Hop,
    LevelEntry,
    NameAnswer,
    PartialResult,
    PathEntry,
    Query,
    Referral,
    ScoreEntry,
    WireError,
)
from semdns.protocol.signing import ZoneKey

TEST_KEY_SEED = bytes(range(32))  # a fixed, public test key: never use it for a real zone
VECTOR_DIR = Path("docs") / "protocol" / "vectors"


def fixed_test_key() -> ZoneKey:
    return ZoneKey(Ed25519PrivateKey.from_private_bytes(TEST_KEY_SEED))


def _embedding() -> Embedding:
    import numpy as np

    values = np.linspace(-1.0, 1.0, 8, dtype="<f4")
    return Embedding(model="test-model", dim=8, data=values.tobytes())


def _answer() -> Answer:
    return Answer(
        id="q-0001",
        zone="legal.",
        server="http://127.0.0.1:18941",
        names=[
            NameAnswer(name="contracts.legal.", dn="CN=Contracts,OU=Legal", confidence=0.9, zone="legal.")
        ],
        trace=[
            LevelEntry(
                node="legal.",
                outcome="keyword",
                chosen=["contracts.legal."],
                scores=[
                    ScoreEntry(name="contracts.legal.", score=0.9),
                    ScoreEntry(name="ip.legal.", score=0.0),
                ],
                stages=["keyword"],
                elapsed_us=12.5,
                zone="legal.",
                server="http://127.0.0.1:18941",
            ),
            LevelEntry(node="contracts.legal.", outcome="leaf", zone="legal."),
        ],
        stage="keyword",
        ttl=3600,
        embedding_reused=True,
    )


def valid_messages() -> dict[str, msgspec.Struct]:
    """Name → message, covering every message type and every optional part at least once."""
    context = CompressedContext(
        algorithm="none",
        original_size=5,
        checksum="sha256:" + "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        chunk_size=65536,
        chunks=[Chunk(index=0, offset=0, size=5, crc32=907060870, data=b"hello")],
    )
    return {
        "query-minimal": Query(id="q-0001", text="Can my landlord keep my deposit?"),
        "query-full": Query(
            id="q-0002",
            text="Is this NDA clause enforceable?",
            embedding=_embedding(),
            context="User: I signed an NDA last year.",
            constraints=Constraints(max_depth=2, within=["legal."]),
            zone="legal.",
            start_confidence=0.91,
            recursive=True,
            tenant="acme",
            priority=7,
            timeout_ms=2500,
            hops=1,
            hop_limit=6,
            trace_id="trace-42",
            path=[PathEntry(zone=".", server="http://127.0.0.1:18940")],
        ),
        "query-compressed-context": Query(id="q-0003", text="summarise", context_compressed=context),
        "answer": _answer(),
        "answer-referral": Answer(
            id="q-0004",
            zone=".",
            names=[NameAnswer(name="legal.", confidence=0.86, zone=".")],
            referrals=[
                Referral(
                    zone="legal.",
                    servers=["http://127.0.0.1:18941"],
                    public_key=fixed_test_key().public_text,
                    ttl=300,
                    confidence=0.86,
                )
            ],
            hops=[Hop(server="http://127.0.0.1:18940", zone=".", kind="referral", referred=["legal."])],
            stage="keyword",
            ttl=300,
        ),
        "answer-degraded": Answer(
            id="q-0005",
            zone=".",
            names=[NameAnswer(name="legal.", confidence=0.86, zone=".")],
            errors=[WireError(code="peer_unavailable", message="connection refused", zone="legal.")],
            degraded=True,
        ),
        "compressed-context": context,
        "partial-result": PartialResult(
            name="legal.", content="It depends.", confidence=0.8, source="local:smollm2", latency_ms=120.0
        ),
        "aggregated-result": AggregatedResult(
            id="q-0006",
            content="[legal.]\nIt depends.",
            confidence=0.8,
            results=[
                PartialResult(name="legal.", content="It depends.", confidence=0.8),
                PartialResult(name="medical.", error=WireError(code="upstream_timeout")),
            ],
            conflicts=[ConflictNote(names=["medical."], kind="missing", note="medical.: upstream_timeout")],
            degraded=True,
        ),
    }


def signed_envelope(form: ContentType = "msgpack") -> Envelope:
    """The answer vector signed with the test key; the payload is in ``form``, like the envelope."""
    payload = encode(_answer(), form)
    key = fixed_test_key()
    return Envelope(zone="legal.", key_id=key.key_id, payload=msgspec.Raw(payload), sig=key.sign(payload))


def invalid_vectors() -> dict[str, tuple[str, bytes, str]]:
    """Name → (message type, msgpack bytes, expected error code)."""
    newer_major = msgspec.msgpack.encode({"v": "2.0", "id": "q-1", "text": "hi", "new_field": 1})
    return {
        "query-newer-major": ("Query", newer_major, "unsupported_version"),
        "query-missing-id": ("Query", msgspec.msgpack.encode({"text": "hi"}), "malformed_message"),
        "query-wrong-type": (
            "Query",
            msgspec.msgpack.encode({"id": "q", "hops": "two"}),
            "malformed_message",
        ),
        "query-text-too-long": (
            "Query",
            msgspec.msgpack.encode({"id": "q", "text": "x" * 40000}),
            "message_too_large",
        ),
        "truncated": (
            "Query",
            encode(Query(id="q-0001", text="Can my landlord"), "msgpack")[:-4],
            "malformed_message",
        ),
        "not-a-map": ("Query", msgspec.msgpack.encode([1, 2, 3]), "malformed_message"),
    }


def render_all() -> dict[str, str]:
    """File name → JSON text of every vector file."""
    files: dict[str, str] = {}
    for name, message in valid_messages().items():
        files[f"{name}.json"] = _dump(
            {
                "kind": "valid",
                "message": type(message).__name__,
                "msgpack_hex": encode(message, "msgpack").hex(),
                "json": json.loads(encode(message, "json")),
            }
        )
    envelope = signed_envelope()
    key = fixed_test_key()
    json_envelope = encode(signed_envelope("json"), "json")
    files["envelope-signed.json"] = _dump(
        {
            "kind": "valid",
            "message": "Envelope",
            "msgpack_hex": encode(envelope, "msgpack").hex(),
            "json": json.loads(json_envelope),
            "json_text": json_envelope.decode(),
            "signing": {
                "algorithm": "Ed25519",
                "test_private_seed_hex": TEST_KEY_SEED.hex(),
                "public_key": key.public_text,
                "signed_bytes": "b'semdns-answer-v1\\x00' + payload (the raw payload bytes)",
            },
        }
    )
    for name, (kind, data, code) in invalid_vectors().items():
        files[f"invalid-{name}.json"] = _dump(
            {"kind": "invalid", "message": kind, "msgpack_hex": data.hex(), "error_code": code}
        )
    return files


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else VECTOR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in render_all().items():
        (folder / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(render_all())} vectors to {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
