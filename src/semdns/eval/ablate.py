"""Ablations: the same queries through variants of the router, compared pairwise with the full one.

Each variant isolates one component and holds everything else fixed (paper §8.4): the full resolver;
the resolver with one stage switched off (keyword, embedding or classifier: every node's policy lists
the other stages only); the hierarchy flattened (nearest centroid over every name); semantic-router's
rule; random and round-robin routing. A variant is built from a modified *copy* of the zone tree, so
the resolver itself has no ablation switches.

Differences are paired: every variant answered the same queries, so one bootstrap draw of query
indices serves both rates, and the interval of the difference is the one to read (two overlapping
marginal intervals can still hide a clear paired difference).

Latency is not compared here: the variants share one memoising encoder (each query is embedded once,
not once per variant), so only the first variant to see a query pays for its embedding. ``semdns eval
routing --router …`` measures each router's latency on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from semdns.eval import sr_library
from semdns.eval.bootstrap import RESAMPLES, mean_ci, paired_difference_ci
from semdns.eval.dataset import EvalItem
from semdns.eval.metrics import Scored, groups_of, rate_vectors
from semdns.eval.routers import (
    FlatCentroidRouter,
    NearestExamplesRouter,
    RandomRouter,
    ResolverRouter,
    RoundRobinRouter,
    Router,
)
from semdns.eval.runner import run
from semdns.resolve.embedding import ExampleBank
from semdns.resolve.encoder import Encoder, Vectors
from semdns.resolve.resolver import Resolver
from semdns.resolve.shallow import IdsEncoder, shallow_encoder
from semdns.resolve.static import TokenEncoder
from semdns.resolve.training import train
from semdns.zone.schema import STAGES, Stage
from semdns.zone.tree import ZoneTree

BASELINE = "full"
PAIRED_RATES = ("exact", "primary", "wrong")


def without_stage(tree: ZoneTree, stage: Stage) -> ZoneTree:
    """A copy of ``tree`` whose every node's policy omits ``stage`` (the original is untouched)."""
    return tree.with_policies(stages=lambda policy: tuple(s for s in policy.stages if s != stage))


_Inner = TypeVar("_Inner", bound=Encoder | IdsEncoder)


class _Wrapping(Generic[_Inner]):
    """An encoder wrapper: the model it stands for is the inner one's (``model_id``, ``dim``)."""

    def __init__(self, inner: _Inner) -> None:
        self._inner = inner

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dim(self) -> int:
        return self._inner.dim


class MemoEncoder(_Wrapping[Encoder]):
    """An encoder that embeds each distinct text once: every variant sees the same queries, and the
    model is the same, so re-embedding them per variant would only cost time."""

    def __init__(self, inner: Encoder) -> None:
        super().__init__(inner)
        self._memo: dict[str, Vectors] = {}

    def prime(self, text: str, vector: Vectors) -> None:
        """Remember ``text``'s vector (embedded earlier, in a batch) so that no router embeds it again."""
        self._memo[text] = vector.reshape(1, -1)

    def encode(self, texts: Sequence[str]) -> Vectors:
        if len(texts) != 1:  # zone examples: batched, and cached on disk by the resolver already
            return self._inner.encode(texts)
        text = texts[0]
        if text not in self._memo:
            self._memo[text] = self._inner.encode([text])
        return self._memo[text]


class MemoIdsEncoder(_Wrapping[IdsEncoder]):
    """A shallow encoder (:mod:`semdns.resolve.shallow`) that embeds each distinct token sequence once,
    for the same reason as :class:`MemoEncoder`."""

    def __init__(self, inner: IdsEncoder) -> None:
        super().__init__(inner)
        self._by_ids: dict[tuple[int, ...], Vectors] = {}

    def encode(self, texts: Sequence[str]) -> Vectors:
        return self._inner.encode(texts)

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors:
        return _remembered(self._by_ids, self._inner.encode_ids, token_ids, self.dim)


class MemoTokenEncoder(MemoEncoder):
    """A :class:`MemoEncoder` that also tokenises (a :class:`~semdns.resolve.static.TokenEncoder`),
    so that resolvers built on it get their lexical stage; embeddings are remembered by token ids."""

    def __init__(self, inner: TokenEncoder) -> None:
        super().__init__(inner)
        self._tokens = inner
        self._by_ids: dict[tuple[int, ...], Vectors] = {}
        self._shallow: dict[int, MemoIdsEncoder] = {}

    def prime(self, text: str, vector: Vectors) -> None:
        super().prime(text, vector)
        self._by_ids[tuple(self._tokens.token_ids_batch([text])[0])] = vector.reshape(1, -1)

    def token_ids(self, text: str) -> list[int]:
        return self._tokens.token_ids(text)

    def shallow_encoder(self, layers: int) -> IdsEncoder | None:
        """The inner encoder's shallow encoder, memoised like this one (one per depth); None when the
        inner encoder has none."""
        if layers not in self._shallow:
            inner = shallow_encoder(self._tokens, layers)
            if inner is None:
                return None
            self._shallow[layers] = MemoIdsEncoder(inner)
        return self._shallow[layers]

    def token_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self._tokens.token_ids_batch(texts)

    def token_table(self, *, use_disk: bool = True) -> npt.NDArray[np.float16]:
        return self._tokens.token_table(use_disk=use_disk)

    def encode_ids(self, token_ids: Sequence[list[int]]) -> Vectors:
        return _remembered(self._by_ids, self._tokens.encode_ids, token_ids, self.dim)


