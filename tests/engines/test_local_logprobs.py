"""The local engine's chat alternatives by token id: pieces of one UTF-8 character, which llama.cpp's
text-keyed alternatives collapse into one "" entry, stay apart; the numbers are llama.cpp's
log-softmax; a request's logit_bias still applies when alternatives are recorded. (llama-cpp-python is
installed by scripts/setup.sh; without it the local engine, and this module, do not run.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from semdns.engines.local import _record_alternatives
from semdns.engines.local_logprobs import TopAlternatives, bias_processor, token_entry

llama_cpp = pytest.importorskip("llama_cpp")
logprobs_of = llama_cpp.Llama.logits_to_logprobs

# Token 0: "Hi", 1 and 2: the first two bytes of 👋 (each alone is no UTF-8), 3: "!", 4: end of turn.
PIECES = {0: b"Hi", 1: b"\xf0", 2: b"\x9f", 3: b"!", 4: b"<|im_end|>"}


def detokenize(tokens: list[int], special: bool = False) -> bytes:
    return b"".join(PIECES[t] for t in tokens)


def _chunk(tokens: int) -> dict[str, Any]:
    content = [
        {"token": "", "logprob": -0.1, "top_logprobs": [{"token": "", "logprob": -0.1}]}
        for _ in range(tokens)
    ]
    return {"choices": [{"index": 0, "logprobs": {"content": content}}]}


def test_pieces_of_one_character_are_distinct_alternatives_with_their_bytes() -> None:
    recorder = TopAlternatives(2, detokenize, logprobs_of)
    logits = np.array([0.0, 5.0, 4.5, -1.0, -2.0], dtype=np.single)
    assert recorder(np.array([7, 8], dtype=np.intc), logits) is logits  # the logits are not changed
    chunk = _chunk(1)
    recorder.fill(chunk)
    top = chunk["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert [t["token"] for t in top] == ["\\xf0", "\\x9f"]
    assert [t["bytes"] for t in top] == [[0xF0], [0x9F]]
    expected = logprobs_of(logits)  # the numbers llama.cpp reports for the sampled token
    assert [t["logprob"] for t in top] == [float(expected[1]), float(expected[2])]
    assert top[0]["logprob"] >= top[1]["logprob"]


def test_positions_fill_the_answers_tokens_in_order_and_extra_chunks_are_left_alone() -> None:
    recorder = TopAlternatives(1, detokenize, logprobs_of)
    for best in (0, 3):
        logits = np.full(5, -5.0, dtype=np.single)
        logits[best] = 1.0
        recorder(np.array([], dtype=np.intc), logits)
    first, second, third = _chunk(1), _chunk(1), _chunk(1)
    recorder.fill({"choices": [{"index": 0, "delta": {"role": "assistant"}, "logprobs": None}]})  # no token
    for chunk in (first, second, third):
        recorder.fill(chunk)
    assert first["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]["token"] == "Hi"
    assert second["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]["token"] == "!"
    assert third["choices"][0]["logprobs"]["content"][0]["top_logprobs"] == [{"token": "", "logprob": -0.1}]


def test_a_token_entry_writes_text_that_is_not_utf8_as_escaped_bytes() -> None:
    assert token_entry(b"caf\xc3\xa9", -0.5) == {
        "token": "café",
        "logprob": -0.5,
        "bytes": [99, 97, 102, 195, 169],
    }
    assert token_entry(b"\xe2\x80", -1.0)["token"] == "\\xe2\\x80"


def test_a_logit_bias_is_applied_after_the_recording() -> None:
    class FakeLlama:
        def detokenize(self, tokens: list[int], special: bool = False) -> bytes:
            return detokenize(tokens, special)

    args: dict[str, Any] = {"messages": [], "logit_bias": {3: 10.0}, "top_logprobs": 2}
    recorder = _record_alternatives(FakeLlama(), args, 2)
    assert "logit_bias" not in args  # llama-cpp-python would drop it beside a processor
    processors = args["logits_processor"]
    logits = np.array([1.0, 0.0, 0.0, 0.0, 0.0], dtype=np.single)
    biased = processors(np.array([], dtype=np.intc), logits)
    assert biased[3] == 10.0 and logits[3] == 0.0  # the bias on a copy; the recording saw the raw logits
    chunk = _chunk(1)
    recorder.fill(chunk)
    assert chunk["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]["token"] == "Hi"
    assert bias_processor({0: -1.0})(np.array([], dtype=np.intc), logits)[0] == 0.0
