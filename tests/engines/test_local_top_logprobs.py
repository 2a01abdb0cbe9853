"""The local engine's chat ``top_logprobs``: exactly the requested number, most likely first.

llama.cpp appends the sampled token to its top-k when the draw fell outside them, so a chat answer
could carry k + 1 alternatives depending on the seed (a conformance test failed on one draw)."""

from __future__ import annotations

from typing import Any

from semdns.engines.local import _keep_top


def _chunk(top: list[dict[str, Any]]) -> dict[str, Any]:
    entry = {"token": "b", "logprob": -3.0, "top_logprobs": top}
    return {"choices": [{"index": 0, "logprobs": {"content": [entry]}}]}


def test_the_sampled_token_outside_the_top_k_is_dropped_and_the_rest_sorted() -> None:
    top = [
        {"token": "a", "logprob": -0.5},
        {"token": "c", "logprob": -0.2},
        {"token": "b", "logprob": -3.0},  # the sampled one, appended by llama.cpp
    ]
    chunk = _chunk(top)
    _keep_top(chunk, 2)
    kept = chunk["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert [t["token"] for t in kept] == ["c", "a"]


def test_lists_already_of_the_right_size_and_chunks_without_logprobs_are_left_alone() -> None:
    top = [{"token": "a", "logprob": -0.5}, {"token": "c", "logprob": -0.9}]
    chunk = _chunk(list(top))
    _keep_top(chunk, 2)
    assert chunk["choices"][0]["logprobs"]["content"][0]["top_logprobs"] == top
    bare: dict[str, Any] = {"choices": [{"index": 0, "logprobs": None, "delta": {"content": "x"}}]}
    _keep_top(bare, 2)
    assert bare["choices"][0]["logprobs"] is None
    _keep_top({"usage": {}}, 2)  # a usage chunk has no choices


def test_llama_cpp_is_asked_for_the_client_count() -> None:
    from semdns.engines.local_params import build_job

    body = {"messages": [{"role": "user", "content": "hi"}], "logprobs": True, "top_logprobs": 2}
    job = build_job("chat", body, 16, "local", ".")
    assert job.top_logprobs == 2 and job.logprobs
    assert job.kwargs["top_logprobs"] == 2
    plain = build_job("chat", {**body, "top_logprobs": None}, 16, "local", ".")
    assert plain.top_logprobs == 0 and plain.kwargs["top_logprobs"] == 0
