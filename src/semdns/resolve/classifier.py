"""Which trained classifier a resolver uses: the artefact made for its namespace, or a fresh one.

Lookup order, first match wins:

1. an explicit artefact (``semdns serve --classifier FILE``; ``Resolver(classifier_path=...)``),
   refused when it was trained for another namespace;
2. the artefacts shipped with the package (``semdns/data/classifier/*.npz``, built by ``semdns train``
   for the default namespace on its zones *and* the public corpora in ``corpora/routing/``);
3. one trained earlier for this namespace and cached on disk (``~/.cache/semdns/classifiers``);
4. a new one trained on the zone examples alone (a second or two), then cached.

A namespace is identified by :func:`semdns.resolve.trained.namespace_digest` (its names and example
queries), so editing a zone's examples or adding a name never reuses weights trained for the old one.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
from pathlib import Path

from semdns.errors import SemdnsError
from semdns.resolve.encoder import Encoder, cache_dir
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


def _try_load(path: Path) -> TrainedClassifier | None:
    try:
        return TrainedClassifier.load(path)
    except (OSError, ValueError, KeyError) as exc:
        _log.warning("ignoring classifier artefact %s: %s", path, exc)
        return None


def classifier_for(
    tree: ZoneTree, encoder: Encoder, *, path: Path | None = None, use_disk_cache: bool = True
) -> TrainedClassifier:
    """The classifier for ``tree`` (see the module docstring for the order)."""
    digest = namespace_digest(tree)
    if path is not None:
        explicit = _try_load(path)
        if explicit is None:
            raise ClassifierMismatch(f"{path}: not a semdns classifier artefact (run semdns train)")
        if not _matches(explicit, digest, encoder):
            raise ClassifierMismatch(
                f"{path}: trained for another namespace or encoder than the zones loaded; "
                "rebuild it with: semdns train --zone ... --output " + str(path)
            )
        return explicit
    for candidate in shipped_artefacts():
        found = _try_load(candidate)
        if found is not None and _matches(found, digest, encoder):
            return found
    cached = cache_dir() / "classifiers" / f"{digest}.npz"
    if use_disk_cache and cached.exists():
        found = _try_load(cached)
        if found is not None and _matches(found, digest, encoder):
            return found
    from semdns.resolve.training import train

    fresh = train(tree, encoder, use_disk_cache=use_disk_cache)
    if use_disk_cache:
        try:
            tmp = cached.with_name(f"{cached.stem}.{os.getpid()}.tmp.npz")
            fresh.save(tmp)
            os.replace(tmp, cached)
        except OSError:
            pass  # a read-only home only loses the speed-up
    return fresh
