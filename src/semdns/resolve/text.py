"""Text normalisation shared by the keyword stage and the decision cache.

One function, so that a keyword written in a zone file and the same words in a query normalise alike,
and so that queries differing only in case, spacing or trailing punctuation share a cache entry.
"""

from __future__ import annotations

import re

# Keep letters, digits and the few symbols that carry meaning in technical terms (c++, c#, __name__;
# ".net" is spelled "net"). Everything else separates words.
_NON_WORD = re.compile(r"[^0-9a-z_+#]+")


def normalize_for_matching(text: str) -> str:
    """Lower-case words separated by single spaces, padded with one space on each side.

    The padding makes whole-word matching a plain substring test: `` law `` never matches ``lawn``.
    """
    words = _NON_WORD.sub(" ", text.lower()).split()
    return " " + " ".join(words) + " " if words else " "


def cache_key(text: str) -> str:
    """The decision-cache key of a query: case, whitespace and punctuation insensitive."""
    return normalize_for_matching(text).strip()
