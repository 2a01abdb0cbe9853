"""Zone files: the schema, the loader (YAML → tree, errors with file:line) and the tree itself."""

from semdns.zone.loader import default_zone_paths, load_default_tree, load_zone_files
from semdns.zone.schema import STAGES, DelegationRecord, EngineRecord, Policy, Stage
from semdns.zone.tree import SourceLocation, ZoneNode, ZoneTree

__all__ = [
    "STAGES",
    "DelegationRecord",
    "EngineRecord",
    "Policy",
    "SourceLocation",
    "Stage",
    "ZoneNode",
    "ZoneTree",
    "default_zone_paths",
    "load_default_tree",
    "load_zone_files",
]
