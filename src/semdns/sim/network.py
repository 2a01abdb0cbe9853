"""Message latency on intra-rack, inter-rack and client links: propagation plus serialisation.

Links are not contended (each message sees the link's full bandwidth); a collective round such as a
poll or an all-to-all exchange is charged the serialisation of all its messages through one node's NIC.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from semdns.sim.config import Link, Network

FloatArray = npt.NDArray[np.float64]


def hop_s(link: Link, nbytes: float | FloatArray) -> float | FloatArray:
    """Seconds for one message of ``nbytes`` on ``link``."""
    return link.latency_us * 1e-6 + np.asarray(nbytes) * 8.0 / (link.bandwidth_gbps * 1e9)


def rack_hop_s(net: Network, same_rack: npt.NDArray[np.bool_], nbytes: FloatArray) -> FloatArray:
    """Per message, the intra-rack cost where ``same_rack`` else the inter-rack cost."""
    intra = np.asarray(hop_s(net.intra_rack, nbytes))
    inter = np.asarray(hop_s(net.inter_rack, nbytes))
    return np.where(same_rack, intra, inter)


def collective_s(net: Network, engines: int, messages_per_node: int) -> float:
    """One coordination round: the slowest link's latency plus one node's serialisation."""
    link = net.inter_rack if engines > net.rack_size else net.intra_rack
    return float(hop_s(link, 0)) + messages_per_node * net.state_bytes * 8.0 / (link.bandwidth_gbps * 1e9)
