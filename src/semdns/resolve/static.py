"""Static embeddings: a sentence vector from a lookup table, no transformer run.

The lexical stage (the resolver's cheap first pass) needs a semantic view of the prompt that costs
microseconds, not the 4-40 ms of a MiniLM forward pass. Following model2vec, each vocabulary entry of
the packaged MiniLM gets one vector (the model's output for that token alone:
:meth:`semdns.resolve.encoder.MiniLMEncoder.token_table`), and a prompt's vector is the IDF-weighted
sum of its tokens' rows, normalised. Word order and context are lost, which is why the stage only
decides when its calibrated classifier is sure and hands the rest to the transformer.

The token IDF is learned from the classifier's training texts (frequent sub-words such as "the" or
"##s" then weigh little) and ships inside the classifier artefact, so that a prompt's static vector is
the same at training and at resolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from semdns.resolve.encoder import Vectors

Floats = npt.NDArray[np.float32]


@runtime_checkable
class TokenEncoder(Protocol):
    """An encoder that can tokenise once and embed the ids later, and distil a token table.

    :class:`~semdns.resolve.encoder.MiniLMEncoder` is one; an encoder without these methods (a test
    double) simply gives the resolver no lexical stage."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...

    def token_ids(self, text: str) -> list[int]: ...

    def token_ids_batch(self, texts: Sequence[str]) -> list[list[int]]: ...

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors: ...

    def token_table(self, *, use_disk: bool = True) -> npt.NDArray[np.float16]: ...


def token_idf(token_ids: Sequence[Sequence[int]], vocabulary_size: int) -> Floats:
    """Smoothed inverse document frequency of every token id over ``token_ids`` (one list a text),
    ``log((n + 1) / (df + 1)) + 1`` as scikit-learn smooths it; [CLS]/[SEP] count like any token and
    end up weighing almost nothing."""
    df = np.zeros(vocabulary_size, dtype=np.float64)
    for ids in token_ids:
        if ids:
            df[np.unique(np.asarray(ids, dtype=np.intp))] += 1.0
    n = len(token_ids)
    return (np.log((n + 1.0) / (df + 1.0)) + 1.0).astype(np.float32)


class StaticEmbedding:
    """Sentence vectors from a token table and token weights: ``normalise(sum idf[t] * table[t])``."""

    def __init__(self, table: npt.NDArray[np.float16], idf: Floats) -> None:
        if table.shape[0] != idf.shape[0]:
            raise ValueError(f"token table has {table.shape[0]} rows but the IDF has {idf.shape[0]} entries")
        # Each row pre-multiplied by its weight, in float32 (47 MB for MiniLM's vocabulary): a prompt's
        # vector is then one gather and one sum, with no per-request conversion from float16.
        self._weighted = table.astype(np.float32) * idf.astype(np.float32)[:, None]
        self.dim = int(table.shape[1])

    def vector(self, ids: Sequence[int]) -> Floats:
        """The static vector of one tokenised prompt (its [CLS]/[SEP] included or not: they weigh
        almost nothing). An empty prompt gives the zero vector."""
        if not ids:
            return np.zeros(self.dim, dtype=np.float32)
        summed: Floats = self._weighted[np.asarray(ids, dtype=np.intp)].sum(axis=0)
        norm = math.sqrt(float(summed @ summed))
        return summed / np.float32(norm) if norm > 0 else summed

    def vectors(self, token_ids: Sequence[Sequence[int]]) -> Floats:
        if not token_ids:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self.vector(ids) for ids in token_ids]).astype(np.float32)
