"""The pooled sentence vector: every token of every window once; one window gives the masked mean's very
numbers."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from semdns.resolve.encoder import MiniLMEncoder, Vectors, _normalize, padded_feeds


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
    """Every token of every window counts once: the masked mean of the windows' states laid end to
    end (exactly so for one window; two windows add their float64 sums in another order)."""
    parts = encoder.parts()
    hidden = [parts.first.run(None, feeds)[0] for feeds in encoder.window_feeds(encoder.token_ids(prompt))]
    joined = np.concatenate(hidden, axis=1)
    expected = masked_mean(joined, np.ones(joined.shape[:2], dtype=np.int64))
    if len(hidden) == 1:
        assert np.array_equal(MiniLMEncoder.pool(hidden), expected)
    else:
        np.testing.assert_allclose(MiniLMEncoder.pool(hidden), expected, rtol=0, atol=1e-6)


def test_a_long_prompt_s_windows_are_separate_unpadded_calls(encoder: MiniLMEncoder) -> None:
    """The parametrised cases cover both branches; a two-window prompt's last window is shorter and
    is not padded to the first (padding would enter the int8 model's per-call activation scale)."""
    windows = encoder.window_feeds(encoder.token_ids(PROMPTS[-1]))
    assert len(windows) == 2
    assert all(feeds["attention_mask"].shape[0] == 1 and feeds["attention_mask"].all() for feeds in windows)
    assert windows[0]["input_ids"].shape[1] == 128 > windows[1]["input_ids"].shape[1]
    assert len(encoder.window_feeds(encoder.token_ids(PROMPTS[1]))) == 1


def test_a_long_prompt_s_vector_is_its_windows_embedded_alone(encoder: MiniLMEncoder) -> None:
    """The vector of a two-window prompt is the pooled states of each window run on its own, so it is
    a function of each window's tokens alone, whatever the other window's length."""
    ids = encoder.token_ids(PROMPTS[-1])
    whole = encoder.parts()
    states = [whole.run(None, padded_feeds([window]))[0] for window in encoder.windows(ids)]
    assert np.array_equal(encoder.encode_ids([ids])[0], MiniLMEncoder.pool(states))


@pytest.mark.parametrize("width", [1, 3, 17, 128])
def test_random_states_of_one_window_pool_to_the_masked_mean(width: int) -> None:
    rng = np.random.default_rng(width)
    for _ in range(50):
        hidden = (rng.standard_normal((1, width, 384)) * rng.uniform(0.01, 100)).astype(np.float32)
        mask = np.ones((1, width), dtype=np.int64)
        assert np.array_equal(MiniLMEncoder.pool([hidden]), masked_mean(hidden, mask))
