"""What makes two requests the same request: the exact key, the multi-turn prefix, determinism and
the client's cache controls.

* The **exact key** hashes the tenant scope, the resolved name, the endpoint and the whole body
  except the fields that do not change the answer (``stream``, ``user``, ``model`` …: the resolved
  name already stands for the model).
* The **prefix** hashes the same, with the final user message left out: a semantic hit needs an equal
  prefix, so that earlier turns, the system prompt and the sampling parameters all match exactly and
  only the last question may be a paraphrase.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# Body fields that never change the text of the answer.
_IGNORED = frozenset(
    {"stream", "stream_options", "user", "model", "metadata", "store", "service_tier", "safety_identifier"}
)
_QUERY_MARK = "\x00semdns:query\x00"


@dataclass(frozen=True, slots=True)
class CacheKeys:
    exact: str
    prefix: str


def cache_keys(scope: str, name: str, endpoint: str, body: Mapping[str, Any]) -> CacheKeys:
    """The exact key and the prefix key of a request (hex SHA-256 digests)."""
    kept = {k: v for k, v in body.items() if k not in _IGNORED}
    exact = _digest(scope, name, endpoint, kept)
    if endpoint == "chat":
        messages = list(kept.get("messages") or [])
        last = _last_user(messages)
        if last is not None:
            message = dict(messages[last])
            message["content"] = _QUERY_MARK
            messages[last] = message
        kept = {**kept, "messages": messages}
    else:
        kept = {**kept, "prompt": _QUERY_MARK}
    return CacheKeys(exact, _digest(scope, name, endpoint, kept))


def _digest(scope: str, name: str, endpoint: str, body: Mapping[str, Any]) -> str:
    head = orjson.dumps([scope, name, endpoint])
    payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(head + b"\x00" + payload).hexdigest()


def _last_user(messages: list[Any]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, dict) and message.get("role") == "user":
            return i
    return None


def is_deterministic(body: Mapping[str, Any]) -> bool:
    """Temperature 0 (OpenAI's default is 1), one choice, no logprobs or tools that sample."""
    temperature = body.get("temperature")
    if temperature is None or temperature != 0:
        return False
    n = body.get("n")
    return n is None or n == 1


@dataclass(frozen=True, slots=True)
class ClientControl:
    """What the client asked of the cache: ``no_read`` (``no-cache``: do not serve from it),
    ``no_store`` (``no-store``: do not write this answer); ``bypass`` is both."""

    no_read: bool = False
    no_store: bool = False


def client_control(cache_control: str | None, semdns_cache: str | None) -> ClientControl:
    """From ``Cache-Control`` (``no-cache``, ``no-store``) and ``x-semdns-cache`` (``bypass``,
    ``no-store``)."""
    no_read = no_store = False
    for part in (cache_control or "").lower().split(","):
        directive = part.strip().split("=", 1)[0]
        if directive == "no-cache":
            no_read = True
        elif directive == "no-store":
            no_store = True
    mode = (semdns_cache or "").strip().lower()
    if mode == "bypass":
        no_read = no_store = True
    elif mode == "no-store":
        no_store = True
    return ClientControl(no_read, no_store)
