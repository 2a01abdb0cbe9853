"""The ``static`` compression view: cosines computed by hand, words tokenised once, and on MiniLM."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from semdns.compress import static_view
from semdns.compress.lossy import QueryAwareCompressor
from semdns.compress.static_view import StaticSimilarity
from semdns.resolve.encoder import MiniLMEncoder, Vectors

CLS, SEP = 1, 2


class PieceEncoder:
    """A token encoder small enough to check by hand: a word is cut into pieces of three letters,
    each piece's row is a one-hot vector of its own dimension. (A double for the MiniLM tokenizer
    and table; the last test runs the real ones.)"""

    model_id = "pieces"
    dim = 16

    def __init__(self) -> None:
        self.pieces: dict[str, int] = {}
        self.tokenised: list[str] = []

    def _id(self, piece: str) -> int:
        return self.pieces.setdefault(piece, 3 + len(self.pieces))

    def token_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        self.tokenised.extend(texts)
        return [[CLS, *(self._id(t[i : i + 3]) for i in range(0, len(t), 3)), SEP] for t in texts]

    def token_table(self, *, use_disk: bool = True) -> npt.NDArray[np.float16]:
        return np.eye(self.dim, dtype=np.float16)

    def encode(self, texts: Sequence[str]) -> Vectors:
        raise AssertionError("the static view must not run the model")

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors:
        raise AssertionError("the static view must not run the model")


def test_cosines_follow_the_idf_weighted_word_vectors() -> None:
    view = StaticSimilarity(PieceEncoder(), stop_words=frozenset({"the"}))
    # Words: "cat" -> piece 3, "dog" -> 4, "bird" -> "bir" 5 + "d" 6 (its vector: (e5 + e6) / 2).
    sims = view.similarities("the cat", ["the cat cat dog", "dog", "bird dog", "the"])
    n = 4
    idf_cat, idf_dog = math.log((n + 1) / 1.5), math.log((n + 1) / 3.5)  # df: cat 1, dog 3
    idf_bird = math.log((n + 1) / 1.5)
    first = np.array([2 * idf_cat, idf_dog, 0, 0])  # over (e3, e4, e5, e6)
    assert sims[0] == pytest.approx(first[0] / np.linalg.norm(first), rel=1e-5)
    assert sims[1] == pytest.approx(0.0)
    bird_dog = np.array([0, idf_dog, idf_bird / 2, idf_bird / 2])
    assert np.linalg.norm(bird_dog) > 0 and sims[2] == pytest.approx(0.0)
    assert sims[3] == 0.0  # only a stop word: the zero vector
    assert view.similarities("the", ["cat"]).tolist() == [0.0]
    assert view.similarities("cat", []).shape == (0,)


def test_question_weights_scale_each_word_and_must_match_it() -> None:
    view = StaticSimilarity(PieceEncoder())
    texts = [["cat"], ["dog"], ["cat", "dog"]]
    even = view.similarities_of_words(["cat", "dog"], texts)
    assert even[0] == pytest.approx(even[1])
    leaning = view.similarities_of_words(["cat", "dog"], texts, [1.0, 0.25])
    assert leaning[0] > leaning[1] > 0
    only_cat = view.similarities_of_words(["cat", "dog"], texts, [1.0, 0.0])
    assert only_cat[0] == pytest.approx(1.0) and only_cat[1] == pytest.approx(0.0)
    assert view.similarities_of_words(["cat", "dog"], texts, [1.0, 1.0]).tolist() == pytest.approx(
        even.tolist()
    )
    with pytest.raises(ValueError, match="1 weights for 2 question words"):
        view.similarities_of_words(["cat", "dog"], texts, [1.0])


def test_each_word_is_tokenised_once_and_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = PieceEncoder()
    view = StaticSimilarity(encoder)
    view.similarities("cat", ["cat dog", "dog bird"])
    assert sorted(encoder.tokenised) == ["bird", "cat", "dog"]
    view.similarities("dog", ["cat dog bird", "bird"])
    assert len(encoder.tokenised) == 3 and view.remembered_words == 3
    monkeypatch.setattr(static_view, "_MAX_WORDS", 4)
    view.similarities("fish", ["eel", "cat"])  # 3 known + 2 new > 4: forget, keep answering right
    assert view.remembered_words == 2 and view.similarities("eel", ["eel"]).tolist() == [pytest.approx(1.0)]


def test_static_without_a_token_encoder_says_it_ran_lexical() -> None:
    _, result = QueryAwareCompressor().compress(["A sentence. Another one."], "one?", 3, method="static")
    assert result.method == "lexical"


FILLER = [
    f"The committee met on a Tuesday in room {i} and discussed the catering arrangements at length."
    for i in range(30)
]


def test_static_on_minilm_finds_the_paraphrased_answer_that_lexical_misses(encoder: MiniLMEncoder) -> None:
    answer = "The physician prescribed antibiotics for the infection in her lungs."
    document = " ".join([*FILLER[:15], answer, *FILLER[15:]])
    question = "What treatment did the doctor give for her pneumonia?"
    compressor = QueryAwareCompressor(encoder)
    out, result = compressor.compress([document], question, 40, method="static")
    assert result.method == "static" and answer in out[0]
    out, result = compressor.compress([document], question, 40, method="lexical")
    assert result.method == "lexical" and answer not in out[0]
