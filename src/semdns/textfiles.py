"""How every command and loader describes a text file that is not UTF-8, so that the message names
the file and says what is wrong instead of ending in a ``UnicodeDecodeError`` traceback."""

from __future__ import annotations


def not_utf8(exc: UnicodeDecodeError) -> str:
    """``not UTF-8 text (<the codec's reason> at byte <offset>)``, to follow a file's name."""
    return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
