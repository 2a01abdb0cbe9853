"""The semantic response cache: exact and semantic tiers, a near-miss judge, a verifier, per-entry
learned thresholds, shadow mode; shared between processes through :mod:`semdns.state`.

See docs/cache.md for the design, the settings (``cache:`` in zone files) and the measured figures.
"""

from semdns.cache.entry import CacheEntry
from semdns.cache.judge import Judge, JudgeArtefactError, shipped_judge
from semdns.cache.request import ClientControl, cache_keys, client_control, is_deterministic
from semdns.cache.response_cache import CacheLookup, CacheRequest, ResponseCache
from semdns.cache.threshold import EntryThreshold
from semdns.cache.verifier import Verdict, verify

__all__ = [
    "CacheEntry",
    "CacheLookup",
    "CacheRequest",
    "ClientControl",
    "EntryThreshold",
    "Judge",
    "JudgeArtefactError",
    "ResponseCache",
    "Verdict",
    "cache_keys",
    "client_control",
    "is_deterministic",
    "shipped_judge",
    "verify",
]
