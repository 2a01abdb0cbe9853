"""The static embedding behind the lexical stage: token weights, sentence vectors, the token table."""

from __future__ import annotations

import numpy as np
import pytest

from semdns.resolve.encoder import MiniLMEncoder
from semdns.resolve.static import StaticEmbedding, TokenEncoder, token_idf


def test_token_idf_weighs_rare_tokens_above_common_ones() -> None:
    idf = token_idf([[1, 2], [1, 3], [1, 3, 3]], vocabulary_size=5)
    assert idf.shape == (5,)
    # token 1 is in every text, token 2 in one, token 4 in none (smoothed, finite)
    assert idf[1] < idf[3] < idf[2] < idf[4]
    assert np.isfinite(idf).all()


def test_a_static_vector_is_the_normalised_weighted_sum_of_its_token_rows() -> None:
    table = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float16)
    idf = np.array([1.0, 3.0, 0.5], dtype=np.float32)
    static = StaticEmbedding(table, idf)
    vector = static.vector([0, 1])
    expected = np.array([1.0, 3.0]) / np.sqrt(10.0)
    assert np.allclose(vector, expected, atol=1e-3)
    assert static.vector([]).tolist() == [0.0, 0.0]
    assert static.vectors([[0], [1]]).shape == (2, 2)
    assert static.vectors([]).shape == (0, 2)


def test_a_table_and_weights_of_different_vocabularies_are_refused() -> None:
    with pytest.raises(ValueError, match="3 rows"):
        StaticEmbedding(np.zeros((3, 2), dtype=np.float16), np.ones(4, dtype=np.float32))


def test_the_token_table_is_minilms_output_per_token_and_cached(encoder: MiniLMEncoder) -> None:
    assert isinstance(encoder, TokenEncoder)
    table = encoder.token_table()
    assert table.shape == (30522, encoder.dim)
    assert encoder.token_table() is table  # one table per encoder, however many resolvers share it
    from_disk = MiniLMEncoder().token_table()  # a new encoder reads the disk cache: identical
    assert np.array_equal(table, from_disk)
    ids = encoder.token_ids("contract")
    row = table[ids[1]].astype(np.float32)
    # the row is the model's output at the token, so it is close to the sentence vector of the word
    sentence = encoder.encode(["contract"])[0]
    assert float(row @ sentence / np.linalg.norm(row)) > 0.7


def test_static_vectors_put_related_prompts_closer_than_unrelated_ones(encoder: MiniLMEncoder) -> None:
    texts = ["def add(a, b): return a + b", "write a python function to sum two numbers", "sonnet about rain"]
    ids = encoder.token_ids_batch(texts)
    static = StaticEmbedding(encoder.token_table(), token_idf(ids, 30522))
    code, python, poem = static.vectors(ids)
    assert float(code @ python) > float(code @ poem)


def test_encode_ids_equals_encode_and_sorting_windows_changes_nothing(encoder: MiniLMEncoder) -> None:
    texts = ["short", "a longer prompt about the law of contracts " * 30, "medium length question here"]
    by_text = encoder.encode(texts)
    by_ids = encoder.encode_ids(encoder.token_ids_batch(texts))
    assert np.allclose(by_text, by_ids, atol=1e-6)
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    assert np.allclose(by_text, one_by_one, atol=1e-5)
    assert encoder.encode_ids([]).shape == (0, encoder.dim)


def test_a_texts_vector_does_not_depend_on_what_it_is_embedded_with(encoder: MiniLMEncoder) -> None:
    # The int8 model quantises activations per call: texts of similar lengths batched together would
    # share a scale. One call per text keeps every vector a function of its own text.
    texts = [
        "How do I reverse a linked list in Python?",
        "What is the statute of limitations for a breach of contract?",
        "A 45-year-old man presents with crushing chest pain and sweating.",
        "Integrate x squared times sin x by parts, step by step please.",
        "Write a short poem about the sea at night and the lighthouse.",
    ]
    together = encoder.encode_ids(encoder.token_ids_batch(texts))
    for text, vector in zip(texts, together, strict=True):
        assert np.array_equal(encoder.encode([text])[0], vector)
    reordered = encoder.encode_ids(encoder.token_ids_batch(texts[::-1]))[::-1]
    assert np.array_equal(reordered, together)
