"""What the security features cost per request: prints one JSON object.

    python bench/security.py [--iterations N]

1. ``protected_mode``: the ASGI wrapper's check for a loopback client (the whole per-request cost of
   protected mode; other modes run without the wrapper).
2. ``privacy_pass``: the three policy lookups a request makes when its names' policy is ``pass``.
3. ``detect``: the detector (all six kinds) on a 60-word prompt without personal data, one with a card
   number and an e-mail address, and a 20 kB prompt.
4. ``mask``: :func:`apply_policy` masking a chat body with a card number and an e-mail address.

Microseconds per call, median of 7 runs. For the detector's precision and recall: ``semdns eval privacy``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).parent.parent
sys.path.insert(0, str(REPO / "src"))

from semdns.gateway.guard import Exposure, protect  # noqa: E402
from semdns.gateway.privacy_gate import policy_of  # noqa: E402
from semdns.names import Name  # noqa: E402
from semdns.privacy import PrivacySpec, apply_policy, detect  # noqa: E402
from semdns.zone import load_default_tree  # noqa: E402

PLAIN = (
    "Could you explain how the statute of limitations works for breach of contract claims in "
    "California, and whether sending a demand letter in 2021 restarts the clock for a debt "
    "of 12,500 dollars that was due on 03/15/2019 under a written agreement with two parties?"
)
PERSONAL = PLAIN + " My card is 4111 1111 1111 1111 and my e-mail is jane.roe@example.org."


def per_call_us(fn: Callable[[], Any], iterations: int) -> float:
    runs = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(iterations):
            fn()
        runs.append((time.perf_counter() - started) / iterations * 1e6)
    return round(statistics.median(runs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    n = parser.parse_args().iterations

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    wrapped = protect(app, Exposure("0.0.0.0", tenants=False))
    scope = {"type": "http", "client": ("127.0.0.1", 50000)}
    loop = asyncio.new_event_loop()

    async def calls(k: int, target: Any) -> None:
        for _ in range(k):
            await target(scope, None, None)

    def timed_async(target: Any) -> float:
        runs = []
        for _ in range(7):
            started = time.perf_counter()
            loop.run_until_complete(calls(n, target))
            runs.append((time.perf_counter() - started) / n * 1e6)
        return round(statistics.median(runs), 3)

    tree = load_default_tree()
    names = [Name.parse("."), Name.parse("contracts.legal."), Name.parse("legal.")]
    body = {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": PERSONAL}]}
    spec = PrivacySpec(action="mask")
    big = PLAIN * 60
    out = {
        "protected_mode": {
            "app_alone_us": timed_async(app),
            "wrapped_us": timed_async(wrapped),
        },
        "privacy_pass_us": per_call_us(lambda: [policy_of(tree, x) for x in names], n),
        "detect_us": {
            "plain_60_words": per_call_us(lambda: detect(PLAIN), n),
            "card_and_email": per_call_us(lambda: detect(PERSONAL), n),
            f"{len(big) // 1000}_kB": per_call_us(lambda: detect(big), max(1, n // 100)),
        },
        "mask_chat_body_us": per_call_us(lambda: apply_policy(spec, body, "chat"), n),
    }
    loop.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
