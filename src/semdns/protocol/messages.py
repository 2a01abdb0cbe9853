"""The messages of the semdns wire protocol, version 1.2: SQP, the answer, CCP and RAP.

Every message is a :class:`msgspec.Struct`: the same definition is the MessagePack encoding (binary,
for resolvers), the JSON form (for people and ``curl``) and, through :mod:`semdns.protocol.schema`, the
published JSON Schema. Size bounds are part of the types (``Meta(max_length=...)``), so the decoder
enforces them while it parses and an oversized field never reaches the resolver.

Compatibility rules (docs/protocol.md, "Versioning"): fields are only ever *added* within a major
version, always with a default, so a reader of 1.0 decodes a 1.3 message by ignoring what it does not
know, and a 1.3 reader fills the defaults of a 1.0 message. Renaming or removing a field, or changing
its meaning, needs a new major version, which readers refuse with ``unsupported_version``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Raw, Struct

PROTOCOL_VERSION = "1.2"

# -- bounds ----------------------------------------------------------------------------------------
# One table, quoted in docs/protocol.md; a message that breaks one is refused with a clear error.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
MAX_TEXT_CHARS = 32_768
MAX_CONTEXT_CHARS = 262_144
MAX_CONTEXT_BYTES = 16 * 1024 * 1024  # original size of a compressed context
MAX_CHUNK_BYTES = 1024 * 1024
MAX_CHUNKS = 256
MAX_EMBEDDING_DIM = 4096
MAX_NAMES = 64
MAX_TRACE = 256
MAX_HOPS = 64
MAX_PARTIALS = 32
MAX_CONTENT_CHARS = 1_000_000
MAX_HOP_LIMIT = 32

Version = Annotated[str, Meta(pattern=r"^[0-9]{1,4}\.[0-9]{1,4}$", max_length=9)]
NameText = Annotated[str, Meta(min_length=1, max_length=600)]
Ident = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]
ShortText = Annotated[str, Meta(max_length=2048)]
Url = Annotated[str, Meta(min_length=1, max_length=2048, pattern=r"^https?://")]
Confidence = Annotated[float, Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Meta(ge=0.0)]
Count = Annotated[int, Meta(ge=0, le=2**31)]
Signature = Annotated[bytes, Meta(max_length=128)]
PublicKey = Annotated[str, Meta(min_length=44, max_length=44)]  # base64 of 32 bytes

ContentType = Literal["msgpack", "json"]


class _Message(Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=False):
    """Base of every message: keyword-only fields, defaults left out of the encoding, unknown fields
    (from a newer minor version) ignored on decode."""


class Embedding(_Message, kw_only=True):
    """A query embedding computed once by the first resolver and carried down the delegation chain.

    ``data`` is ``dim`` little-endian float32 values. A resolver whose encoder has the same ``model``
    and ``dim`` uses it as is; any other resolver embeds the text itself.
    """

    model: Annotated[str, Meta(min_length=1, max_length=256)]
    dim: Annotated[int, Meta(ge=1, le=MAX_EMBEDDING_DIM)]
    data: Annotated[bytes, Meta(max_length=4 * MAX_EMBEDDING_DIM)]


class Chunk(_Message, kw_only=True):
    """One independently compressed piece of a context: any chunk can be decompressed on its own."""

    index: Count
    offset: Count  # offset of this chunk in the original bytes
    size: Annotated[int, Meta(ge=0, le=MAX_CHUNK_BYTES)]  # original (decompressed) size
    crc32: Annotated[int, Meta(ge=0, le=2**32 - 1)]  # of the original bytes of this chunk
    data: Annotated[bytes, Meta(max_length=MAX_CHUNK_BYTES + 1024)]


class CompressedContext(_Message, kw_only=True):
    """CCP: a context (conversation, documents) compressed for the next resolver or engine.

    ``algorithm`` ``zstd`` uses the zone dictionary ``dictionary`` (``zone:dict-id``) when set; the
    receiver fetches an unknown dictionary once from ``GET /semdns/v1/dictionaries/{id}`` of its owner
    and caches it. ``checksum`` is ``sha256:<hex>`` of the whole original text (UTF-8).
    ``zstd-lean`` (added in 1.0, opt-in for the sender) is the same with each chunk's frame stripped
    of what the envelope already says: no magic number, content size, dictionary id or checksum
    (the chunk's ``size`` and ``crc32`` and the context's ``dictionary`` carry them); 6-10 bytes a
    chunk, a third of a short message's compressed size. A reader that predates it refuses the
    context as invalid rather than misreading it.
    ``words`` (added in 1.2) codes each chunk with the zone's word model named by ``dictionary``
    (:mod:`semdns.protocol.words`: Huffman codes for the zone's words, for short messages, where
    zstd has nothing to match); older readers refuse it the same way.
    """

    v: Version = PROTOCOL_VERSION
    algorithm: Literal["none", "zstd", "zstd-lean", "words"] = "zstd"
    dictionary: Ident | None = None
    original_size: Annotated[int, Meta(ge=0, le=MAX_CONTEXT_BYTES)]
    checksum: Annotated[str, Meta(pattern=r"^sha256:[0-9a-f]{64}$")]
    chunk_size: Annotated[int, Meta(ge=1, le=MAX_CHUNK_BYTES)]
    chunks: Annotated[list[Chunk], Meta(max_length=MAX_CHUNKS)] = []


class Constraints(_Message, kw_only=True):
    """What the asker allows: how deep answers may be (deeper ones are cut to their ancestor at that
    depth) and which subtree to resolve in (``within``: the descent starts at that name, and an asker
    with a cached referral for it skips every parent)."""

    max_depth: Annotated[int, Meta(ge=0, le=8)] | None = None
    within: Annotated[list[NameText], Meta(max_length=16)] = []


class PathEntry(_Message, kw_only=True):
    """One resolver a query has already passed through: for loop detection and the hop count."""

    zone: NameText
    server: Annotated[str, Meta(max_length=2048)] = ""


class Query(_Message, kw_only=True):
    """SQP: a semantic query from one resolver (or ``semdns dig``) to another.

    ``zone`` is the zone the asker expects the receiver to be authoritative for (the delegation point
    it followed; ``.`` for the root). ``start_confidence`` is the confidence the path had on reaching
    that point, so the child continues the descent exactly where the parent stopped. ``recursive`` is
    DNS's recursion-desired bit. ``timeout_ms`` is what is left of the asker's deadline when sent.
    """

    v: Version = PROTOCOL_VERSION
    id: Ident
    text: Annotated[str, Meta(max_length=MAX_TEXT_CHARS)] | None = None
    text_compressed: CompressedContext | None = None
    embedding: Embedding | None = None
    # The shallow pass's vector (the encoder's first layers: semdns.resolve.shallow), carried like
    # ``embedding`` when the asker settled a level with it, so a child does not run those layers again.
    shallow_embedding: Embedding | None = None
    context: Annotated[str, Meta(max_length=MAX_CONTEXT_CHARS)] | None = None
    context_compressed: CompressedContext | None = None
    constraints: Constraints | None = None
    zone: NameText = "."
    start_confidence: Confidence | None = None
    recursive: bool = False
    tenant: Ident | None = None
    priority: Annotated[int, Meta(ge=0, le=9)] = 5
    timeout_ms: Annotated[int, Meta(ge=1, le=600_000)] = 5000
    hops: Annotated[int, Meta(ge=0, le=MAX_HOP_LIMIT)] = 0
    hop_limit: Annotated[int, Meta(ge=1, le=MAX_HOP_LIMIT)] = 8
    trace_id: Ident | None = None
    path: Annotated[list[PathEntry], Meta(max_length=MAX_HOP_LIMIT)] = []


class NameAnswer(_Message, kw_only=True):
    """One answer name with its confidence and the zone that is authoritative for it."""

    name: NameText
    dn: Annotated[str, Meta(max_length=1024)] = ""
    confidence: Confidence
    zone: NameText = "."


class ScoreEntry(_Message, kw_only=True):
    name: NameText
    score: float


class LevelEntry(_Message, kw_only=True):
    """One level of the descent, on whichever resolver ran it (``zone``/``server``)."""

    node: NameText
    outcome: Annotated[str, Meta(max_length=32)]
    chosen: Annotated[list[NameText], Meta(max_length=MAX_NAMES)] = []
    scores: Annotated[list[ScoreEntry], Meta(max_length=16)] = []
    stages: Annotated[list[Annotated[str, Meta(max_length=32)]], Meta(max_length=8)] = []
    elapsed_us: NonNegative = 0.0
    zone: NameText = "."
    server: Annotated[str, Meta(max_length=2048)] = ""


class Referral(_Message, kw_only=True):
    """A delegation: the subtree ``zone`` is served by ``servers``, whose answers ``public_key`` signs.

    ``confidence`` is the path confidence at the delegation point (sent back as the child query's
    ``start_confidence``); ``ttl`` is how long the asker may cache the referral.
    """

    zone: NameText
    servers: Annotated[list[Url], Meta(min_length=1, max_length=8)]
    public_key: PublicKey | None = None
    ttl: Annotated[int, Meta(ge=0, le=7 * 24 * 3600)] = 3600
    confidence: Confidence | None = None


class WireError(_Message, kw_only=True):
    """An error with a stable ``code`` (docs/protocol.md, "Error codes") and a readable message."""

    code: Annotated[str, Meta(min_length=1, max_length=64)]
    message: Annotated[str, Meta(max_length=4096)] = ""
    zone: Annotated[str, Meta(max_length=600)] | None = None
    server: Annotated[str, Meta(max_length=2048)] | None = None


HopKind = Literal["answer", "referral", "error", "stale", "cached"]


class Hop(_Message, kw_only=True):
    """One resolver asked (or a cache that stood in for it), as ``dig +trace`` prints it."""

    server: Annotated[str, Meta(max_length=2048)]
    zone: NameText
    kind: HopKind
    elapsed_us: NonNegative = 0.0
    verified: bool = False
    referred: Annotated[list[NameText], Meta(max_length=MAX_NAMES)] = []  # zones a referral named
    error: WireError | None = None


class Answer(_Message, kw_only=True):
    """The reply to a :class:`Query`: names, the per-level trace across resolvers, referrals, errors.

    ``referrals`` are the delegation points the descent reached and did not follow (iterative mode,
    or a failure in recursive mode). ``degraded`` is true when a delegation failed and an answer
    stopped above it; ``stale`` when some part was served from an expired cache entry (RFC 8767).
    """

    v: Version = PROTOCOL_VERSION
    id: Ident
    zone: NameText
    server: Annotated[str, Meta(max_length=2048)] = ""
    names: Annotated[list[NameAnswer], Meta(max_length=MAX_NAMES)] = []
    trace: Annotated[list[LevelEntry], Meta(max_length=MAX_TRACE)] = []
    referrals: Annotated[list[Referral], Meta(max_length=MAX_NAMES)] = []
    hops: Annotated[list[Hop], Meta(max_length=MAX_HOPS)] = []
    errors: Annotated[list[WireError], Meta(max_length=MAX_HOPS)] = []
    stage: Annotated[str, Meta(max_length=32)] = "leaf"
    ttl: Annotated[int, Meta(ge=0, le=7 * 24 * 3600)] = 0
    degraded: bool = False
    stale: bool = False
    embedding_reused: bool = False
    # The query embedding this resolver computed (when the query carried none): the asker passes it on
    # to the children it follows, so a query is embedded once along the whole chain.
    embedding: Embedding | None = None
    # The same for the shallow pass's vector.
    shallow_embedding: Embedding | None = None


class Envelope(_Message, kw_only=True):
    """A signed message: ``payload`` is the exact encoded bytes of an :class:`Answer` (kept raw, so
    the signature is checked over what was sent, never over a re-encoding), ``sig`` its Ed25519
    signature by the key of ``zone``."""

    v: Version = PROTOCOL_VERSION
    type: Literal["answer"] = "answer"
    zone: NameText
    key_id: Annotated[str, Meta(max_length=64)] | None = None
    payload: Raw
    sig: Signature | None = None


class PartialResult(_Message, kw_only=True):
    """RAP: one engine's (or one name's) part of a cross-domain answer."""

    name: NameText
    content: Annotated[str, Meta(max_length=MAX_CONTENT_CHARS)] = ""
    confidence: Confidence = 0.0
    source: Annotated[str, Meta(max_length=2048)] = ""
    latency_ms: NonNegative = 0.0
    error: WireError | None = None


class ConflictNote(_Message, kw_only=True):
    """Where partial results disagree, and how the aggregate resolved it."""

    names: Annotated[list[NameText], Meta(max_length=MAX_PARTIALS)]
    kind: Annotated[str, Meta(max_length=64)]
    note: Annotated[str, Meta(max_length=4096)] = ""


class AggregatedResult(_Message, kw_only=True):
    """RAP: the aggregate of several partial results, with the strategy used and conflict notes."""

    v: Version = PROTOCOL_VERSION
    id: Ident
    strategy: Annotated[str, Meta(max_length=64)] = "confidence_weighted"
    content: Annotated[str, Meta(max_length=MAX_CONTENT_CHARS * 4)] = ""
    confidence: Confidence = 0.0
    results: Annotated[list[PartialResult], Meta(max_length=MAX_PARTIALS)] = []
    conflicts: Annotated[list[ConflictNote], Meta(max_length=MAX_PARTIALS)] = []
    latency_ms: NonNegative = 0.0
    degraded: bool = False


# The messages a peer may send at top level, by name (used by the codec, the schema and the vectors).
MESSAGES: dict[str, type[Struct]] = {
    "Query": Query,
    "Answer": Answer,
    "Envelope": Envelope,
    "CompressedContext": CompressedContext,
    "PartialResult": PartialResult,
    "AggregatedResult": AggregatedResult,
}

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MESSAGES",
    "PROTOCOL_VERSION",
    "AggregatedResult",
    "Answer",
    "Chunk",
    "CompressedContext",
    "ConflictNote",
    "Constraints",
    "ContentType",
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
]
