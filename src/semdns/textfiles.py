"""Reading the text files users hand to semdns (configs, corpora, lists, the tenants file): a file
that cannot be read, or is not UTF-8, is described once, naming the file, instead of ending in an
``OSError`` or ``UnicodeDecodeError`` traceback; each caller raises its own error type with it."""

from __future__ import annotations

from pathlib import Path


def unreadable(exc: OSError | UnicodeDecodeError) -> str:
    """Why a text file could not be read, to follow its name: ``not UTF-8 text (<the codec's reason> at
    byte <offset>)``, or the OS's words."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    return str(exc.strerror or exc)


class UnreadableText(ValueError):
    """A text file that cannot be read (missing, a folder, not permitted) or is not UTF-8."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def read_text(path: str | Path) -> str:
    """The UTF-8 text of ``path``, or :class:`UnreadableText` with the reason (:func:`unreadable`)."""
    target = Path(path)
    try:
        return target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableText(target, unreadable(exc)) from None
