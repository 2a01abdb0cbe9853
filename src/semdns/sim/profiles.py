"""Named accelerator profiles and the specification's engine tiers.

The roofline model needs only two numbers per accelerator (memory bandwidth and dense FLOP/s) plus its
memory size, so a profile is a small value object. The figures are vendor datasheet peaks for dense
BF16/FP16 (no sparsity); the config's efficiency factors turn them into achievable rates.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Tiers in order of name depth: depth 0 is the root (general) engine, depth >= 3 the task engines.
TIERS: tuple[str, ...] = ("general", "primary", "subdomain", "task")


@dataclass(frozen=True)
class Accelerator:
    """One accelerator's peak figures, as a datasheet states them."""

    name: str
    memory_bandwidth_bps: float  # bytes per second
    flops: float  # dense BF16/FP16 FLOP/s
    memory_bytes: float


ACCELERATORS: dict[str, Accelerator] = {
    a.name: a
    for a in (
        Accelerator("a100-80g", 2.039e12, 312e12, 80e9),
        Accelerator("h100-sxm", 3.35e12, 989e12, 80e9),
        Accelerator("h200", 4.8e12, 989e12, 141e9),
        Accelerator("b200", 8.0e12, 2250e12, 192e9),
        Accelerator("mi300x", 5.3e12, 1307e12, 192e9),
        Accelerator("l4", 0.3e12, 121e12, 24e9),
    )
}


def tier_for_depth(depth: int) -> str:
    """The tier of an engine serving a name at ``depth`` (0 = root)."""
    return TIERS[min(depth, len(TIERS) - 1)]
