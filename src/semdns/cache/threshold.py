"""A per-entry threshold learned online, in the manner of vCache (ICLR 2026).

One global similarity threshold is wrong for most entries: a prompt with near misses in the
neighbourhood ("activate" / "cancel my card") needs a higher one than a prompt whose paraphrases are
far apart. Each entry therefore keeps its own observations — (similarity of a later prompt, was the
cached answer right for it) — labelled whenever the engine answers a prompt that had this entry as its
nearest candidate (a miss below the threshold, an explored candidate, or any lookup in shadow mode).

Decision for a candidate at similarity ``s``, assuming (as vCache does) that correctness is
monotone in similarity:

* any wrong observation at similarity ``w`` means prompts at ``s <= w`` may be wrong too: the entry's
  threshold rises above the highest such ``w``;
* the static threshold (the zone's ``similarity``) holds otherwise, unless enough right observations
  at or below ``s`` (and above every wrong one) show that ``s`` is safe: with ``n`` right and no wrong
  observations the one-sided 95% upper bound on the error rate is ``1 - 0.05 ** (1/n)``, and ``s`` is
  accepted when that bound is within ``error_bound``.

Errors above the threshold are only seen if someone looks: like vCache, an entry whose evidence at
``s`` is still thin *explores* with a small probability — the lookup is treated as a miss, the engine
answers, and the comparison labels the observation. The probability falls to zero as right
observations accumulate, so a well-known entry is always served.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

_MAX_OBSERVATIONS = 64
_MARGIN = 0.005
_CONFIDENCE_ALPHA = 0.05


def needed_observations(error_bound: float) -> int:
    """Right observations, with none wrong, that bound the error rate by ``error_bound`` (95%)."""
    return math.ceil(math.log(_CONFIDENCE_ALPHA) / math.log(1.0 - error_bound))


@dataclass(slots=True)
class EntryThreshold:
    """Observations of one cached entry and the threshold they imply."""

    observations: list[tuple[float, bool]] = field(default_factory=list)

    def observe(self, similarity: float, correct: bool) -> None:
        self.observations.append((similarity, correct))
        if len(self.observations) > _MAX_OBSERVATIONS:
            # Keep every wrong observation (they carry the safety) and the most recent right ones.
            wrong = [o for o in self.observations if not o[1]]
            right = [o for o in self.observations if o[1]]
            self.observations = wrong[-_MAX_OBSERVATIONS // 2 :] + right[-(_MAX_OBSERVATIONS // 2) :]

    @property
    def floor(self) -> float:
        """Above the highest similarity at which this entry was wrong (0 when never wrong)."""
        wrong = [s for s, ok in self.observations if not ok]
        return max(wrong) + _MARGIN if wrong else 0.0

    def threshold(self, static: float, error_bound: float, *, learn: bool = True) -> float:
        """The similarity this entry needs now."""
        if not learn or not self.observations:
            return static
        floor = self.floor
        right = sorted(s for s, ok in self.observations if ok and s >= floor)
        need = needed_observations(error_bound)
        learned = right[need - 1] if len(right) >= need else static
        return max(floor, min(static, learned))

    def allows(self, similarity: float, static: float, error_bound: float, *, learn: bool = True) -> bool:
        return similarity >= self.threshold(static, error_bound, learn=learn)

    def explore_probability(self, similarity: float, error_bound: float, rate: float) -> float:
        """How likely a servable lookup at ``similarity`` should be explored instead (see above)."""
        floor = self.floor
        support = sum(1 for s, ok in self.observations if ok and floor <= s <= similarity)
        need = needed_observations(error_bound)
        return max(0.0, rate * (1.0 - support / need))
