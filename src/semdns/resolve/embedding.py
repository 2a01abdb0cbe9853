"""Stage 2, embeddings: cosine similarity of the query to each child's centroid.

Every example query of the namespace is embedded once at load (and cached on disk, see
:func:`semdns.resolve.encoder.encode_cached`). A child's centroid is the normalised mean of the examples
of its whole subtree, so ``legal.`` is represented by general legal questions *and* by contract,
litigation and IP questions. The parent's own examples form a "stay here" centroid: a query closest to
it is a general question of the parent's domain, and stopping at the parent is the right answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semdns.names import Name
from semdns.resolve.encoder import Encoder, Vectors, encode_cached
from semdns.zone.tree import ZoneTree


class ExampleBank:
    """All example queries of a tree, embedded, with the rows of each node's own examples."""

    def __init__(self, tree: ZoneTree, encoder: Encoder, *, use_disk_cache: bool = True) -> None:
        texts: list[str] = []
        self._rows: dict[Name, range] = {}
        for node in tree:
            start = len(texts)
            texts.extend(node.examples)
            self._rows[node.name] = range(start, len(texts))
        self.vectors: Vectors = (
            encode_cached(encoder, texts, use_disk=use_disk_cache)
            if texts
            else np.zeros((0, encoder.dim), dtype=np.float32)
        )
        self._tree = tree

    def own(self, name: Name) -> Vectors:
        """Embeddings of ``name``'s own examples."""
        rows = self._rows.get(name, range(0))
        return self.vectors[rows.start : rows.stop]

    def subtree(self, name: Name) -> Vectors:
        """Embeddings of the examples of ``name`` and everything below it."""
        parts = [self.own(node.name) for node in self._tree.subtree(name)]
        parts = [p for p in parts if len(p)]
        if not parts:
            return np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
        return np.vstack(parts)


@dataclass(frozen=True)
class CentroidSet:
    """The candidates of one parent: its children (and itself, when it has examples) with centroids."""

    candidates: tuple[Name, ...]
    matrix: Vectors  # (len(candidates), dim), rows of unit length

    def score(self, query_vector: Vectors) -> list[float]:
        sims = self.matrix @ query_vector
        return [float(s) for s in sims]


def build_centroids(tree: ZoneTree, bank: ExampleBank) -> dict[Name, CentroidSet]:
    """One :class:`CentroidSet` per node that has children with examples."""
    result: dict[Name, CentroidSet] = {}
    for node in tree:
        candidates: list[Name] = []
        rows: list[Vectors] = []
        for child in tree.children(node.name):
            examples = bank.subtree(child)
            if len(examples):
                candidates.append(child)
                rows.append(_unit(examples.mean(axis=0)))
        if not candidates:
            continue
        own = bank.own(node.name)
        if len(own):
            candidates.append(node.name)
            rows.append(_unit(own.mean(axis=0)))
        result[node.name] = CentroidSet(tuple(candidates), np.vstack(rows).astype(np.float32))
    return result


def _unit(vector: Vectors) -> Vectors:
    norm = float(np.linalg.norm(vector))
    out: Vectors = (vector / norm if norm > 0 else vector).astype(np.float32)
    return out
