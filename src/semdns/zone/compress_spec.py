"""The ``compress:`` block of a zone file: what the gateway does to a long prompt for a name.

``mode``: ``off`` (the default: prompts reach the engine as sent); ``lossless`` (nothing is dropped:
the prompt reaches the engine unchanged, and a context that crosses gateways travels as CCP, zstd
with the zone's dictionary; the answer reports that ratio); ``lossy`` (query-aware selection,
:mod:`semdns.compress.lossy`: a context of at least ``min_tokens`` tokens is cut to ``budget_tokens``
or to 1/``ratio`` of its tokens, whichever is smaller; 4x when neither is given). ``method``:
``lexical`` (fast: a few ms per 2,000 tokens), ``static`` (adds static-embedding similarity from
MiniLM's token table: better on questions that share few words with the text, at about twice the
lexical cost) or ``hybrid`` (adds MiniLM similarity itself: about a hundred times slower on a CPU).
``vague_ratio``: the ratio for a question too vague to choose by (fewer than two content words in it
and its conversation, a bare "Who?"): keep more rather than guess (still within ``budget_tokens``).
``boilerplate``: drop sentences mined as the zone's boilerplate. ``dictionary``: a trained zstd
dictionary file (``semdns compress train-dict``), relative to the zone file. ``words``: a trained
word model (``semdns compress train-dict --words``), which codes short messages (CCP ``words``).
A ``ratio`` or ``budget_tokens`` without a ``mode`` means ``mode: lossy``. A zone-level block is the
default for its nodes; a node's block replaces the fields it sets.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CompressMode = Literal["off", "lossless", "lossy"]
CompressMethod = Literal["lexical", "hybrid", "static"]


class CompressSpec(BaseModel):
    """Per-name context-compression policy (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    mode: CompressMode = "off"
    ratio: Annotated[float, Field(ge=1.0, le=100.0)] | None = None
    budget_tokens: Annotated[int, Field(ge=16, le=1_000_000)] | None = None
    vague_ratio: Annotated[float, Field(ge=1.0, le=100.0)] | None = None
    min_tokens: Annotated[int, Field(ge=0, le=1_000_000)] = 512
    method: CompressMethod = "lexical"
    boilerplate: bool = True
    dictionary: str | None = None
    words: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _budget_means_lossy(cls, data: Any) -> Any:
        """A block that gives a ratio or a budget and no mode asks for lossy compression."""
        if isinstance(data, dict) and "mode" not in data and ({"ratio", "budget_tokens"} & data.keys()):
            return {**data, "mode": "lossy"}
        return data

    @model_validator(mode="after")
    def _lossy_settings(self) -> CompressSpec:
        if self.mode != "lossy" and (
            self.ratio is not None or self.budget_tokens is not None or self.vague_ratio is not None
        ):
            raise ValueError(
                "ratio, budget_tokens and vague_ratio apply to mode: lossy "
                f"(this block has mode: {self.mode})"
            )
        if self.dictionary is not None and not self.dictionary.strip():
            raise ValueError("dictionary is blank; give the path of a .zdict file or remove the field")
        if self.words is not None and not self.words.strip():
            raise ValueError("words is blank; give the path of a .words file or remove the field")
        return self

    def target(self, tokens: int, *, vague: bool = False) -> int:
        """The token budget for a context of ``tokens`` tokens (``vague``: for a vague question,
        with ``vague_ratio`` when one is set)."""
        ratio = self.ratio if self.ratio is not None else (None if self.budget_tokens else 4.0)
        if vague and self.vague_ratio is not None:
            ratio = self.vague_ratio
        limits = [tokens]
        if ratio is not None:
            limits.append(max(1, int(tokens / ratio)))
        if self.budget_tokens is not None:
            limits.append(self.budget_tokens)
        return min(limits)

    def merged(self, override: CompressSpec | None) -> CompressSpec:
        """This spec with the fields ``override`` sets explicitly replacing its own."""
        if override is None or not override.model_fields_set:
            return self
        data = {**self.model_dump(), **{k: getattr(override, k) for k in override.model_fields_set}}
        if data["mode"] != "lossy":
            data["ratio"] = data["budget_tokens"] = None
        return CompressSpec.model_validate(data)
