"""Tenants: API keys (stored as hashes), permitted subtrees, rate limits and daily quotas.

``load_tenants`` reads the tenants file; :class:`Gatekeeper` turns a request's ``Authorization``
header into a :class:`Principal` (a tenant, or an anonymous per-key scope when semdns runs open),
checks the resolved name against the tenant's subtrees and spends its rate-limit buckets through the
shared :class:`~semdns.state.State`.
"""

from semdns.tenancy.config import Tenant, Tenants, load_tenants, parse_tenants
from semdns.tenancy.gate import Admission, Gatekeeper, Principal
from semdns.tenancy.keys import add_tenant_key, generate_key, hash_key

__all__ = [
    "Admission",
    "Gatekeeper",
    "Principal",
    "Tenant",
    "Tenants",
    "add_tenant_key",
    "generate_key",
    "hash_key",
    "load_tenants",
    "parse_tenants",
]
