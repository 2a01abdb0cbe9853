"""Applying lossy compression to an OpenAI request body: which text is the question, which is context.

The question is never compressed. In the last user message (or a completion's prompt) it is the last
paragraph when that paragraph is short (at most ``QUESTION_TOKENS``), else the last sentences up to
that size; everything before it in that message is context. System and developer messages
(instructions) and content given as a list of parts (images, audio) are left untouched. All context
shares one token budget, so the most relevant sentences win wherever they are. The body is copied,
never changed in place.

The conversation before the question is split the same way. In the last ``HISTORY_MESSAGES``
messages, each user message's own question (its last short paragraph) and each short assistant
answer (at most ``QUESTION_TOKENS``) are **turns**: kept verbatim and passed to the compressor as the
question's history, so a follow-up ("Who did she live with?") is scored with the turns that say
who "she" is. What is left of those user messages, longer assistant messages, tool results and all
older messages are context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from semdns.compress.lossy import LossyResult, QueryAwareCompressor
from semdns.compress.text import count_tokens, split_sentences

QUESTION_TOKENS = 200
HISTORY_MESSAGES = 16
_CONTEXT_ROLES = frozenset({"user", "assistant", "tool", "function"})


@dataclass(frozen=True)
class Split:
    """A request's context texts, its question, and where each context text goes back."""

    documents: list[str]
    question: str
    places: list[tuple[int, str]]
    """Per document: (message index or -1 for a prompt, ``whole`` or ``head`` of a message)."""
    history: list[str] = field(default_factory=list)
    """The conversation's earlier turns kept verbatim, oldest first."""
    tails: dict[int, str] = field(default_factory=dict)
    """Per message split into ``head`` and its own question: that question (kept verbatim)."""


def split_question(text: str) -> tuple[str, str]:
    """(context, question) of one message: the question is its last short paragraph or sentences."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    if not paragraphs:
        return "", text
    last = paragraphs[-1]
    if count_tokens(last) <= QUESTION_TOKENS:
        return "\n\n".join(paragraphs[:-1]), last
    sentences = split_sentences(last.replace("\n", " "))
    tail: list[str] = []
    while sentences and (not tail or count_tokens(" ".join([sentences[-1], *tail])) <= QUESTION_TOKENS):
        tail.insert(0, sentences.pop())
    head = "\n\n".join([*paragraphs[:-1], " ".join(sentences)]) if sentences else "\n\n".join(paragraphs[:-1])
    return head, " ".join(tail)


def split_request(endpoint: str, body: dict[str, Any]) -> Split | None:
    """The context and question of ``body`` (None when there is nothing to compress)."""
    if endpoint != "chat":
        prompt = body.get("prompt")
        text = prompt[0] if isinstance(prompt, list) and prompt else prompt
        if not isinstance(text, str):
            return None
        head, question = split_question(text)
        return Split([head], question, [(-1, "head")], tails={-1: question}) if head.strip() else None
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    messages = [m if isinstance(m, dict) else {} for m in messages]  # a malformed entry is no context
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    if last_user < 0 or not isinstance(messages[last_user].get("content"), str):
        return None
    documents: list[str] = []
    places: list[tuple[int, str]] = []
    history: list[str] = []
    tails: dict[int, str] = {}

    def split_user(index: int, content: str) -> str:
        """A user message's context (a ``head`` document, when there is one) and its own question,
        which is kept verbatim and returned."""
        head, question = split_question(content)
        tails[index] = question
        if head.strip():
            documents.append(head)
            places.append((index, "head"))
        return question

    recent = last_user - HISTORY_MESSAGES
    for i, message in enumerate(messages[:last_user]):
        content = message.get("content")
        role = message.get("role")
        if role not in _CONTEXT_ROLES or not isinstance(content, str) or not content.strip():
            continue
        if i >= recent and role == "user":
            turn = split_user(i, content)
            if turn.strip():
                history.append(turn)
        elif i >= recent and role == "assistant" and count_tokens(content) <= QUESTION_TOKENS:
            history.append(content)
        else:
            documents.append(content)
            places.append((i, "whole"))
    question = split_user(last_user, messages[last_user]["content"])
    return Split(documents, question, places, history, tails) if documents else None


def rebuild(endpoint: str, body: dict[str, Any], split: Split, compressed: list[str]) -> dict[str, Any]:
    """A copy of ``body`` with each context text replaced by its compressed form."""
    out = dict(body)
    if endpoint != "chat":
        text = f"{compressed[0]}\n\n{split.question}" if compressed[0] else split.question
        out["prompt"] = text
        return out
    messages = [dict(m) if isinstance(m, dict) else m for m in body["messages"]]
    for (index, part), text in zip(split.places, compressed, strict=True):
        if part == "head":
            tail = split.tails[index]
            messages[index]["content"] = f"{text}\n\n{tail}" if text else tail
        else:
            messages[index]["content"] = text or "…"
    out["messages"] = messages
    return out


def compress_body(
    compressor: QueryAwareCompressor,
    endpoint: str,
    body: dict[str, Any],
    target: Callable[[int], int],
    *,
    min_tokens: int,
    method: str,
    is_boilerplate: Callable[[str], bool] | None = None,
    vague_target: Callable[[int], int] | None = None,
) -> tuple[dict[str, Any], LossyResult, list[str]] | None:
    """The compressed body, what was done, and the context texts (for boilerplate mining); None when
    the request has less context than ``min_tokens``. ``vague_target``: the budget when the
    question and its history say too little to choose by (see :class:`~semdns.compress.lossy.Weights`)."""
    split = split_request(endpoint, body)
    if split is None:
        return None
    tokens = sum(count_tokens(d) for d in split.documents)
    if tokens < min_tokens:
        return None
    compressed, result = compressor.compress(
        split.documents,
        split.question,
        target(tokens),
        method=method,
        is_boilerplate=is_boilerplate,
        history=split.history,
        vague_target_tokens=vague_target(tokens) if vague_target is not None else None,
    )
    return rebuild(endpoint, body, split, compressed), result, split.documents
