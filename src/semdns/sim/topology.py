"""How each topology finds an engine, counted in messages: the accounting the paper leaves undefined.

A *message* is one network send made on behalf of a query (the response included). Per query:

* ``flat`` - one global router that knows every engine's load from pushed reports:
  client→router, router→engine, engine→client = **3**; in the background every engine reports its load
  every ``state_interval_s`` (**G** messages per interval).
* ``flat_poll`` - the same router polls all G engines for their load on every query: **3 + 2G**.
* ``all_to_all`` - the paper's baseline: the same router (and decision cache), but the engines
  coordinate all-to-all on every query: **3 + G(G-1)** (the paper's table prints G², which counts each
  engine messaging itself). Only the coordination differs from ``flat``: a one-component ablation.
* ``hierarchical`` - a tree of resolvers descends from the root to the query's name at depth d:
  client→root, d resolver→resolver referrals, resolver→engine, engine→client = **d + 3**; a hit in the
  root's decision cache goes straight to the engine (**3**). In the background every engine reports to
  its name's resolver and every resolver to its parent (**G + names − 1** per interval).

A retry after a crash adds 2 (the failure notice and the re-dispatch). With d ≤ ⌈log_b G⌉ the
hierarchical path is O(log G) per query; the flat router is O(1) per query but does O(G) work (scoring)
per query and receives O(G) reports per interval; polling is O(G) and all-to-all O(G²) per query.
"""

from __future__ import annotations

from semdns.sim.config import TopologyKind

KINDS: tuple[TopologyKind, ...] = ("flat", "flat_poll", "all_to_all", "hierarchical")


def path_messages(kind: TopologyKind, engines: int, depth: int = 0, cached: bool = False) -> int:
    """Messages one query sends on its way (no retries), for a target name at ``depth``."""
    if kind == "flat":
        return 3
    if kind == "flat_poll":
        return 3 + 2 * engines
    if kind == "all_to_all":
        return 3 + engines * (engines - 1)
    return 3 if cached else depth + 3


def background_messages_per_interval(kind: TopologyKind, engines: int, names: int) -> int:
    """Load reports sent every ``state_interval_s`` whatever the query rate."""
    if kind == "flat":
        return engines
    if kind == "hierarchical":
        return engines + names - 1
    return 0


def router_candidates(kind: TopologyKind, engines: int, branching: int) -> int:
    """Candidates a router scores per query (per level for the hierarchy)."""
    return branching if kind == "hierarchical" else engines
