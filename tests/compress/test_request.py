"""Which text of a request is the question and which is context; bodies rebuilt, never mutated."""

from __future__ import annotations

import copy
from typing import Any

from semdns.compress.lossy import QueryAwareCompressor
from semdns.compress.request import HISTORY_MESSAGES, compress_body, rebuild, split_question, split_request

DOC = " ".join(f"Paragraph sentence {i} talks about shipping schedules and crates." for i in range(60))
FACT = "The ferry to Hvar leaves at 07:45 from pier 3."


def test_the_last_short_paragraph_is_the_question() -> None:
    head, question = split_question(f"{DOC}\n\n{FACT}\n\nWhen does the ferry to Hvar leave?")
    assert question == "When does the ferry to Hvar leave?"
    assert head.endswith(FACT)


def test_a_long_last_paragraph_gives_its_last_sentences() -> None:
    head, question = split_question(f"{DOC} When does the ferry to Hvar leave?")
    assert question.endswith("When does the ferry to Hvar leave?")
    assert head and question not in head


def test_system_messages_and_part_lists_are_not_context() -> None:
    body = {
        "messages": [
            {"role": "system", "content": DOC},
            {"role": "user", "content": [{"type": "text", "text": DOC}]},
            {"role": "assistant", "content": DOC},
            {"role": "user", "content": "And the ferry?"},
        ]
    }
    split = split_request("chat", body)
    assert split is not None
    assert split.documents == [DOC] and split.places == [(2, "whole")] and split.history == []


def test_a_conversation_gives_the_question_its_earlier_turns_kept_verbatim() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Answer from the document."},
            {"role": "user", "content": f"{DOC}\n\nWhich islands does the ferry serve?"},
            {"role": "assistant", "content": "Hvar and Vis."},
            {"role": "tool", "content": "timetable: none"},
            {"role": "user", "content": "Where does it leave from?"},
            {"role": "assistant", "content": "Pier 3."},
            {"role": "user", "content": "When?"},
        ]
    }
    split = split_request("chat", body)
    assert split is not None and split.question == "When?"
    assert split.history == [
        "Which islands does the ferry serve?",
        "Hvar and Vis.",
        "Where does it leave from?",
        "Pier 3.",
    ]
    assert split.documents == [DOC, "timetable: none"] and split.places == [(1, "head"), (3, "whole")]
    out = rebuild("chat", body, split, ["kept part", ""])
    assert out["messages"][1]["content"] == "kept part\n\nWhich islands does the ferry serve?"
    assert out["messages"][3]["content"] == "…"  # an emptied context message keeps its place
    assert [m["content"] for m in out["messages"][4:]] == ["Where does it leave from?", "Pier 3.", "When?"]
    assert body["messages"][1]["content"].startswith(DOC)


def test_turns_older_than_the_history_window_are_context() -> None:
    old = [{"role": r, "content": f"old {r} turn {i}"} for i in range(HISTORY_MESSAGES) for r in ("user",)]
    body = {
        "messages": [
            *old,
            {"role": "assistant", "content": "recent answer"},
            {"role": "user", "content": "Q?"},
        ]
    }
    split = split_request("chat", body)
    assert split is not None
    assert split.documents == ["old user turn 0"] and split.places == [(0, "whole")]
    assert split.history[0] == "old user turn 1" and split.history[-1] == "recent answer"


def test_malformed_messages_are_no_context_and_raise_nothing() -> None:
    body: dict[str, Any] = {
        "messages": [
            "not a message",
            {"role": "assistant"},
            {"role": "assistant", "content": None},
            {"role": "user", "content": 42},
            {"role": "user", "content": "   "},
            {"content": DOC},
            {"role": "user", "content": f"{DOC}\n\nWhen does the ferry to Hvar leave?"},
        ]
    }
    split = split_request("chat", body)
    assert split is not None and split.documents == [DOC] and split.history == []
    out = rebuild("chat", body, split, ["short"])
    assert out["messages"][0] == "not a message" and out["messages"][-1]["content"].startswith("short\n\n")
    assert split_request("chat", {"messages": ["x", None, 3]}) is None


def test_a_vague_question_gets_the_wider_budget_when_one_is_given() -> None:
    body = {"messages": [{"role": "user", "content": f"{DOC} {FACT} {DOC}\n\nWhen?"}]}
    narrow = compress_body(
        QueryAwareCompressor(), "chat", body, lambda n: n // 4, min_tokens=1, method="lexical"
    )
    wide = compress_body(
        QueryAwareCompressor(),
        "chat",
        body,
        lambda n: n // 4,
        min_tokens=1,
        method="lexical",
        vague_target=lambda n: n // 2,
    )
    assert narrow is not None and wide is not None
    assert not narrow[1].widened and narrow[1].ratio >= 3.5
    assert wide[1].widened and 1.8 <= wide[1].ratio <= 2.2
    named = {"messages": [{"role": "user", "content": f"{DOC} {FACT} {DOC}\n\nWhen does the ferry leave?"}]}
    sharp = compress_body(
        QueryAwareCompressor(),
        "chat",
        named,
        lambda n: n // 4,
        min_tokens=1,
        method="lexical",
        vague_target=lambda n: n // 2,
    )
    assert sharp is not None and not sharp[1].widened and FACT in sharp[0]["messages"][0]["content"]


def test_nothing_to_compress() -> None:
    assert split_request("chat", {"messages": [{"role": "user", "content": "Hi?"}]}) is None
    assert split_request("chat", {"messages": [{"role": "system", "content": DOC}]}) is None
    assert split_request("completion", {"prompt": ["only a question?"]}) is None
    assert split_request("completion", {"prompt": 42}) is None


def test_chat_body_compressed_question_intact_original_untouched() -> None:
    body = {
        "model": "auto",
        "temperature": 0,
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": f"{DOC} {FACT} {DOC}\n\nWhen does the ferry to Hvar leave?"},
        ],
    }
    before = copy.deepcopy(body)
    done = compress_body(
        QueryAwareCompressor(), "chat", body, lambda n: n // 4, min_tokens=100, method="lexical"
    )
    assert done is not None
    out, result, documents = done
    assert body == before
    content = out["messages"][1]["content"]
    assert content.endswith("\n\nWhen does the ferry to Hvar leave?") and FACT in content
    assert out["messages"][0] == before["messages"][0] and out["temperature"] == 0
    assert result.ratio >= 3.5 and len(documents) == 1


def test_completion_prompt_and_the_minimum() -> None:
    body = {"prompt": f"{DOC} {FACT}\n\nWhen does the ferry to Hvar leave?"}
    done = compress_body(
        QueryAwareCompressor(), "completion", body, lambda n: 40, min_tokens=100, method="lexical"
    )
    assert done is not None and FACT in done[0]["prompt"]
    short = compress_body(
        QueryAwareCompressor(), "completion", body, lambda n: 40, min_tokens=10_000, method="lexical"
    )
    assert short is None
