"""``semdns.sim``: a discrete-event simulator of flat vs hierarchical semantic routing.

Public surface: load a config (:func:`load_config` / :func:`parse_config`), run one topology at one G
(:func:`simulate`) or the configured sweep (:func:`run_sweep`), and write the results
(:func:`write_results`, :func:`write_plots`). The ``paper-table`` preset lives in :mod:`semdns.sim.paper`.
"""

from semdns.sim.config import SimConfig, SimConfigError, load_config, parse_config
from semdns.sim.report import write_plots, write_results
from semdns.sim.runner import RunResult, run_sweep, simulate

__all__ = [
    "RunResult",
    "SimConfig",
    "SimConfigError",
    "load_config",
    "parse_config",
    "run_sweep",
    "simulate",
    "write_plots",
    "write_results",
]
