"""The pooled sentence vector: the one-window shortcut gives the masked mean's very numbers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from semdns.resolve.encoder import MiniLMEncoder, Vectors, _normalize


def masked_mean(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vectors:
    """The pooling as written before the shortcut: every window's rows times its mask, in float64."""
    summed = (hidden * mask[..., None]).sum(axis=(0, 1))
    mean = summed / max(int(mask.sum()), 1)
    vector: Vectors = _normalize(mean.reshape(1, -1).astype(np.float32))[0]
    return vector


PROMPTS = [
    "hi",
    "What is the derivative of x^2 sin(x)?",
    "def running_median(values: list[float]) -> list[float]:\n    '''Median of each prefix.'''\n",
    "Explain the doctrine of consideration in contract law, with an example of a promise that lacks it. " * 8,
]


@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_model_s_own_hidden_states_pool_to_the_masked_mean(encoder: MiniLMEncoder, prompt: str) -> None:
    parts = encoder.parts()
    feeds = encoder.window_feeds(encoder.token_ids(prompt))
    hidden = parts.first.run(None, feeds)[0]
    expected = masked_mean(hidden, feeds["attention_mask"])
    assert np.array_equal(MiniLMEncoder.pool(hidden, feeds["attention_mask"]), expected)


def test_the_last_prompt_has_two_windows_and_padding(encoder: MiniLMEncoder) -> None:
    """The parametrised cases cover both branches: one window, and two with the last one padded."""
    feeds = encoder.window_feeds(encoder.token_ids(PROMPTS[-1]))
    assert feeds["attention_mask"].shape[0] == 2 and not feeds["attention_mask"].all()
    assert encoder.window_feeds(encoder.token_ids(PROMPTS[1]))["attention_mask"].shape[0] == 1


@pytest.mark.parametrize("width", [1, 3, 17, 128])
def test_random_states_of_one_window_pool_to_the_masked_mean(width: int) -> None:
    rng = np.random.default_rng(width)
    for _ in range(50):
        hidden = (rng.standard_normal((1, width, 384)) * rng.uniform(0.01, 100)).astype(np.float32)
        mask = np.ones((1, width), dtype=np.int64)
        assert np.array_equal(MiniLMEncoder.pool(hidden, mask), masked_mean(hidden, mask))
