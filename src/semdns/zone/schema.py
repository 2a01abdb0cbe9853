"""The zone-file schema (pydantic): what a zone file may say, with defaults and bounds.

A zone file declares a subtree of the namespace under its ``origin``: nodes (names) with their
description, DN alias, classifier signals (keywords, example queries), engine records (who serves the
name), delegation records (another resolver serves the subtree) and policy (stage thresholds, TTL).
Unknown fields are errors, so that a typo never silently turns a setting off.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from semdns.names import DistinguishedName, InvalidName, Name
from semdns.privacy.policy import PrivacySpec
from semdns.zone.cascade_spec import CascadeSpec
from semdns.zone.compress_spec import CompressSpec

Stage = Literal["keyword", "lexical", "shallow", "embedding", "classifier"]
STAGES: tuple[Stage, ...] = ("keyword", "embedding", "classifier")
"""The default stage order. ``lexical`` (the classifier's cheap first pass, on a static embedding) is
opt-in: it pays off with a classifier trained on real prompts (``semdns train``), as the shipped zones
have, and lists itself before ``classifier``."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Seconds = Annotated[int, Field(ge=0, le=7 * 24 * 3600)]
TimeoutSeconds = Annotated[float, Field(gt=0.0, le=3600.0)]
Balancing = Literal[
    "least_outstanding", "power_of_two", "weighted_round_robin", "session_affinity", "prefix_affinity"
]
BALANCING: tuple[Balancing, ...] = (
    "least_outstanding",
    "power_of_two",
    "weighted_round_robin",
    "session_affinity",
    "prefix_affinity",
)

_ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


LONG_PROMPT_TOKENS = 128
"""One transformer window ([CLS] and [SEP] included): prompts of more tokens overflow it, and are long
for the lexical pass unless a zone sets ``lexical_long_tokens``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _child_thresholds(value: object) -> object:
    """``{label: probability}`` as sorted ``(label, probability)`` pairs, each label one level of a
    name (``creative``; ``creative.`` is read the same), lower-cased. Anything else is left to the
    type check, which names what it expected."""
    items: list[object]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        return value
    pairs = [_child_label(pair) for pair in items]
    labels = [pair[0] for pair in pairs if isinstance(pair, tuple)]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise ValueError(f"{', '.join(map(repr, twice))} given more than once; keep one threshold per child")
    return tuple(sorted(pairs, key=str))


def _child_label(pair: object) -> object:
    """One ``(label, probability)`` pair with its label checked and lower-cased."""
    if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
        return pair
    try:
        name = Name.parse(pair[0])
    except InvalidName as exc:
        raise ValueError(str(exc)) from exc
    if name.depth != 1:
        raise ValueError(f"{pair[0]!r} is not one child's label (creative, not fiction.creative)")
    return (name.labels[0], pair[1])


ChildThresholds = Annotated[tuple[tuple[str, Probability], ...], BeforeValidator(_child_thresholds)]
"""A policy's ``fast_pass_child_thresholds``: a child's label and the probability a fast pass must exceed
to choose it."""


class Policy(_Strict):
    """How a node decides between its children. Every field has a default; zones and nodes override.

    Thresholds follow the specification (keyword 0.85, embedding 0.75); a stage *decides* when its best
    child clears the threshold and leads the runner-up by the stage's margin. Several children above
    the threshold within ``multi_margin`` of the best make a multi-domain decision (at most
    ``max_fanout`` names).
    """

    keyword_threshold: Probability = 0.85
    keyword_margin: Probability = 0.15
    embedding_threshold: Probability = 0.75
    embedding_margin: Probability = 0.03
    classifier_threshold: Probability = 0.6
    classifier_margin: Probability = 0.2
    lexical_threshold: Probability = 0.85
    """The lexical pass decides only above this calibrated probability (and the classifier's margin);
    below it the transformer runs and the stages after it decide. Higher: fewer prompts settled
    cheaply, closer to the full path (docs/routing.md has the trade-off measured)."""
    lexical_min_tokens: Annotated[int, Field(ge=0, le=100_000)] = 0
    """Prompts shorter than this (in MiniLM tokens) are short: they skip the lexical pass, or with
    ``lexical_short_threshold`` are settled by it only above that stricter threshold."""
    lexical_short_threshold: Probability | None = None
    """The lexical pass's threshold for prompts under ``lexical_min_tokens`` (None: they skip it). A
    bag of static token vectors carries least meaning on a one-line query, so a short prompt must be
    surer to be settled without the transformer (docs/routing.md has the trade-off measured). A zone
    under one that sets it turns it off again with 1.0 (no probability is above it)."""
    lexical_long_threshold: Probability | None = None
    """The lexical pass's threshold for long prompts (more than ``lexical_long_tokens``), when set
    (None: ``lexical_threshold``). A transformer call costs in proportion to a prompt's tokens, the
    most past one window (128 tokens, of which it reads only the first and last), while the lexical
    pass reads every word and has more of them to go on."""
    lexical_long_tokens: Annotated[int, Field(ge=1, le=100_000)] = LONG_PROMPT_TOKENS
    """A prompt of more than this many MiniLM tokens ([CLS] and [SEP] included) is long for
    ``lexical_long_threshold``: one transformer window by default."""
    shallow_threshold: Probability = 0.85
    """The shallow pass (the classifier on the vector of the transformer's first layers, half of a
    full call) decides only above this calibrated probability (and the classifier's margin); below it
    the full transformer runs."""
    fast_pass_child_thresholds: ChildThresholds = ()
    """Children the lexical and shallow passes may choose alone only above a stricter threshold of
    their own, written ``{label: probability}`` (``{creative: 0.9}`` at the root). Below it the fast
    pass is unsure and the next stage decides. For a child the cheap passes over-choose on real
    prompts, without making every other child pay (docs/routing.md, "A child the fast passes
    over-choose"). Held as sorted ``(label, probability)`` pairs so that a policy stays hashable."""
    multi_margin: Probability = 0.05
    max_fanout: Annotated[int, Field(ge=1, le=8)] = 3
    stages: tuple[Stage, ...] = STAGES
    # Stages asked first only whether the query spans several children (a "multi" verdict), before
    # ``stages`` decide: a classifier trained on single-domain prompts is confident about one domain
    # of a cross-domain query, while keywords of two domains show both.
    multi_stages: tuple[Stage, ...] = ()
    negative_ttl: Seconds = 300

    @field_validator("stages", "multi_stages")
    @classmethod
    def _stages_unique(cls, value: tuple[Stage, ...]) -> tuple[Stage, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each stage may appear once")
        return value


class PolicyOverride(_Strict):
    """A partial :class:`Policy`: only the fields given replace the inherited ones."""

    keyword_threshold: Probability | None = None
    keyword_margin: Probability | None = None
    embedding_threshold: Probability | None = None
    embedding_margin: Probability | None = None
    classifier_threshold: Probability | None = None
    classifier_margin: Probability | None = None
    lexical_threshold: Probability | None = None
    lexical_min_tokens: Annotated[int, Field(ge=0, le=100_000)] | None = None
    lexical_short_threshold: Probability | None = None
    lexical_long_threshold: Probability | None = None
    lexical_long_tokens: Annotated[int, Field(ge=1, le=100_000)] | None = None
    shallow_threshold: Probability | None = None
    fast_pass_child_thresholds: ChildThresholds | None = None
    multi_margin: Probability | None = None
    max_fanout: Annotated[int, Field(ge=1, le=8)] | None = None
    stages: tuple[Stage, ...] | None = None
    multi_stages: tuple[Stage, ...] | None = None
    negative_ttl: Seconds | None = None

    def apply(self, base: Policy) -> Policy:
        """``base`` with this override's explicit fields replacing its own."""
        changes = self.model_dump(exclude_none=True)
        return base.model_validate({**base.model_dump(), **changes}) if changes else base


class EngineRecord(_Strict):
    """An engine that serves a name (the A record of semdns).

    ``openai``: any OpenAI-compatible server (vLLM, llama.cpp, Ollama, SGLang, TGI, OpenAI) at ``url``,
    asked for ``model``; its API key is read from the environment variable ``api_key_env``.
    ``local``: the embedded engine; ``model`` may name a GGUF file (default: the packaged SmolLM2).
    """

    kind: Literal["openai", "local"]
    url: AnyHttpUrl | None = None
    model: str | None = None
    api_key_env: str | None = None
    weight: Annotated[int, Field(ge=1, le=1000)] = 1
    # Per-attempt timeout for this replica; None = the node's ``gateway.attempt_timeout_s``.
    timeout_s: TimeoutSeconds | None = None

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_VAR_RE.match(value):
            raise ValueError(f"{value!r} is not an environment variable name (letters, digits, '_')")
        return value

    @model_validator(mode="after")
    def _fields_for_kind(self) -> EngineRecord:
        if self.kind == "openai":
            if self.url is None:
                raise ValueError("an 'openai' engine needs a url, e.g. url: http://127.0.0.1:8000/v1")
            if not self.model:
                raise ValueError(
                    "an 'openai' engine needs the model name the server serves, e.g. model: qwen"
                )
        elif self.url is not None:
            raise ValueError(
                "a 'local' engine runs in-process and takes no url; use kind: openai for a server"
            )
        return self


class BreakerSpec(_Strict):
    """A replica's circuit breaker: open after ``consecutive_failures`` failures in a row, or when
    at least ``min_requests`` attempts in the last ``window_s`` seconds failed at ``error_rate`` or
    more; after ``sleep_s`` admit ``half_open_probes`` trial requests, which close it if they succeed."""

    consecutive_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    error_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    window_s: TimeoutSeconds = 30.0
    min_requests: Annotated[int, Field(ge=1, le=100_000)] = 20
    sleep_s: TimeoutSeconds = 10.0
    half_open_probes: Annotated[int, Field(ge=1, le=100)] = 2


class GatewayPolicy(_Strict):
    """How the gateway serves a name: balancing across its replicas, timeouts, retries, breaker,
    active health probes. Every field has a default, so a zone file needs a ``gateway:`` block only
    to change something."""

    balancing: Balancing = "least_outstanding"
    attempt_timeout_s: TimeoutSeconds = 30.0
    deadline_s: TimeoutSeconds = 120.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 2
    prefix_tokens: Annotated[int, Field(ge=1, le=100_000)] = 64
    probe_interval_s: Annotated[float, Field(ge=0.0, le=3600.0)] = 5.0
    breaker: BreakerSpec = BreakerSpec()

    @model_validator(mode="after")
    def _deadline_covers_attempt(self) -> GatewayPolicy:
        if self.deadline_s < self.attempt_timeout_s:
            raise ValueError(
                f"deadline_s ({self.deadline_s}) is shorter than attempt_timeout_s "
                f"({self.attempt_timeout_s}); raise deadline_s or lower attempt_timeout_s"
            )
        return self


class CacheSpec(_Strict):
    """The response cache for a name (``cache:`` in a zone file, at zone level or per node; a node's
    fields replace its zone's). ``similarity`` is the static threshold of the semantic tier;
    ``error_bound`` the false-hit rate the per-entry learned threshold keeps under (vCache); ``judge``
    the near-miss judge's false-hit budget: a candidate at or above ``similarity`` is served only if
    the judge's P(same request) reaches the threshold at which it passed at most this share of near
    misses on its validation pairs (``null``: no judge; then raise ``similarity`` to 0.92, the floor
    before the judge). Medical and legal zones ship stricter ``error_bound`` and ``judge``. Only
    deterministic requests (temperature 0) are cached unless ``nondeterministic`` opts in.
    ``shadow``: decide, but let the engine answer and count agreement."""

    enabled: bool = True
    similarity: Annotated[float, Field(ge=0.5, le=1.0)] = 0.70
    error_bound: Annotated[float, Field(gt=0.0, le=0.5)] = 0.02
    learn: bool = True
    verifier: bool = True
    judge: Annotated[float, Field(gt=0.0, le=0.5)] | None = 0.01
    ttl: Seconds = 3600
    stale_ttl: Seconds = 3600
    nondeterministic: bool = False
    shadow: bool = False
    max_entries: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000

    def merged(self, override: CacheSpec | None) -> CacheSpec:
        """This spec with the fields ``override`` sets explicitly replacing its own."""
        if override is None or not override.model_fields_set:
            return self
        return self.model_copy(update={k: getattr(override, k) for k in override.model_fields_set})


class DelegationRecord(_Strict):
    """The subtree under this node is served by other resolvers (the NS record of semdns).

    ``public_key`` is the child zone's Ed25519 public key (base64, 32 bytes), like a DS record: answers
    from the child are verified against it.
    """

    servers: Annotated[list[AnyHttpUrl], Field(min_length=1)]
    ttl: Seconds = 3600
    public_key: str | None = None

    @field_validator("public_key")
    @classmethod
    def _key_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("public_key must be base64 (as printed by `semdns key gen`)") from exc
        if len(raw) != 32:
            raise ValueError(f"public_key must decode to 32 bytes (an Ed25519 key), got {len(raw)}")
        return value


class NodeSpec(_Strict):
    """One name of the zone as written in the file."""

    description: str = ""
    dn: str | None = None
    system_prompt: str | None = None
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    engines: tuple[EngineRecord, ...] = ()
    delegation: DelegationRecord | None = None
    policy: PolicyOverride | None = None
    ttl: Seconds | None = None
    gateway: GatewayPolicy = GatewayPolicy()
    cache: CacheSpec | None = None
    privacy: PrivacySpec | None = None
    compress: CompressSpec | None = None
    cascade: CascadeSpec | None = None

    @field_validator("dn")
    @classmethod
    def _dn_parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parsed = DistinguishedName.parse(value)
        except InvalidName as exc:
            raise ValueError(str(exc)) from exc
        if parsed.is_empty:
            raise ValueError("dn is empty; remove the field to use the derived DN")
        return value

    @field_validator("keywords")
    @classmethod
    def _keywords_nonblank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(k.strip().lower() for k in value)
        for i, k in enumerate(cleaned):
            if not k:
                raise ValueError(f"keyword #{i + 1} is blank")
        return cleaned

    @field_validator("examples")
    @classmethod
    def _examples_nonblank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, e in enumerate(value):
            if not e.strip():
                raise ValueError(f"example #{i + 1} is blank")
        return tuple(e.strip() for e in value)


class ZoneFile(_Strict):
    """A whole zone file."""

    origin: str
    ttl: Seconds = 3600
    # The zone's version, like an SOA record's serial (e.g. 2026113001): ``/readyz`` and the
    # ``semdns_zone_serial`` metric show the serial in service, so an operator can tell that a reload
    # took. Optional; a zone without one reports 0.
    serial: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = None
    cache: CacheSpec | None = None
    privacy: PrivacySpec | None = None
    compress: CompressSpec | None = None
    cascade: CascadeSpec | None = None
    policy: PolicyOverride | None = None
    # The zone's Ed25519 private key (PEM, from `semdns key gen`), relative to the zone file: a resolver
    # serving this zone signs its answers with it; the parent's delegation record holds the public half.
    signing_key: str | None = None
    nodes: dict[str, NodeSpec] = Field(min_length=1)

    @field_validator("signing_key")
    @classmethod
    def _key_path(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("signing_key is blank; give the path of the key file or remove the field")
        return value

    @field_validator("origin")
    @classmethod
    def _origin_is_name(cls, value: str) -> str:
        try:
            return str(Name.parse(value))
        except InvalidName as exc:
            raise ValueError(str(exc)) from exc


def absolute_name(key: str, origin: Name) -> Name:
    """A node key as written (``contracts``, ``@``, or absolute ``contracts.legal.``) made absolute."""
    text = key.strip()
    if text == "@":
        return origin
    if text.endswith(".") and text != ".":
        return Name.parse(text)
    if text == ".":
        return Name.parse(".")
    relative = Name.parse(text)
    return Name(relative.labels + origin.labels)
