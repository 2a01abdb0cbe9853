"""Which text of a request is the question and which is context; bodies rebuilt, never mutated."""

from __future__ import annotations

import copy

from semdns.compress.lossy import QueryAwareCompressor
from semdns.compress.request import compress_body, split_question, split_request

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
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "And the ferry?"},
        ]
    }
    split = split_request("chat", body)
    assert split is not None
    assert split.documents == ["Noted."] and split.places == [(2, "whole")]


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
