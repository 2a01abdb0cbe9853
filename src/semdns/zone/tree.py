"""The loaded namespace: an immutable tree of :class:`ZoneNode` with lookups by name or DN."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from semdns.errors import UnknownName
from semdns.names import DistinguishedName, InvalidName, Name, looks_like_dn
from semdns.privacy.policy import PrivacySpec
from semdns.zone.cascade_spec import CascadeSpec
from semdns.zone.compress_spec import CompressSpec
from semdns.zone.schema import CacheSpec, DelegationRecord, EngineRecord, GatewayPolicy, Policy


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a node was defined, for error messages and ``zone check`` output."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True, slots=True)
class ZoneNode:
    """One name of the namespace with everything the resolver and the gateway need about it."""

    name: Name
    dn: DistinguishedName
    description: str
    keywords: tuple[str, ...]
    examples: tuple[str, ...]
    engines: tuple[EngineRecord, ...]
    delegation: DelegationRecord | None
    policy: Policy
    ttl: int
    zone_origin: Name
    source: SourceLocation
    system_prompt: str | None = None
    gateway: GatewayPolicy = field(default_factory=GatewayPolicy)
    cache: CacheSpec = field(default_factory=CacheSpec)
    privacy: PrivacySpec = field(default_factory=PrivacySpec)
    compress: CompressSpec = field(default_factory=CompressSpec)
    cascade: CascadeSpec = field(default_factory=CascadeSpec)


@dataclass(frozen=True)
class ZoneTree:
    """The namespace: nodes by name, children in a stable order, DN aliases.

    ``apex`` is the top of the tree: the root ``.`` for a full namespace, or a zone origin such as
    ``legal.`` for a resolver that is authoritative only for a subtree.
    """

    nodes: Mapping[Name, ZoneNode]
    apex: Name
    _children: Mapping[Name, tuple[Name, ...]] = field(repr=False)
    _aliases: Mapping[tuple[tuple[str, str], ...], Name] = field(repr=False)
    # Zone origin → path of its signing key (zone files' ``signing_key``, made absolute).
    signing_keys: Mapping[Name, str] = field(default_factory=dict, repr=False)
    # Zone origin → the zone file's ``serial`` (0 when the file gives none), for ``/readyz`` and metrics.
    serials: Mapping[Name, int] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        nodes: Mapping[Name, ZoneNode],
        apex: Name,
        signing_keys: Mapping[Name, str] | None = None,
        serials: Mapping[Name, int] | None = None,
    ) -> ZoneTree:
        """Index ``nodes`` (already validated by the loader) into a tree."""
        children: dict[Name, list[Name]] = {name: [] for name in nodes}
        for name in nodes:
            parent = name.parent
            if parent is not None and parent in children:
                children[parent].append(name)
        aliases: dict[tuple[tuple[str, str], ...], Name] = {}
        for node in nodes.values():
            aliases[node.dn.key()] = node.name
            aliases.setdefault(node.name.to_dn().key(), node.name)
        return cls(
            nodes=dict(nodes),
            apex=apex,
            _children={k: tuple(sorted(v)) for k, v in children.items()},
            _aliases=aliases,
            signing_keys=dict(signing_keys or {}),
            serials=dict(serials or {}),
        )

    def with_policies(self, **changes: object) -> ZoneTree:
        """A copy whose every node's policy has ``changes`` (validated like a zone file's), each value
        either the new field value or a function of the node's current policy giving it. What
        evaluations and benchmarks vary (a stage removed, another threshold); the signing keys and
        serials carry over, and this tree is untouched."""
        nodes = {}
        for name, node in self.nodes.items():
            fields = {k: v(node.policy) if callable(v) else v for k, v in changes.items()}
            policy = Policy.model_validate({**node.policy.model_dump(), **fields})
            nodes[name] = replace(node, policy=policy)
        return ZoneTree.build(nodes, self.apex, self.signing_keys, self.serials)

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[ZoneNode]:
        """Nodes top-down (parents before children), siblings in name order."""
        stack = [self.apex]
        while stack:
            name = stack.pop()
            yield self.nodes[name]
            stack.extend(reversed(self._children[name]))

    def node(self, name: Name) -> ZoneNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise UnknownName(f"no zone defines the name {name}") from None

    def children(self, name: Name) -> tuple[Name, ...]:
        return self._children.get(name, ())

    def subtree(self, name: Name) -> Iterator[ZoneNode]:
        """``name`` and every node below it, top-down."""
        stack = [name]
        while stack:
            current = stack.pop()
            yield self.nodes[current]
            stack.extend(reversed(self._children.get(current, ())))

    def lookup(self, text: str) -> ZoneNode:
        """Find a node by dotted name (``contracts.legal``, trailing dot optional) or by DN (declared or
        derived); raise :class:`UnknownName` with a readable message otherwise."""
        stripped = text.strip()
        try:
            if looks_like_dn(stripped):
                dn = DistinguishedName.parse(stripped)
                name = self._aliases.get(dn.key())
                if name is None:
                    raise UnknownName(f"no zone defines the distinguished name {dn}")
                return self.nodes[name]
            return self.node(Name.parse(stripped))
        except InvalidName as exc:
            raise UnknownName(str(exc)) from exc
