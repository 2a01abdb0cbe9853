"""Per-zone boilerplate, mined from the contexts a zone sees: sentences that recur across documents.

Standard clauses, disclaimers, citation footers and signatures repeat verbatim (or nearly) across the
documents pasted into one domain's prompts; the question never needs them. A sentence is cut into
word 4-gram shingles; the miner counts, per shingle, in how many *distinct* documents it appeared.
A sentence whose shingles are mostly frequent (``min_documents`` or more) is boilerplate. A document
seen twice (the same paste resent in a conversation) counts once, so a user's own document never
becomes boilerplate by repetition. Memory is bounded: past ``max_shingles`` the rarest half is
forgotten.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable

from semdns.compress.text import split_units

_WORD_RE = re.compile(r"\w+")
SHINGLE = 4


def _shingles(sentence: str) -> set[int]:
    words = _WORD_RE.findall(sentence.lower())
    if len(words) < SHINGLE:
        return set()
    return {hash(" ".join(words[i : i + SHINGLE])) for i in range(len(words) - SHINGLE + 1)}


class BoilerplateMiner:
    """Counts shingles over distinct documents and says which sentences are boilerplate."""

    def __init__(
        self,
        *,
        min_documents: int = 3,
        coverage: float = 0.8,
        min_shingles: int = 3,
        max_shingles: int = 200_000,
        max_documents: int = 10_000,
    ) -> None:
        self.min_documents = min_documents
        self.coverage = coverage
        self.min_shingles = min_shingles
        self.max_shingles = max_shingles
        self._counts: dict[int, int] = {}
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._max_documents = max_documents
        self._lock = threading.Lock()
        self.documents = 0

    def observe(self, document: str) -> bool:
        """Count ``document``'s shingles once; False when this exact document was seen already."""
        digest = hashlib.blake2b(document.encode("utf-8"), digest_size=16).digest()
        shingles: set[int] = set()
        for unit in split_units(document):
            if unit.kind == "sentence":
                shingles |= _shingles(unit.text)
        with self._lock:
            if digest in self._seen:
                self._seen.move_to_end(digest)
                return False
            self._seen[digest] = None
            if len(self._seen) > self._max_documents:
                self._seen.popitem(last=False)
            self.documents += 1
            for shingle in shingles:
                self._counts[shingle] = self._counts.get(shingle, 0) + 1
            if len(self._counts) > self.max_shingles:
                self._forget()
        return True

    def observe_all(self, documents: Iterable[str]) -> None:
        for document in documents:
            self.observe(document)

    def is_boilerplate(self, sentence: str) -> bool:
        """Whether most of ``sentence``'s shingles recur in at least ``min_documents`` documents."""
        shingles = _shingles(sentence)
        if len(shingles) < self.min_shingles:
            return False
        counts = self._counts
        frequent = sum(1 for s in shingles if counts.get(s, 0) >= self.min_documents)
        return frequent >= self.coverage * len(shingles)

    def _forget(self) -> None:
        """Keep the more frequent half of the shingles (called with the lock held)."""
        ordered = sorted(self._counts.values())
        cut = ordered[len(ordered) // 2]
        self._counts = {s: c for s, c in self._counts.items() if c > cut}

    @property
    def size(self) -> int:
        return len(self._counts)
