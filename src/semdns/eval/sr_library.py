"""aurelio's ``semantic-router`` library itself as a router, when the optional extra is installed.

The in-process :class:`semdns.eval.routers.NearestExamplesRouter` reproduces its decision rule; running
the library too shows the re-implementation is faithful. It gets semdns's own encoder through a small
``DenseEncoder`` subclass, one ``Route`` per name with the zone examples as utterances, and the
library's defaults (``top_k=5``, mean aggregation, no threshold). A query it leaves unrouted is
answered with the apex (the general model serves it). The library is imported lazily and by name: it
is an optional extra (``pip install -e '.[baselines]'``), never a dependency of semdns.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from semdns.eval.routers import RoutedQuery
from semdns.names import Name
from semdns.resolve.encoder import Encoder
from semdns.zone.tree import ZoneTree

INSTALL_HINT = "install the optional extra: pip install -e '.[baselines]' (or: pip install semantic-router)"


class LibraryUnavailable(RuntimeError):
    """semantic-router is not importable; the message says how to install it."""


def available() -> bool:
    """True when the ``semantic_router`` package can be imported."""
    try:
        _modules()
    except LibraryUnavailable:
        return False
    return True


def _modules() -> tuple[Any, Any, Any]:
    try:
        sr = importlib.import_module("semantic_router")
        encoders = importlib.import_module("semantic_router.encoders")
        routers = importlib.import_module("semantic_router.routers")
    except ImportError as exc:
        raise LibraryUnavailable(f"semantic-router is not installed ({exc}); {INSTALL_HINT}") from None
    return sr.Route, encoders.DenseEncoder, routers.IndexedRouter


class LibrarySemanticRouter:
    """An ``IndexedRouter`` with one route per name that has examples."""

    def __init__(self, tree: ZoneTree, encoder: Encoder) -> None:
        route_cls, dense_cls, router_cls = _modules()

        class _Encoder(dense_cls):  # type: ignore[misc, valid-type]
            name: str = encoder.model_id
            type: str = "semdns"

            def __call__(self, docs: list[Any]) -> list[list[float]]:
                vectors: list[list[float]] = encoder.encode([str(d) for d in docs]).tolist()
                return vectors

        routes = [route_cls(name=str(n.name), utterances=list(n.examples)) for n in tree if n.examples]
        self._router = router_cls(encoder=_Encoder(), routes=routes, index=None)
        self._apex = tree.apex

    def route(self, query: str) -> RoutedQuery:
        started = time.perf_counter()
        choice = self._router(query)
        name = Name.parse(choice.name) if getattr(choice, "name", None) else self._apex
        score = getattr(choice, "similarity_score", None) or getattr(choice, "confidence", None) or 0.0
        elapsed = (time.perf_counter() - started) * 1e6
        return RoutedQuery((name,), min(1.0, max(0.0, float(score))), "embedding", elapsed)
