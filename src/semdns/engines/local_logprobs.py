"""A chat answer's ``top_logprobs`` for the local engine, keyed by token, not by text.

llama-cpp-python builds each position's alternatives as a dict keyed by the alternative's *text*,
decoded with ``errors="ignore"``. Tokens that are pieces of one UTF-8 character (an emoji is three or
four such tokens in SmolLM2's byte-level vocabulary) all decode to ``""`` and collapse into one entry,
as do special tokens. Asking for spare alternatives does not help: on "Say hello." at the default
temperature, 2.3% of positions listed fewer than the two alternatives asked with three spares and
1.1% with forty (a one-off script, 300 answers each), because every one of the top 42 was such a piece.
OpenAI's contract is exactly ``top_logprobs`` entries, most likely first, each with its ``bytes``.

So a request that asks for them records, at every sampled position, the most likely tokens by id
straight from the logits the sampler sees (a logits processor that changes nothing), through llama.cpp's
own log-softmax (``Llama.logits_to_logprobs``, so the numbers are those it reports), and puts them in
place of llama.cpp's list in each chunk: the i-th token of the answer is the i-th sampled position (the
tokens a stream returns are always a prefix of those sampled). A piece of a character is written as
OpenAI writes one: its bytes escaped in ``token`` (``"\\xf0\\x9f"``) and listed in ``bytes``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt


def token_entry(token_bytes: bytes, logprob: float) -> dict[str, Any]:
    """One alternative as OpenAI lists it: its text (bytes that are not UTF-8 escaped), log
    probability and bytes."""
    return {
        "token": token_bytes.decode("utf-8", errors="backslashreplace"),
        "logprob": logprob,
        "bytes": list(token_bytes),
    }


class TopAlternatives:
    """A logits processor (it returns the logits unchanged) that remembers each sampled position's
    ``count`` most likely token ids and their log probabilities, and writes them into chat chunks.

    ``detokenize`` (``Llama.detokenize``: token ids to bytes) and ``logprobs_of``
    (``Llama.logits_to_logprobs``) come from the loaded model's library, which is an optional extra."""

    def __init__(self, count: int, detokenize: Any, logprobs_of: Any) -> None:
        self.count = count
        self._detokenize = detokenize
        self._logprobs_of = logprobs_of
        self._positions: deque[list[tuple[int, float]]] = deque()

    def __call__(
        self, input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]
    ) -> npt.NDArray[np.single]:
        logprobs = self._logprobs_of(np.asarray(scores, dtype=np.single))
        count = min(self.count, logprobs.shape[0])
        best = np.argpartition(-logprobs, count - 1)[:count]
        ranked = sorted(((int(i), float(logprobs[i])) for i in best), key=lambda item: (-item[1], item[0]))
        self._positions.append(ranked)
        return scores

    def fill(self, chunk: dict[str, Any]) -> None:
        """Replace llama.cpp's alternatives in ``chunk`` (a chat stream chunk) with the recorded ones,
        one recorded position per token entry, in order."""
        for choice in chunk.get("choices") or ():
            logprobs = choice.get("logprobs")
            if not isinstance(logprobs, dict):
                continue
            for entry in logprobs.get("content") or ():
                if not self._positions:
                    return
                ranked = self._positions.popleft()
                entry["top_logprobs"] = [
                    token_entry(bytes(self._detokenize([token], special=True)), logprob)
                    for token, logprob in ranked
                ]


def bias_processor(bias: dict[int, float]) -> Any:
    """``logit_bias`` as llama.cpp applies it (each listed token's logit plus its bias, on a copy).
    llama-cpp-python drops both its own bias and any other logits processor when a request has both
    (``LogitsProcessorList.extend`` returns None), so a request with alternatives recorded applies
    its bias here instead."""

    def apply(input_ids: npt.NDArray[np.intc], scores: npt.NDArray[np.single]) -> npt.NDArray[np.single]:
        biased = np.copy(scores)
        for token, value in bias.items():
            biased[token] = value + scores[token]
        return biased

    return apply
