"""A name's privacy policy and what it does to one request.

```yaml
privacy:                      # zone level or per node; a node's fields replace its zone's
  action: mask                # pass (default) | mask | refuse
  detectors: [email, phone, card, iban, national_id, ip]   # default: all
  restore: true               # put the originals back in the answer (JSON answers only)
```

``mask`` replaces each finding by a placeholder (``[CARD_1]``) in every message before the request
goes anywhere: the response cache keys and stores the masked request and the engine's answer to it,
the engine sees placeholders, logs and traces see at most the kinds. The originals live only in the
:class:`Masking` of that request, which puts them back into the answer returned to the same client
(``restore``), never into anything stored. ``refuse`` answers 400 ``personal_data_refused`` naming the
kinds found. A request served by several names (fan-out) follows the strictest of their policies.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from semdns.errors import PersonalDataRefused
from semdns.privacy.detect import KINDS, Finding, detect

Action = Literal["pass", "mask", "refuse"]
_STRICTNESS: dict[str, int] = {"pass": 0, "mask": 1, "refuse": 2}
_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|NATIONAL_ID|IP)_(\d{1,4})\]")


class PrivacySpec(BaseModel):
    """``privacy:`` in a zone file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Action = "pass"
    detectors: tuple[str, ...] = KINDS
    restore: bool = True

    @field_validator("detectors")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"detectors is empty; list some of {', '.join(KINDS)} (or set action: pass)")
        for kind in value:
            if kind not in KINDS:
                hint = (
                    " (names need a named-entity model, which semdns does not ship)" if kind == "name" else ""
                )
                raise ValueError(f"unknown detector {kind!r}{hint}; choose from {', '.join(KINDS)}")
        return tuple(dict.fromkeys(value))

    def merged(self, override: PrivacySpec | None) -> PrivacySpec:
        """This spec with the fields ``override`` sets explicitly replacing its own."""
        if override is None or not override.model_fields_set:
            return self
        return self.model_copy(update={k: getattr(override, k) for k in override.model_fields_set})


def strictest(specs: Iterable[PrivacySpec]) -> PrivacySpec:
    """One policy for a request served by several names: the strictest action, the union of the
    detectors of every name that does not pass, restore only if all of them restore."""
    chosen = list(specs)
    if not chosen:
        return PrivacySpec()
    action = max((s.action for s in chosen), key=lambda a: _STRICTNESS[a])
    active = [s for s in chosen if s.action != "pass"] or chosen
    detectors = tuple(dict.fromkeys(k for s in active for k in s.detectors))
    return PrivacySpec(action=action, detectors=detectors, restore=all(s.restore for s in active))


@dataclass(slots=True)
class Masking:
    """The placeholders of one request and the originals they stand for (held in memory only)."""

    originals: dict[str, str] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    _by_text: dict[tuple[str, str], str] = field(default_factory=dict)

    def mask(self, text: str, findings: list[Finding]) -> str:
        """``text`` with each finding replaced by its placeholder (the same value, the same one)."""
        if not findings:
            return text
        out: list[str] = []
        last = 0
        for f in findings:
            key = (f.kind, f.text)
            placeholder = self._by_text.get(key)
            if placeholder is None:
                self.counts[f.kind] += 1
                placeholder = f"[{f.kind.upper()}_{self.counts[f.kind]}]"
                self._by_text[key] = placeholder
                self.originals[placeholder] = f.text
            out.append(text[last : f.start])
            out.append(placeholder)
            last = f.end
        out.append(text[last:])
        return "".join(out)

    def restore(self, text: str) -> str:
        """``text`` with this request's placeholders replaced by the originals (others left alone)."""
        if not self.originals or "[" not in text:
            return text
        return _PLACEHOLDER.sub(lambda m: self.originals.get(m.group(), m.group()), text)

    def summary(self) -> dict[str, int]:
        """Counts by kind, for the ``semdns`` field and logs (never the values)."""
        return dict(sorted(self.counts.items()))


def apply_policy(
    spec: PrivacySpec, body: dict[str, Any], endpoint: str
) -> tuple[dict[str, Any], Masking | None]:
    """The body to send on under ``spec``: unchanged (``pass``, or nothing found), masked (a new body;
    ``body`` is not modified), or :class:`PersonalDataRefused`. Scans every message's text (chat) or
    the prompt (completions)."""
    if spec.action == "pass":
        return body, None
    masking = Masking()
    masked = _map_texts(body, endpoint, lambda text: masking.mask(text, detect(text, spec.detectors)))
    if not masking.counts:
        return body, None
    if spec.action == "refuse":
        kinds = ", ".join(f"{kind} ({n})" for kind, n in masking.summary().items())
        raise PersonalDataRefused(
            f"the prompt holds personal data ({kinds}) and this name's privacy policy refuses it; "
            "remove it, or ask the operator for a name whose policy masks it",
            param="messages" if endpoint == "chat" else "prompt",
        )
    return masked, masking


def restore_json(result: Mapping[str, Any], masking: Masking) -> dict[str, Any]:
    """An OpenAI answer (chat or completion) with the placeholders in its text restored."""
    out = dict(result)
    choices = out.get("choices")
    if isinstance(choices, list):
        restored = []
        for choice in choices:
            if isinstance(choice, dict):
                choice = dict(choice)
                message = choice.get("message")
                if isinstance(message, dict) and isinstance(message.get("content"), str):
                    choice["message"] = {**message, "content": masking.restore(message["content"])}
                if isinstance(choice.get("text"), str):
                    choice["text"] = masking.restore(choice["text"])
            restored.append(choice)
        out["choices"] = restored
    return out


def _map_texts(body: dict[str, Any], endpoint: str, fn: Any) -> dict[str, Any]:
    """A copy of ``body`` with ``fn`` applied to every text a model would read."""
    out = dict(body)
    if endpoint == "chat":
        messages = body.get("messages")
        if isinstance(messages, list):
            out["messages"] = [_map_message(m, fn) for m in messages]
    else:
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            out["prompt"] = fn(prompt)
        elif isinstance(prompt, list):
            out["prompt"] = [fn(p) if isinstance(p, str) else p for p in prompt]
    return out


def _map_message(message: Any, fn: Any) -> Any:
    """The message with ``fn`` applied to its content (a string or text parts) and to the arguments of
    its tool calls (an assistant's earlier calls carry what the user said, e.g. an e-mail address)."""
    if not isinstance(message, dict):
        return message
    out = dict(message)
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = fn(content)
    elif isinstance(content, list):
        out["content"] = [
            {**part, "text": fn(part["text"])}
            if isinstance(part, dict) and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [_map_call(call, fn) for call in calls]
    if isinstance(message.get("function_call"), dict):
        out["function_call"] = _map_function(message["function_call"], fn)
    return out


def _map_call(call: Any, fn: Any) -> Any:
    if isinstance(call, dict) and isinstance(call.get("function"), dict):
        return {**call, "function": _map_function(call["function"], fn)}
    return call


def _map_function(function: dict[str, Any], fn: Any) -> dict[str, Any]:
    arguments = function.get("arguments")
    return {**function, "arguments": fn(arguments)} if isinstance(arguments, str) else function
