"""Carrying a classifier artefact over to an encoder whose vectors changed only slightly.

An artefact is keyed by the ``model_id`` of the encoder it was trained on: vectors of another encoder
are other inputs, so a resolver ignores an artefact made for another one (and ``semdns train --check``
calls it stale). Retraining is the default after a change of encoder. But when the new vectors are the
old ones for most texts and within the model's own noise for the rest, retraining moves decisions that
the encoder change did not touch (the weights move with every training text), while keeping the
weights moves only the texts whose vectors changed. Rule 24b (docs/routing.md) measured exactly this:
after one model call per window replaced one padded call per text, a retrained artefact lost 5 of
604 one-line prompts whose vectors were bit for bit unchanged, and the kept weights moved nothing but
3 of 1,800 long real prompts.

So an artefact may be *re-stamped* for the new encoder, like the response cache's judge
(corpora/pairs/README.md): its ``encoder`` (and ``shallow_encoder``) become the new encoder's ids, and
``trained_on_encoder`` keeps the id whose vectors its weights were fit on, with a note saying which
check allowed it. Nothing here checks the weights: that is what the note must point to.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from semdns.resolve.encoder import Encoder
from semdns.resolve.shallow import shallow_encoder
from semdns.resolve.trained import TrainedClassifier


class RestampRefused(ValueError):
    """The artefact cannot be re-stamped as asked (already for this encoder, or no note given)."""


def restamp(artefact: Path, encoder: Encoder, note: str, output: Path | None = None) -> TrainedClassifier:
    """Re-stamp ``artefact`` for ``encoder`` (written to ``output``, by default over itself), recording
    the encoder its weights were trained on and ``note`` (the check that allowed it). The weights,
    vocabulary and temperatures are written back unchanged."""
    if not note.strip():
        raise RestampRefused("say which check allowed it: the note is empty")
    classifier = TrainedClassifier.load(artefact)
    previous = classifier.meta.get("encoder")
    if previous == encoder.model_id:
        raise RestampRefused(f"it is already for {encoder.model_id}")
    meta: dict[str, Any] = {
        **classifier.meta,
        "encoder": encoder.model_id,
        "trained_on_encoder": classifier.meta.get("trained_on_encoder", previous),
        "restamped": {"from_encoder": previous, "note": note.strip()},
    }
    if classifier.shallow_layers and classifier.meta.get("shallow_encoder"):
        shallow = shallow_encoder(encoder, classifier.shallow_layers)
        if shallow is None:
            raise RestampRefused(f"{encoder.model_id} cannot run the artefact's shallow pass")
        meta["shallow_encoder"] = shallow.model_id
    stamped = replace(classifier, meta=meta)
    stamped.save(output or artefact)
    return stamped
