"""semdns: a DNS for language models.

semdns resolves a request to the most specialised model that can serve it, through a hierarchy of
semantic names (``contracts.legal.``, root ``.``), with decision caching, and with every decision
explained level by level.
"""

from __future__ import annotations

__version__ = "0.1.0"
