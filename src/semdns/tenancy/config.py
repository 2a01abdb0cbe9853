"""The tenants file (YAML): who may call semdns, with which keys, on which names, how much.

```yaml
tenants:
  acme:
    keys: [sha256:5e88…]          # hashes only: `semdns tenant add acme` prints a key and stores this
    subtrees: [legal., code.]     # names the tenant may use (default: the whole tree, ".")
    outside: refuse               # a request resolved elsewhere: refuse (403) or ancestor
    requests_per_min: 600         # token bucket; omit for no limit
    tokens_per_min: 200000        # token bucket on prompt + completion tokens
    daily_tokens: 5000000         # quota, reset 24 h after the first use of the day
    admin: false                  # may call the /admin routes
```
Errors say ``file:line: tenants.acme.keys.0: what to change``, like zone files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from semdns.errors import TenantsFileError
from semdns.names import InvalidName, Name
from semdns.zone.yamlsource import YamlSourceError, load_located

KEY_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
TENANT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

PositiveLimit = Annotated[int, Field(ge=1, le=10**12)]


class TenantSpec(BaseModel):
    """One tenant as written in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: tuple[str, ...] = ()
    subtrees: tuple[str, ...] = (".",)
    outside: Literal["refuse", "ancestor"] = "refuse"
    requests_per_min: PositiveLimit | None = None
    tokens_per_min: PositiveLimit | None = None
    daily_tokens: PositiveLimit | None = None
    admin: bool = False

    @field_validator("keys")
    @classmethod
    def _hashed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, key in enumerate(value):
            if not KEY_HASH_RE.match(key):
                hint = (
                    "this looks like a key in clear: never store keys, store their hash "
                    "(`semdns tenant add NAME` does it)"
                    if key.startswith("sk-")
                    else "write sha256:<64 hex digits> (`semdns tenant add NAME` prints a key and stores it)"
                )
                raise ValueError(f"key #{i + 1} is not a key hash; {hint}")
        return value

    @field_validator("subtrees")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError('subtrees is empty; list at least one name ("." for the whole tree)')
        out = []
        for text in value:
            try:
                out.append(str(Name.parse(text)))
            except InvalidName as exc:
                raise ValueError(f"subtree {text!r}: {exc}") from exc
        return tuple(out)


class TenantsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants: dict[str, TenantSpec] = Field(min_length=1)

    @field_validator("tenants")
    @classmethod
    def _tenant_names(cls, value: dict[str, TenantSpec]) -> dict[str, TenantSpec]:
        for name in value:
            if not TENANT_NAME_RE.match(str(name)):
                raise ValueError(
                    f"tenant name {name!r} must be lower-case letters, digits, '-' or '_' (at most 63)"
                )
        return value


@dataclass(frozen=True, slots=True)
class Tenant:
    """A loaded tenant."""

    name: str
    subtrees: tuple[Name, ...]
    outside: Literal["refuse", "ancestor"]
    requests_per_min: int | None
    tokens_per_min: int | None
    daily_tokens: int | None
    admin: bool

    def allows(self, name: Name) -> bool:
        return any(name.is_under(root) for root in self.subtrees)

    def nearest_allowed(self, name: Name) -> Name | None:
        """Where a request resolved to ``name`` may go: ``name`` itself when inside the subtrees; with
        ``outside: ancestor``, its nearest ancestor on the path from the root to a permitted subtree
        (a more general model); ``None`` when the request must be refused."""
        if self.allows(name):
            return name
        if self.outside == "refuse":
            return None
        for candidate in (name, *name.ancestors):
            if any(root.is_under(candidate) for root in self.subtrees):
                return candidate
        return None


@dataclass(frozen=True)
class Tenants:
    """Every tenant, and the map from key hash to tenant."""

    by_name: dict[str, Tenant]
    by_key_hash: dict[str, Tenant]
    path: str

    def __len__(self) -> int:
        return len(self.by_name)


def load_tenants(path: str | Path) -> Tenants:
    """Read and validate a tenants file; raise :class:`TenantsFileError` listing every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TenantsFileError(f"{path}: cannot read the tenants file: {exc}") from None
    return parse_tenants(text, str(path))


def parse_tenants(text: str, path: str = "<tenants>") -> Tenants:
    try:
        doc = load_located(text)
    except YamlSourceError as exc:
        raise TenantsFileError(f"{path}:{exc.line or 1}: {exc.message}") from None
    if not isinstance(doc.value, dict):
        kind = "empty" if doc.value is None else f"a {type(doc.value).__name__}"
        raise TenantsFileError(
            f"{path}:1: a tenants file must be a mapping with a 'tenants' key; it is {kind}"
        )
    try:
        parsed = TenantsFile.model_validate(doc.value)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            line = doc.line_of(loc) or 1
            msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
            if err.get("type") == "extra_forbidden":
                allowed = ", ".join(
                    sorted(TenantSpec.model_fields if len(loc) == 3 else TenantsFile.model_fields)
                )
                msg = f"unknown field {loc[-1]!r}; allowed here: {allowed} (a typo?)"
            elif err.get("type") == "missing":
                msg = f"required field {loc[-1]!r} is missing"
            lines.append(f"{path}:{line}: {'.'.join(str(p) for p in loc)}: {msg}")
        raise TenantsFileError("\n".join(lines)) from None
    by_name: dict[str, Tenant] = {}
    by_hash: dict[str, Tenant] = {}
    problems: list[str] = []
    for name, spec in parsed.tenants.items():
        tenant = Tenant(
            name=name,
            subtrees=tuple(Name.parse(s) for s in spec.subtrees),
            outside=spec.outside,
            requests_per_min=spec.requests_per_min,
            tokens_per_min=spec.tokens_per_min,
            daily_tokens=spec.daily_tokens,
            admin=spec.admin,
        )
        by_name[name] = tenant
        for i, key in enumerate(spec.keys):
            owner = by_hash.get(key)
            if owner is not None and owner.name != name:
                line = doc.line_of(("tenants", name, "keys", i)) or 1
                problems.append(
                    f"{path}:{line}: tenants.{name}.keys.{i}: this key hash is already held by tenant "
                    f"{owner.name!r}; a key belongs to one tenant"
                )
            by_hash[key] = tenant
    if problems:
        raise TenantsFileError("\n".join(problems))
    return Tenants(by_name, by_hash, path)
