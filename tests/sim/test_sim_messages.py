"""Message counts that can be worked out by hand: the accounting of ``semdns.sim.topology``."""

from __future__ import annotations

import pytest

from semdns.sim import parse_config, simulate
from semdns.sim.topology import path_messages


def _full_tree_config(ttl: float = 0.0) -> dict[str, object]:
    # One replica per name, every query resolves to a leaf: with b = 4 and G = 1 + 4 + 16 = 21 every
    # leaf is at depth 2, so a hierarchical query costs 2 + 3 = 5 messages.
    one = {"replicas": 1}
    return {
        "requests": {"count": 2000, "general_share": 0.0, "stop_probability": 0.0},
        "resolver": {"cache_ttl_s": ttl},
        "engines": {
            "tiers": {
                "general": {"params_b": 70, "kv_bytes_per_token": 327680, "tp": 4, **one},
                "primary": {"params_b": 20, "kv_bytes_per_token": 163840, **one},
            }
        },
        "topology": {"branching": 4},
    }


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("flat", 3), ("flat_poll", 3 + 2 * 21), ("all_to_all", 3 + 21 * 20), ("hierarchical", 5)],
)
def test_per_query_messages_match_the_formula(kind: str, expected: int) -> None:
    cfg = parse_config(_full_tree_config())
    r = simulate(cfg, kind, 21)  # type: ignore[arg-type]
    assert r.names == 21 and r.max_depth == 2
    assert r.messages_per_query == expected


def test_cache_hits_shorten_the_hierarchical_path_to_three() -> None:
    cfg = parse_config(_full_tree_config(ttl=3600.0))
    r = simulate(cfg, "hierarchical", 21)
    # hits cost 3, misses 5: the mean is exact given the hit ratio
    assert r.messages_per_query == pytest.approx(5 - 2 * r.cache_hit_ratio)
    assert 0.0 < r.cache_hit_ratio < 1.0


def test_background_reports() -> None:
    cfg = parse_config(_full_tree_config())
    interval = cfg.topology.state_interval_s
    assert simulate(cfg, "flat", 21).background_messages_per_s == pytest.approx(21 / interval)
    # every engine reports to its resolver and every non-root resolver to its parent
    assert simulate(cfg, "hierarchical", 21).background_messages_per_s == pytest.approx((21 + 20) / interval)


@pytest.mark.parametrize("g", [8, 16, 32, 64, 1024])
def test_growth_orders(g: int) -> None:
    assert path_messages("all_to_all", g) == g * (g - 1) + 3
    assert path_messages("flat_poll", g) == 2 * g + 3
    assert path_messages("hierarchical", g, depth=3) == 6
    assert path_messages("hierarchical", g, depth=3, cached=True) == 3


def test_all_to_all_splits_intra_and_inter_rack() -> None:
    data = _full_tree_config()
    data["network"] = {"rack_size": 21}
    cfg = parse_config(data)
    one_rack = simulate(cfg, "all_to_all", 21)
    assert one_rack.inter_rack_per_query == pytest.approx(0.0)
    data["network"] = {"rack_size": 7}
    three_racks = simulate(parse_config(data), "all_to_all", 21)
    # 3 racks of 7: 3 * 7 * 6 = 126 intra-rack messages, 420 - 126 = 294 inter-rack, + the dispatch hop
    assert three_racks.intra_rack_per_query + three_racks.inter_rack_per_query == pytest.approx(420 + 1)
    assert three_racks.inter_rack_per_query >= 294