def _remembered(
    memo: dict[tuple[int, ...], Vectors],
    encode_ids: Callable[[Sequence[list[int]]], Vectors],
    token_ids: Sequence[list[int]],
    dim: int,
) -> Vectors:
    """The vectors of ``token_ids``, embedding (in one call) only the sequences not in ``memo``."""
    keys = [tuple(ids) for ids in token_ids]
    missing = [list(k) for k in dict.fromkeys(keys) if k not in memo]
    if missing:
        for key, vector in zip(missing, encode_ids(missing), strict=True):
            memo[tuple(key)] = vector.reshape(1, -1)
    if not keys:
        return np.zeros((0, dim), dtype=np.float32)
    return np.vstack([memo[k] for k in keys]).astype(np.float32)


@dataclass
class Variant:
    """A named router; ``close`` releases what it holds (a resolver's threads)."""

    name: str
    router: Router
    close: Callable[[], None] = field(default=lambda: None)


def default_variants(
    tree: ZoneTree, encoder: Encoder, *, seed: int = 0
) -> tuple[list[Variant], dict[str, str]]:
    """The standard ablation set, and the variants skipped with the reason (an optional library)."""
    memo = MemoEncoder(encoder)
    out: list[Variant] = []
    for label, variant_tree in [(BASELINE, tree)] + [(f"no-{s}", without_stage(tree, s)) for s in STAGES]:
        resolver = Resolver(variant_tree, memo, cache_size=0)
        out.append(Variant(label, ResolverRouter(resolver), resolver.close))
    # The classifier trained on the zone examples alone: what the resolver knows without corpora.
    examples_only = Resolver(tree, memo, cache_size=0, classifier=train(tree, memo))
    out.append(Variant("examples-only", ResolverRouter(examples_only), examples_only.close))
    bank = ExampleBank(tree, memo)
    out.append(Variant("flat", FlatCentroidRouter(tree, memo, bank=bank)))
    out.append(Variant("semantic-router", NearestExamplesRouter(tree, memo, bank=bank)))
    skipped: dict[str, str] = {}
    try:
        out.append(Variant("semantic-router-lib", sr_library.LibrarySemanticRouter(tree, memo)))
    except sr_library.LibraryUnavailable as exc:
        skipped["semantic-router-lib"] = str(exc)
    out.append(Variant("random", RandomRouter(tree, seed=seed)))
    out.append(Variant("round-robin", RoundRobinRouter(tree)))
    return out, skipped


@dataclass(frozen=True)
class Ablation:
    """Each variant's rates and the paired differences (variant − full) with their intervals."""

    n: int
    baseline: str
    scored: dict[str, list[Scored]]
    rates: dict[str, dict[str, float]]
    ci95: dict[str, dict[str, list[float]]]
    paired: dict[str, dict[str, dict[str, Any]]]
    skipped: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "baseline": self.baseline,
            "variants": {
                name: {
                    **{k: round(v, 4) for k, v in rates.items()},
                    "ci95": self.ci95[name],
                }
                for name, rates in self.rates.items()
            },
            "paired": self.paired,
            "skipped": self.skipped,
        }


def ablate(
    variants: Sequence[Variant],
    items: Sequence[EvalItem],
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
    skipped: dict[str, str] | None = None,
    advance: Callable[[], None] | None = None,
) -> Ablation:
    """Run every variant over ``items``; the first variant is the baseline of the paired differences."""
    scored = {v.name: run(v.router, items, advance=advance) for v in variants}
    vectors = {name: rate_vectors(s) for name, s in scored.items()}
    groups = groups_of(scored[variants[0].name]) if variants else None
    rates = {name: {k: float(v.mean()) for k, v in vec.items()} for name, vec in vectors.items()}
    ci95 = {
        name: {
            k: [round(x, 4) for x in mean_ci(v, groups=groups, seed=seed, resamples=resamples)]
            for k, v in vec.items()
        }
        for name, vec in vectors.items()
    }
    base = variants[0].name
    paired: dict[str, dict[str, dict[str, Any]]] = {}
    for name, vec in vectors.items():
        if name == base:
            continue
        paired[name] = {}
        for rate in PAIRED_RATES:
            diff, lo, hi = paired_difference_ci(
                vec[rate], vectors[base][rate], groups=groups, seed=seed, resamples=resamples
            )
            paired[name][rate] = {"diff": round(diff, 4), "ci95": [round(lo, 4), round(hi, 4)]}
    return Ablation(len(items), base, scored, rates, ci95, paired, dict(skipped or {}))
