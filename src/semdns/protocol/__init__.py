"""The semdns wire protocol: resolvers talk to resolvers (SQP, answers, CCP, RAP), signed.

See docs/protocol.md for the specification, ``docs/protocol/schema.json`` for the machine-readable
schema and ``docs/protocol/vectors/`` for golden test vectors.
"""

from semdns.protocol.codec import (
    CONTENT_TYPES,
    JSON_TYPE,
    MSGPACK_TYPE,
    check_version,
    content_type_of,
    decode,
    encode,
)
from semdns.protocol.messages import (
    PROTOCOL_VERSION,
    AggregatedResult,
    Answer,
    Chunk,
    CompressedContext,
    ConflictNote,
    Constraints,
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
from semdns.protocol.signing import ZoneKey, verify

__all__ = [
    "CONTENT_TYPES",
    "JSON_TYPE",
    "MSGPACK_TYPE",
    "PROTOCOL_VERSION",
    "AggregatedResult",
    "Answer",
    "Chunk",
    "CompressedContext",
    "ConflictNote",
    "Constraints",
    "Embedding",
    "Envelope",
    "Hop",
    "LevelEntry",
    "NameAnswer",
    "PartialResult",
    "PathEntry",
    "Query",
    "Referral",
    "ScoreEntry",
    "WireError",
    "ZoneKey",
    "check_version",
    "content_type_of",
    "decode",
    "encode",
    "verify",
]
