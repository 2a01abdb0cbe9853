"""``semdns compress train-dict``: train a zone's zstd dictionary for CCP (lossless compression).

    semdns compress train-dict legal. corpus.txt traffic.jsonl --out zones/dicts

writes ``zones/dicts/legal.v<N>.zdict`` and its manifest; point the zone file at it with
``compress: {dictionary: dicts/legal.v<N>.zdict}``. It reports the ratio on held-out samples (every
tenth). ``--words`` also trains the zone's word model for short messages (``legal.v<N>.words``,
``compress: {words: dicts/legal.v<N>.words}``) and reports its ratio on the held-out samples.
"""

from __future__ import annotations

from pathlib import Path

import typer

compress_app = typer.Typer(help="Context compression: zone dictionaries.", no_args_is_help=True)


@compress_app.command("train-dict")
def train_dict(
    zone: str = typer.Argument(..., help="The zone origin, e.g. legal."),
    inputs: list[Path] = typer.Argument(..., help="Corpus files: .txt or .jsonl (texts or requests)."),  # noqa: B008
    out: Path = typer.Option(..., "--out", "-o", help="Folder for <zone>.v<N>.zdict and its manifest."),  # noqa: B008
    size: int = typer.Option(256 * 1024, "--size", help="Dictionary size in bytes (at most)."),
    words: bool = typer.Option(False, "--words", help="Also train the word model for short messages."),
) -> None:
    """Train the next version of ZONE's dictionary from INPUTS; print its id, size and held-out ratio."""
    from semdns.compress.dictionaries import (
        DictionaryError,
        next_version,
        read_samples,
        save,
        train_zone_dictionary,
        train_zone_words,
    )
    from semdns.names import InvalidName, Name
    from semdns.protocol.ccp import compress_context, frame_compressor
    from semdns.protocol.words import SHORT_MESSAGE_BYTES

    try:
        origin = str(Name.parse(zone))
    except InvalidName as exc:
        typer.echo(f"error: {zone!r} is not a zone origin: {exc}", err=True)
        raise typer.Exit(2) from None
    if not 1024 <= size <= 1 << 20:
        typer.echo("error: --size must be between 1024 and 1048576 bytes", err=True)
        raise typer.Exit(2)
    try:
        samples = [s for path in inputs for s in read_samples(path)]
        # Every tenth sample is held out to report the ratio the dictionary gives on unseen text.
        train = [s for i, s in enumerate(samples) if i % 10]
        held = [s for i, s in enumerate(samples) if not i % 10]
        version = next_version(out, origin)
        dictionary = train_zone_dictionary(origin, train, version=version, size=size)
        word_model = train_zone_words(origin, train, version=version) if words else None
        sources = [str(p) for p in inputs]
        saved = save(dictionary, out, samples=len(train), sources=sources)
        saved_words = save(word_model, out, samples=len(train), sources=sources) if word_model else None
    except DictionaryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: cannot write into {out}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    plain, with_dict = frame_compressor(None), frame_compressor(dictionary)
    lean = frame_compressor(dictionary, lean=True)
    raw = sum(len(s.encode()) for s in held) or 1
    ratio_plain = raw / max(sum(len(plain.compress(s.encode())) for s in held), 1)
    ratio_dict = raw / max(sum(len(with_dict.compress(s.encode())) for s in held), 1)
    ratio_lean = raw / max(sum(len(lean.compress(s.encode())) for s in held), 1)
    typer.echo(f"dictionary: {saved.path}  ({len(dictionary.data)} bytes, {len(train)} samples)")
    typer.echo(f"id:         {dictionary.id}")
    typer.echo(
        f"held-out:   {len(held)} samples, ratio {ratio_dict:.2f} with it ({ratio_lean:.2f} in lean "
        f"CCP frames), {ratio_plain:.2f} without"
    )
    zone_file = f"dictionary: {saved.path.name}"
    if saved_words is not None:
        contexts = [compress_context(s, dictionary=saved_words.dictionary) for s in held]
        coded = sum(len(chunk.data) for context in contexts for chunk in context.chunks)
        short = [s for s in held if len(s.encode()) <= SHORT_MESSAGE_BYTES]
        typer.echo(f"words:      {saved_words.path}  ({len(saved_words.dictionary.data)} bytes)")
        typer.echo(f"id:         {saved_words.dictionary.id}")
        typer.echo(
            f"held-out:   ratio {raw / max(coded, 1):.2f} with the word model "
            f"({len(short)} of {len(held)} samples are short enough for senders to use it)"
        )
        zone_file += f", words: {saved_words.path.name}"
    typer.echo(f"zone file:  compress: {{{zone_file}}}  (paths relative to the zone file)")


def register(app: typer.Typer) -> None:
    """Add ``compress`` to ``app``."""
    app.add_typer(compress_app, name="compress")
