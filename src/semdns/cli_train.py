"""``semdns train``: build the classifier artefact of a namespace from its zones and labelled corpora.

The shipped default is rebuilt with::

    semdns train --corpus @corpora/routing/training-set.txt --unlabelled @corpora/routing/distill-set.txt \
        --output src/semdns/data/classifier/default.npz

and ``semdns train --check FILE`` (run by the tests) says whether an artefact is still the one its zones
and corpora would give: the namespace digest and every corpus file's sha256 (labelled and unlabelled)
must match, and it must be for the encoder that embeds prompts (a resolver ignores one made for
another). After a change of encoder that moves few vectors, ``semdns train --restamp NOTE`` carries the
weights over instead of retraining, recording the encoder they were fit on and why
(:mod:`semdns.resolve.restamp`; the shipped artefact was carried over this way, docs/routing.md).
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import typer

from semdns.cli_common import load_tree_or_exit
from semdns.errors import SemdnsError
from semdns.textfiles import UnreadableText, read_text
from semdns.zone import ZoneTree


def _list_file(spec: str) -> list[str]:
    """The paths listed in an ``@FILE`` (one a line, ``#`` comments), relative to the current folder."""
    try:
        lines = read_text(spec[1:]).split("\n")
    except UnreadableText as exc:
        typer.echo(f"error: {spec[1:]}: cannot read the corpus list ({exc.reason})", err=True)
        raise typer.Exit(2) from None
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def expand_corpora(patterns: list[str]) -> list[Path]:
    """Corpus files from paths, glob patterns or ``@FILE`` lists, sorted, each once; a pattern matching
    nothing is an error (a typo must not silently train without a corpus)."""
    found: list[Path] = []
    expanded = [p for spec in patterns for p in (_list_file(spec) if spec.startswith("@") else [spec])]
    for pattern in expanded:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches or not all(Path(m).is_file() for m in matches):
            typer.echo(
                f"error: {pattern}: no such corpus file (a JSON-lines file of query/expected)", err=True
            )
            raise typer.Exit(2)
        found.extend(Path(m) for m in matches)
    return sorted(set(found))


def stale_reasons(
    artefact: Path,
    tree: ZoneTree,
    corpora: list[Path],
    unlabelled: list[Path] | None = None,
    encoder_id: str | None = None,
) -> list[str]:
    """Why ``artefact`` is not what training on ``tree``, ``corpora`` and the ``unlabelled`` texts would
    give, or is not for the encoder ``encoder_id`` when one is given (empty: current)."""
    from semdns.resolve.trained import TrainedClassifier, namespace_digest
    from semdns.resolve.training import file_digest

    try:
        classifier = TrainedClassifier.load(artefact)
    except (OSError, ValueError, KeyError) as exc:
        return [f"cannot read it ({exc})"]
    reasons: list[str] = []
    made_for = classifier.meta.get("encoder")
    if encoder_id is not None and made_for != encoder_id:
        reasons.append(f"it is for another encoder ({made_for}), not {encoder_id}")
    if classifier.meta.get("namespace") != namespace_digest(tree):
        reasons.append("the zones' names or examples changed")
    for key, paths in (("corpora", corpora), ("unlabelled", unlabelled or [])):
        recorded: dict[str, str] = classifier.meta.get(key, {})
        current = {str(p): file_digest(p) for p in paths}
        for path in sorted(set(recorded) | set(current)):
            if path not in current:
                reasons.append(f"{path} was used but is not given now")
            elif path not in recorded:
                reasons.append(f"{path} is new")
            elif recorded[path] != current[path]:
                reasons.append(f"{path} changed")
    return reasons


def _restamp(output: Path, note: str) -> None:
    """``semdns train --restamp``: carry ``output`` over to the encoder that embeds prompts now."""
    from semdns.resolve.encoder import MiniLMEncoder
    from semdns.resolve.restamp import RestampRefused, restamp

    try:
        stamped = restamp(output, MiniLMEncoder(), note)
    except RestampRefused as exc:
        typer.echo(f"error: {output}: {exc}", err=True)
        raise typer.Exit(2) from None
    except (OSError, ValueError, KeyError) as exc:
        typer.echo(f"error: {output}: cannot read it as a classifier artefact ({exc})", err=True)
        raise typer.Exit(2) from None
    meta = stamped.meta
    typer.echo(f"{output}: re-stamped for {meta['encoder']} (weights fit on {meta['trained_on_encoder']})")


def register(app: typer.Typer) -> None:
    """Add ``train`` to ``app``."""

    @app.command("train")
    def train_command(
        zone: list[Path] | None = typer.Option(  # noqa: B008
            None, "--zone", "-z", help="Zone file (repeatable); default: the shipped namespace."
        ),
        corpus: list[str] | None = typer.Option(  # noqa: B008
            None,
            "--corpus",
            "-c",
            help="Labelled JSON-lines corpus, glob, or @FILE listing them (repeatable; train splits only).",
        ),
        unlabelled: list[str] | None = typer.Option(  # noqa: B008
            None,
            "--unlabelled",
            "-u",
            help="JSON-lines texts (labels ignored) that teach the fast passes what the full classifier "
            "does with them; glob or @FILE (repeatable; train splits only).",
        ),
        output: Path = typer.Option(  # noqa: B008
            Path("semdns-classifier.npz"), "--output", "-o", help="Where to write the artefact."
        ),
        check: bool = typer.Option(
            False, "--check", help="Do not train: exit 1 when OUTPUT is stale for these zones and corpora."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the artefact's metadata as JSON."),
        restamp_note: str | None = typer.Option(
            None,
            "--restamp",
            metavar="NOTE",
            help="Do not train: carry OUTPUT (made for another encoder) over to this one, recording the "
            "encoder its weights were fit on and NOTE, the check that allowed it.",
        ),
    ) -> None:
        """Train the classifier stage on the zones' examples and labelled corpora (a versioned artefact)."""
        if restamp_note is not None:
            if check or zone or corpus or unlabelled:  # they would be ignored: say so instead
                typer.echo("error: --restamp takes only --output (it trains and checks nothing)", err=True)
                raise typer.Exit(2)
            _restamp(output, restamp_note)
            return
        tree = load_tree_or_exit(zone)
        corpora = expand_corpora(corpus or [])
        extra = expand_corpora(unlabelled or [])
        if check:
            from semdns.resolve.encoder import MiniLMEncoder

            reasons = stale_reasons(output, tree, corpora, extra, encoder_id=MiniLMEncoder().model_id)
            if reasons:
                typer.echo(f"{output}: stale: " + "; ".join(reasons), err=True)
                raise typer.Exit(1)
            typer.echo(f"{output}: up to date ({len(corpora)} corpora)")
            return
        from semdns.resolve.distill import UnlabelledError
        from semdns.resolve.encoder import MiniLMEncoder
        from semdns.resolve.training import train

        def cannot_write(exc: OSError) -> typer.Exit:
            typer.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
            return typer.Exit(1)

        try:  # a folder that cannot be made fails now, not after the training run
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise cannot_write(exc) from None

        try:
            classifier = train(
                tree,
                MiniLMEncoder(),
                corpora,
                progress=lambda message: typer.echo(message, err=True),
                unlabelled=extra,
            )
        except (SemdnsError, UnlabelledError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if not classifier.parents:
            typer.echo("error: no name has labelled text for two of its children: nothing to train", err=True)
            raise typer.Exit(2)
        try:
            classifier.save(output)  # whole or not at all: a failed write keeps the artefact that was there
        except OSError as exc:
            raise cannot_write(exc) from None
        if as_json:
            typer.echo(json.dumps(classifier.meta, indent=2, sort_keys=True))
        else:
            typer.echo(
                f"wrote {output}: {len(classifier.parents)} parents, {classifier.meta['items']} texts, "
                f"vocabulary {classifier.vocabulary_size}"
            )
