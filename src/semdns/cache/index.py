"""The semantic tier's index: one ANN index per (tenant scope, name), in process memory.

faiss (HNSW over the exact float32 vectors, inner product = cosine for unit vectors) finds the nearest
cached prompts in about 0.2 ms at 100k entries. HNSW cannot delete, so a removal leaves a tombstone
that searches skip, and the index is rebuilt from the live vectors when a quarter of it is dead. Each
entry keeps what the lookup needs without touching shared state: its prefix key, prompt (for the
verifier), expiry and learned threshold. The response itself stays in the shared state and is
fetched only for a hit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import faiss
import numpy as np

from semdns.cache.entry import Vector
from semdns.cache.threshold import EntryThreshold

# Measured with bench/cache.py at 100k entries: M=16/ef=48 missed a quarter of true neighbours lying
# apart from the bulk of the index; M=32, ef 64 finds nearly all in about 0.2 ms.
_HNSW_M = 32
_EF_CONSTRUCTION = 64
_EF_SEARCH = 64


@dataclass(slots=True)
class IndexedEntry:
    """What the index keeps about one entry."""

    id: str
    prefix: str
    endpoint: str
    prompt: str
    vector: Vector
    expires_at: float
    stale_until: float
    threshold: EntryThreshold = field(default_factory=EntryThreshold)


def _new_index(dim: int) -> faiss.IndexHNSWFlat:
    index = faiss.IndexHNSWFlat(dim, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = _EF_CONSTRUCTION
    index.hnsw.efSearch = _EF_SEARCH
    return index


class ScopeIndex:
    """An HNSW index over the entries of one (scope, name), bounded to ``max_entries`` (oldest first
    out)."""

    def __init__(self, dim: int, max_entries: int) -> None:
        self.dim = dim
        self.max_entries = max_entries
        self._index = _new_index(dim)
        self._slots: list[IndexedEntry | None] = []  # faiss position -> entry (None: tombstone)
        self._by_id: OrderedDict[str, int] = OrderedDict()
        self._dead = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._by_id

    def get(self, entry_id: str) -> IndexedEntry | None:
        slot = self._by_id.get(entry_id)
        return self._slots[slot] if slot is not None else None

    def add(self, entry: IndexedEntry) -> list[str]:
        """Insert (or replace) ``entry``; returns the ids evicted to stay within ``max_entries``."""
        old = self.get(entry.id)
        if old is not None:
            entry.threshold = old.threshold  # a rewrite keeps what was learned
            self.remove(entry.id)
        vector = np.ascontiguousarray(entry.vector, dtype=np.float32).reshape(1, self.dim)
        self._index.add(vector)
        self._slots.append(entry)
        self._by_id[entry.id] = len(self._slots) - 1
        evicted = []
        while len(self._by_id) > self.max_entries:
            oldest = next(iter(self._by_id))
            self.remove(oldest)
            evicted.append(oldest)
        return evicted

    def remove(self, entry_id: str) -> bool:
        slot = self._by_id.pop(entry_id, None)
        if slot is None:
            return False
        self._slots[slot] = None
        self._dead += 1
        if self._dead > max(64, len(self._slots) // 4):
            self._compact()
        return True

    def _compact(self) -> None:
        live = [e for e in self._slots if e is not None]
        self._index = _new_index(self.dim)
        self._slots = []
        self._by_id = OrderedDict()
        self._dead = 0
        if live:
            self._index.add(np.stack([e.vector for e in live]).astype(np.float32))
        for entry in live:
            self._slots.append(entry)
            self._by_id[entry.id] = len(self._slots) - 1

    def search(self, vector: Vector, k: int = 8) -> list[tuple[IndexedEntry, float]]:
        """The nearest live entries, most similar first, with their cosine similarities."""
        if not self._by_id:
            return []
        want = min(len(self._slots), k + min(self._dead, 32))
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)
        sims, slots = self._index.search(query, want)
        out: list[tuple[IndexedEntry, float]] = []
        for sim, slot in zip(sims[0], slots[0], strict=True):
            if slot < 0:
                continue
            entry = self._slots[int(slot)]
            if entry is not None:
                out.append((entry, float(sim)))
                if len(out) >= k:
                    break
        return out

    def ids(self) -> list[str]:
        return list(self._by_id)


class IndexSet:
    """Every scope's index, created on first insert."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._indexes: dict[tuple[str, str], ScopeIndex] = {}

    def get(self, scope: str, name: str) -> ScopeIndex | None:
        return self._indexes.get((scope, name))

    def ensure(self, scope: str, name: str, max_entries: int) -> ScopeIndex:
        index = self._indexes.get((scope, name))
        if index is None:
            index = self._indexes[(scope, name)] = ScopeIndex(self.dim, max_entries)
        return index

    def items(self) -> list[tuple[tuple[str, str], ScopeIndex]]:
        return list(self._indexes.items())

    def find(self, entry_id: str) -> tuple[tuple[str, str], ScopeIndex] | None:
        for key, index in self._indexes.items():
            if entry_id in index:
                return key, index
        return None

    def drop(self, scope: str | None, name: str | None) -> list[str]:
        """Remove every index matching ``scope`` and ``name`` (``None``: any); returns their ids."""
        removed: list[str] = []
        for key in list(self._indexes):
            if (scope is None or key[0] == scope) and (name is None or key[1] == name):
                removed.extend(self._indexes.pop(key).ids())
        return removed

    def clear(self) -> None:
        self._indexes.clear()

    def __len__(self) -> int:
        return sum(len(i) for i in self._indexes.values())

    def sizes(self) -> dict[str, int]:
        """Entries per name (all scopes together: the stats never show tenants' prompts)."""
        out: dict[str, int] = {}
        for (_, name), index in self._indexes.items():
            out[name] = out.get(name, 0) + len(index)
        return out
