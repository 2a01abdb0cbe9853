"""How many bits a short message carries for a coder that knows its domain: the cross-entropy of
held-out messages under a byte n-gram model trained on the domain's training messages
(interpolated Witten-Bell, each message from its own start and to its own end).

It is what an arithmetic coder driven by that model would spend (within a byte a message), so it
bounds from below what a context-modelling codec trained on the same text could reach, and shows
how far zstd's order-0 coding of literals (plus matches into a dictionary) is from it on messages of
80 bytes. Used by ``bench/compress.py --entropy``; pure Python, seconds per domain.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

_START = 0x02  # never in text: pads the context before a message's first byte
_END = 0x00  # the end-of-message symbol (a coder must say where a message ends)


def cross_entropy_bits(train: Sequence[bytes], held: Sequence[bytes], order: int) -> float:
    """Total bits to code every message of ``held`` (its bytes and its end) under an order-``order``
    byte model trained on ``train``; a byte never seen costs its share of 1/257."""
    if order < 0:
        raise ValueError(f"order must be >= 0, got {order}")
    counts: list[dict[bytes, Counter[int]]] = [defaultdict(Counter) for _ in range(order + 1)]
    for message in train:
        padded = bytes([_START]) * order + message
        for i in range(order, len(padded) + 1):
            symbol = padded[i] if i < len(padded) else _END
            for k in range(order + 1):
                counts[k][padded[i - k : i]][symbol] += 1
    totals = [{ctx: (sum(c.values()), len(c)) for ctx, c in level.items()} for level in counts]
    bits = 0.0
    for message in held:
        padded = bytes([_START]) * order + message
        for i in range(order, len(padded) + 1):
            symbol = padded[i] if i < len(padded) else _END
            p = 1.0 / 257
            for k in range(order + 1):
                ctx = padded[i - k : i]
                seen = counts[k].get(ctx)
                if seen is None:
                    continue
                n, types = totals[k][ctx]
                weight = n / (n + types)
                p = weight * seen[symbol] / n + (1 - weight) * p
            bits -= math.log2(p)
    return bits
