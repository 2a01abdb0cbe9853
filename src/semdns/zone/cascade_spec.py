"""The ``cascade:`` block of a zone file: when a name's answer is unsure, hand the request over.

The gateway asks the name's engine for token log-probabilities (the OpenAI ``logprobs`` field, which
llama.cpp, vLLM and SGLang return), scores the answer by the ``score`` statistic of its tokens'
log-probabilities (``mean`` or ``min``) and, below ``threshold``, escalates: to ``target`` when it is
set (a name with a larger model), else to the parent name; at most ``max_escalations`` times, and
only while at least ``min_remaining_s`` of the name's ``gateway.deadline_s`` is left. A stream is
decided on its first ``prefix_tokens`` tokens before any byte reaches the client (``stream:
prefix``), or on the whole answer, buffered (``stream: buffer``). Off unless a block says
``enabled: true``; a node's block replaces the fields it sets.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from semdns.names import InvalidName, Name


class CascadeSpec(BaseModel):
    """Per-name confidence cascade (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    enabled: bool = False
    score: Literal["mean", "min"] = "mean"
    threshold: Annotated[float, Field(le=0.0, ge=-100.0)] = -1.0
    target: str | None = None
    max_escalations: Annotated[int, Field(ge=1, le=4)] = 1
    min_remaining_s: Annotated[float, Field(ge=0.0, le=3600.0)] = 1.0
    stream: Literal["prefix", "buffer"] = "prefix"
    prefix_tokens: Annotated[int, Field(ge=1, le=4096)] = 16

    @field_validator("target")
    @classmethod
    def _target_is_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(Name.parse(value))
        except InvalidName as exc:
            raise ValueError(f"target must be a semantic name: {exc}") from exc

    def merged(self, override: CascadeSpec | None) -> CascadeSpec:
        """This spec with the fields ``override`` sets explicitly replacing its own."""
        if override is None or not override.model_fields_set:
            return self
        return self.model_copy(update={k: getattr(override, k) for k in override.model_fields_set})
