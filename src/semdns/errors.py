"""The semdns exception hierarchy.

Every error a user can cause derives from :class:`SemdnsError`, carries a message that says what to
change, and (for the gateway) maps to one HTTP status and an OpenAI-style error body.
"""

from __future__ import annotations

from dataclasses import dataclass


class SemdnsError(Exception):
    """Base of every error semdns raises on purpose."""

    http_status: int = 500
    code: str = "internal_error"


@dataclass(frozen=True, slots=True)
class ZoneIssue:
    """One problem in a zone file, located as precisely as the YAML allows."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ZoneError(SemdnsError):
    """One or more zone files are invalid; ``issues`` lists every problem found, not only the first."""

    http_status = 500
    code = "zone_error"

    def __init__(self, issues: list[ZoneIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class UnknownName(SemdnsError):
    """A name (dotted or DN) that no loaded zone defines."""

    http_status = 404
    code = "model_not_found"


class ResolutionError(SemdnsError):
    """The resolver could not produce a decision (not raised for abstentions, which are decisions)."""

    http_status = 503
    code = "resolution_failed"


# -- gateway -------------------------------------------------------------------------------------


class InvalidRequest(SemdnsError):
    """A client request the gateway cannot accept as sent (malformed JSON, wrong types, no messages).

    ``param`` names the offending field, as OpenAI's error bodies do, so a client can point at it.
    """

    http_status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        self.param = param
        super().__init__(message)


class RequestTooLarge(InvalidRequest):
    """The request body exceeds the configured limit (``SEMDNS_MAX_BODY_BYTES``)."""

    http_status = 413
    code = "request_too_large"


class EngineError(SemdnsError):
    """One attempt on one engine replica failed.

    ``retryable`` says whether another attempt (same name, another replica, or the parent name) may
    succeed: connect errors, timeouts, 5xx and 429 before the first byte are retryable; a 4xx the
    backend returned because of the request itself is not, and is passed on to the client.
    """

    http_status = 502
    code = "upstream_error"

    def __init__(
        self, message: str, *, retryable: bool = True, status: int | None = None, kind: str = "error"
    ) -> None:
        self.retryable = retryable
        self.upstream_status = status
        self.kind = kind
        super().__init__(message)


class EngineTimeout(EngineError):
    """An attempt ran past its per-attempt timeout (or the request's deadline)."""

    http_status = 504
    code = "upstream_timeout"

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True, kind="timeout")


class EngineOverloaded(EngineError):
    """An engine refused work because its bounded queue is full (the local engine)."""

    http_status = 503
    code = "engine_overloaded"

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True, kind="overloaded")


class EngineRejected(EngineError):
    """The backend rejected the request itself (a 4xx other than 429): not retried, passed on."""

    code = "upstream_rejected"

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, retryable=False, status=status, kind="rejected")
        self.http_status = status


class UnsupportedParameter(EngineRejected):
    """An engine cannot honour a request parameter (the local engine and ``logit_bias``, say): a 400
    naming the parameter, the name and the engine, never the parameter silently dropped.

    Dispatch asks each replica before trying it (``Engine.unsupported``) and skips one that would
    refuse, so a fallback engine is never used with a parameter dropped; when no engine on the path
    can honour the request this error reaches the client.
    """

    code = "unsupported_parameter"

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message, status=400)
        self.param = param
        self.kind = "unsupported"


class NoEngineAvailable(SemdnsError):
    """Every replica of the name and of every ancestor up to the root failed or is circuit-open.

    The message lists each name tried and why it failed, so an operator can see what is down.
    """

    http_status = 503
    code = "no_engine_available"


class DeadlineExceeded(SemdnsError):
    """The whole-request deadline passed before any engine answered."""

    http_status = 504
    code = "deadline_exceeded"


# -- resolver-to-resolver protocol and delegation ------------------------------------------------


class ProtocolError(SemdnsError):
    """A protocol message that cannot be decoded or does not respect the schema; says which field."""

    http_status = 400
    code = "malformed_message"


class MessageTooLarge(ProtocolError):
    """A message (or a field in it) exceeds the protocol's size limits (docs/protocol.md, "Limits")."""

    http_status = 413
    code = "message_too_large"


class UnsupportedVersion(ProtocolError):
    """A message of a newer *major* protocol version (a newer minor is read, unknown fields ignored)."""

    http_status = 400
    code = "unsupported_version"


class ContextCorrupt(ProtocolError):
    """A compressed context (CCP) whose checksum, sizes or chunks do not add up."""

    code = "context_corrupt"


class UnknownDictionary(SemdnsError):
    """A compressed context names a zstd dictionary that its owner does not (or no longer) serve."""

    http_status = 404
    code = "unknown_dictionary"


class NotAuthoritative(SemdnsError):
    """A resolver was asked about a zone outside the subtree it serves (DNS's REFUSED)."""

    http_status = 421
    code = "not_authoritative"


class DelegationError(SemdnsError):
    """Following a delegation failed; the answer stops at the delegating node, flagged degraded."""

    http_status = 502
    code = "delegation_failed"


class PeerUnavailable(DelegationError):
    """A delegated resolver could not be reached, or answered with an error."""

    code = "peer_unavailable"


class PeerTimeout(DelegationError):
    """A delegated resolver did not answer within the per-hop timeout (or the request's deadline)."""

    http_status = 504
    code = "peer_timeout"


class BadSignature(DelegationError):
    """An answer or referral whose Ed25519 signature does not verify against the delegation's key:
    forged or tampered with. It is handled like a child that is down, never used."""

    code = "bad_signature"


class DelegationLoop(DelegationError):
    """A delegation cycle: the message names every (zone, server) on the cycle."""

    http_status = 508
    code = "delegation_loop"


class HopLimitExceeded(DelegationError):
    """A query passed through more resolvers than its hop limit allows."""

    http_status = 508
    code = "hop_limit_exceeded"


# -- tenants, keys and limits -------------------------------------------------------------------


class TenantsFileError(SemdnsError):
    """The tenants file cannot be read or is invalid; the message says ``file:line: field: fix``."""

    http_status = 500
    code = "tenants_file_error"


class Unauthorized(SemdnsError):
    """No API key, or one that no tenant holds (401, like OpenAI's ``invalid_api_key``)."""

    http_status = 401
    code = "invalid_api_key"


class Forbidden(SemdnsError):
    """The tenant may not use the name the request resolved to (outside its subtrees)."""

    http_status = 403
    code = "name_not_allowed"


class RateLimited(SemdnsError):
    """A tenant is over a rate limit or its daily quota: 429 with ``Retry-After`` and ``x-ratelimit-*``.

    ``headers`` travel with the error so that the gateway's error response carries them.
    """

    http_status = 429
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, headers: dict[str, str]) -> None:
        self.headers = headers
        super().__init__(message)


# -- exposure and privacy (semdns.gateway.guard, semdns.privacy) ------------------------------------


class ProtectedMode(SemdnsError):
    """The gateway listens beyond loopback with no tenants file, and the client is not on this machine."""

    http_status = 403
    code = "protected_mode"


class AdminRequired(Forbidden):
    """An ``/admin`` route called with a credential that is valid but not an admin's."""

    code = "admin_required"


class RequestTimeout(InvalidRequest):
    """The request body did not arrive within the gateway's ``body_timeout_s`` (a slow or stalled
    client, as in a slowloris attack): 408, and the connection's slot is freed."""

    http_status = 408
    code = "request_timeout"


class PersonalDataRefused(InvalidRequest):
    """The name's privacy policy is ``refuse`` and the prompt holds personal data (the message names the
    kinds found, never the values)."""

    code = "personal_data_refused"
