"""Which trained classifier a resolver uses: the artefact made for its namespace, or a fresh one.

Lookup order, first match wins:

1. an explicit artefact (``semdns serve --classifier FILE``; ``Resolver(classifier_path=...)``),
   refused when it was trained for another namespace;
2. the artefacts shipped with the package (``semdns/data/classifier/*.npz``, built by ``semdns train``
   for the default namespace on its zones *and* the public corpora in ``corpora/routing/``);
3. one trained earlier for this namespace and cached on disk (``~/.cache/semdns/classifiers``);
4. a new one trained on the zone examples alone (a second or two), then cached.

An artefact *fits* a tree when every parent of the tree has a model over exactly its children (the
artefact's per-parent models are independent). That is what lets the resolvers of a delegated namespace
(the root holding only glue for ``legal.``, the ``legal.`` resolver holding its subtree) use the same
weights as one resolver holding every zone, and decide exactly as it would. An artefact made for this
very namespace (:func:`semdns.resolve.trained.namespace_digest`: its names and examples) is preferred;
one that only fits (examples edited since it was trained) is used with a warning to run ``semdns
train``; adding or removing a name makes it unfit, and a classifier is trained on the zone examples.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
from pathlib import Path

from semdns.errors import SemdnsError
from semdns.resolve.encoder import Encoder, Vectors, cache_dir
from semdns.resolve.trained import TrainedClassifier, namespace_digest
from semdns.zone.tree import ZoneTree

_log = logging.getLogger(__name__)


class ClassifierMismatch(SemdnsError):
    """An explicit classifier artefact that was trained for another namespace or encoder."""

    http_status = 500
    code = "classifier_mismatch"


def shipped_artefacts() -> list[Path]:
    """The classifier artefacts inside the installed package."""
    folder = importlib.resources.files("semdns") / "data" / "classifier"
    if not folder.is_dir():
        return []
    return sorted(Path(str(entry)) for entry in folder.iterdir() if entry.name.endswith(".npz"))


def _matches(classifier: TrainedClassifier, digest: str, encoder: Encoder) -> bool:
    return classifier.meta.get("namespace") == digest and classifier.meta.get("encoder") == encoder.model_id


def fits(classifier: TrainedClassifier, tree: ZoneTree, encoder: Encoder) -> bool:
    """Every parent of ``tree`` has a model over exactly its children, from the same encoder."""
    if classifier.meta.get("encoder") != encoder.model_id:
        return False
    for node in tree:
        children = set(tree.children(node.name))
        if not children:
            continue
        candidates = set(classifier.candidates(node.name)) - {node.name}
        if candidates != children:
            return False
    return True


def _try_load(path: Path) -> TrainedClassifier | None:
    try:
        return TrainedClassifier.load(path)
    except (OSError, ValueError, KeyError) as exc:
        _log.warning("ignoring classifier artefact %s: %s", path, exc)
        return None


def classifier_for(
    tree: ZoneTree,
    encoder: Encoder,
    *,
    path: Path | None = None,
    use_disk_cache: bool = True,
    example_vectors: Vectors | None = None,
) -> TrainedClassifier:
    """The classifier for ``tree`` (see the module docstring for the order); ``example_vectors`` (the
    zone examples' embeddings, in tree order) spare a fresh training from embedding them again."""
    digest = namespace_digest(tree)
    if path is not None:
        explicit = _try_load(path)
        if explicit is None:
            raise ClassifierMismatch(f"{path}: not a semdns classifier artefact (run semdns train)")
        if not fits(explicit, tree, encoder):
            raise ClassifierMismatch(
                f"{path}: trained for another namespace or encoder than the zones loaded; "
                "rebuild it with: semdns train --zone ... --output " + str(path)
            )
        if not _matches(explicit, digest, encoder):
            _log.warning("%s was trained before these zones' examples changed: rerun semdns train", path)
        return explicit
    shipped = [found for candidate in shipped_artefacts() if (found := _try_load(candidate)) is not None]
    for found in shipped:
        if _matches(found, digest, encoder):
            return found
    for found in shipped:
        if fits(found, tree, encoder):
            _log.info("using the shipped classifier trained for the same names (examples differ)")
            return found
    cached = cache_dir() / "classifiers" / f"{digest}.npz"
    if use_disk_cache and cached.exists():
        found = _try_load(cached)
        if found is not None and _matches(found, digest, encoder):
            return found
    from semdns.resolve.training import train

    fresh = train(tree, encoder, use_disk_cache=use_disk_cache, example_vectors=example_vectors)
    if use_disk_cache:
        # Whole or not at all, no temporary file left (TrainedClassifier.save); a read-only home only
        # loses the speed-up.
        with contextlib.suppress(OSError):
            fresh.save(cached)
    return fresh
