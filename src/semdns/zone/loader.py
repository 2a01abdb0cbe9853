"""Zone files → :class:`ZoneTree`, with every problem reported as ``file:line: path: what to change``.

Loading is two passes: each file is parsed and validated on its own (syntax, schema), then all files
are composed into one tree (duplicate names, missing parents, DN collisions). All problems of all
files are collected and raised together, so one run of ``semdns zone check`` shows everything.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from semdns.errors import ZoneError, ZoneIssue
from semdns.names import DistinguishedName, InvalidName, Name
from semdns.privacy.policy import PrivacySpec
from semdns.zone.cascade_spec import CascadeSpec
from semdns.zone.compress_spec import CompressSpec
from semdns.zone.schema import CacheSpec, NodeSpec, Policy, ZoneFile, absolute_name
from semdns.zone.tree import SourceLocation, ZoneNode, ZoneTree
from semdns.zone.yamlsource import LocatedDocument, YamlSourceError, load_located

_FIELD_HINTS = {
    "ZoneFile": sorted(ZoneFile.model_fields),
    "NodeSpec": sorted(NodeSpec.model_fields),
}


@dataclass(frozen=True)
class _ParsedFile:
    path: str
    zone: ZoneFile
    doc: LocatedDocument


def default_zone_paths() -> list[Path]:
    """The zone files of the default namespace shipped inside the package."""
    folder = importlib.resources.files("semdns") / "data" / "zones"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith((".yaml", ".yml")))


def load_default_tree() -> ZoneTree:
    """The default namespace (``.``, ``legal.``, ``medical.``, ``code.``, …)."""
    return load_zone_files(default_zone_paths())


def load_zone_files(paths: Iterable[str | Path]) -> ZoneTree:
    """Load and compose zone files; raise :class:`ZoneError` listing every problem found."""
    issues: list[ZoneIssue] = []
    parsed: list[_ParsedFile] = []
    path_list = [str(p) for p in paths]
    if not path_list:
        raise ZoneError([ZoneIssue("<none>", None, "", "no zone files given")])
    for path in path_list:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            issues.append(ZoneIssue(path, None, "", f"cannot read the file: {exc}"))
            continue
        result = parse_zone_text(text, path)
        if isinstance(result, list):
            issues.extend(result)
        else:
            parsed.append(result)
    tree = None
    if parsed:
        compose_issues, tree = _compose(parsed)
        issues.extend(compose_issues)
    if issues or tree is None:
        raise ZoneError(issues)
    return tree


def parse_zone_text(text: str, path: str) -> _ParsedFile | list[ZoneIssue]:
    """Parse and schema-validate one zone file's text."""
    try:
        doc = load_located(text)
    except YamlSourceError as exc:
        return [ZoneIssue(path, exc.line, "", exc.message)]
    if not isinstance(doc.value, dict):
        kind = "empty" if doc.value is None else f"a {type(doc.value).__name__}"
        return [
            ZoneIssue(
                path, 1, "", f"a zone file must be a mapping with origin, ttl and nodes; this one is {kind}"
            )
        ]
    try:
        zone = ZoneFile.model_validate(doc.value)
    except ValidationError as exc:
        return [_issue_from_pydantic(path, doc, err) for err in exc.errors()]
    return _ParsedFile(path, zone, doc)


def _issue_from_pydantic(path: str, doc: LocatedDocument, err: object) -> ZoneIssue:
    assert isinstance(err, dict)
    loc: tuple[str | int, ...] = tuple(err.get("loc", ()))
    # pydantic inserts tagged-union / validator names into the loc; keep only the document path.
    doc_path = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
    line = doc.line_of(doc_path)
    dotted = ".".join(str(p) for p in doc_path)
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "extra_forbidden":
        owner = "NodeSpec" if len(doc_path) == 3 and doc_path[0] == "nodes" else "ZoneFile"
        allowed = _FIELD_HINTS.get(owner)
        hint = f"; allowed here: {', '.join(allowed)}" if allowed and len(doc_path) <= 3 else ""
        msg = f"unknown field {doc_path[-1]!r}{hint} (a typo?)"
    elif kind == "missing":
        msg = f"required field {doc_path[-1]!r} is missing"
    else:
        value = err.get("input")
        if not isinstance(value, (dict, list)) and value is not None:
            shown = repr(value)
            if len(shown) > 60:
                shown = shown[:57] + "..."
            msg = f"{msg} (got {shown})"
    return ZoneIssue(path, line, dotted, msg)


def _compress_spec(pf: _ParsedFile, base: CompressSpec, override: CompressSpec | None) -> CompressSpec:
    """``base`` with ``override``'s fields, its file paths (dictionary, word model) made absolute
    (they are relative to the zone file)."""
    merged = base.merged(override)
    for field in ("dictionary", "words"):
        relative = getattr(override, field) if override is not None else None
        if relative:
            merged = merged.model_copy(update={field: str(Path(pf.path).parent / relative)})
    return merged


def _compose(files: Sequence[_ParsedFile]) -> tuple[list[ZoneIssue], ZoneTree | None]:
    issues: list[ZoneIssue] = []
    nodes: dict[Name, ZoneNode] = {}
    strict_set_at: dict[Name, tuple[str, int | None, str]] = {}  # where a node's child thresholds come from
    dn_owner: dict[tuple[tuple[str, str], ...], ZoneNode] = {}
    for pf in files:
        origin = Name.parse(pf.zone.origin)
        zone_policy = pf.zone.policy.apply(Policy()) if pf.zone.policy else Policy()
        zone_cache = CacheSpec().merged(pf.zone.cache)
        zone_privacy = PrivacySpec().merged(pf.zone.privacy)
        zone_compress = _compress_spec(pf, CompressSpec(), pf.zone.compress)
        zone_cascade = CascadeSpec().merged(pf.zone.cascade)
        for key, spec in pf.zone.nodes.items():
            line = pf.doc.line_of(("nodes", key))
            where = f"nodes.{key}"
            try:
                name = absolute_name(key, origin)
            except InvalidName as exc:
                issues.append(ZoneIssue(pf.path, line, where, str(exc)))
                continue
            if not name.is_under(origin):
                issues.append(
                    ZoneIssue(
                        pf.path,
                        line,
                        where,
                        f"{name} is outside this zone's origin {origin}; write it relative to the origin "
                        "or move it to a zone file whose origin covers it",
                    )
                )
                continue
            source = SourceLocation(pf.path, line)
            if name in nodes:
                first = nodes[name].source
                issues.append(
                    ZoneIssue(
                        pf.path,
                        line,
                        where,
                        f"duplicate name {name}: already defined at {first}; keep one definition",
                    )
                )
                continue
            policy = spec.policy.apply(zone_policy) if spec.policy else zone_policy
            if policy.fast_pass_child_thresholds:
                strict_set_at[name] = _where_set(pf, key, spec, "fast_pass_child_thresholds")
            dn = DistinguishedName.parse(spec.dn) if spec.dn else name.to_dn()
            node = ZoneNode(
                name=name,
                dn=dn,
                description=spec.description,
                keywords=spec.keywords,
                examples=spec.examples,
                engines=spec.engines,
                delegation=spec.delegation,
                policy=policy,
                ttl=spec.ttl if spec.ttl is not None else pf.zone.ttl,
                zone_origin=origin,
                source=source,
                system_prompt=spec.system_prompt,
                gateway=spec.gateway,
                cache=zone_cache.merged(spec.cache),
                privacy=zone_privacy.merged(spec.privacy),
                compress=_compress_spec(pf, zone_compress, spec.compress),
                cascade=zone_cascade.merged(spec.cascade),
            )
            clash = dn_owner.get(dn.key())
            if clash is not None and not dn.is_empty:
                issues.append(
                    ZoneIssue(
                        pf.path,
                        line,
                        f"{where}.dn",
                        f"distinguished name {dn} is already used by {clash.name} ({clash.source}); "
                        "DNs must be unique",
                    )
                )
            dn_owner[dn.key()] = node
            nodes[name] = node
    if not nodes:
        return issues, None
    apexes = sorted((n for n in nodes if n.parent is None or n.parent not in nodes), key=lambda n: n.depth)
    apex = apexes[0]
    for orphan in apexes[1:]:
        node = nodes[orphan]
        parent = orphan.parent
        issues.append(
            ZoneIssue(
                node.source.file,
                node.source.line,
                f"nodes.{orphan}",
                f"parent {parent} of {orphan} is not defined in any zone file; add a node for {parent} "
                "or load the zone file that defines it",
            )
        )
    if issues:
        return issues, None
    keys: dict[Name, str] = {}
    for pf in files:
        if pf.zone.signing_key:
            key_path = Path(pf.path).parent / pf.zone.signing_key
            if not key_path.is_file():
                issues.append(
                    ZoneIssue(
                        pf.path,
                        pf.doc.line_of(("signing_key",)),
                        "signing_key",
                        f"key file {key_path} not found; create it with `semdns key gen --out {key_path}`",
                    )
                )
            keys[Name.parse(pf.zone.origin)] = str(key_path)
    if issues:
        return issues, None
    serials = {Name.parse(pf.zone.origin): pf.zone.serial or 0 for pf in files}
    tree = ZoneTree.build(nodes, apex, keys, serials)
    issues = _unknown_children(tree, strict_set_at)
    return (issues, None) if issues else ([], tree)


def _where_set(pf: _ParsedFile, key: str, spec: NodeSpec, field: str) -> tuple[str, int | None, str]:
    """The file, line and path of a policy field a node has: its own policy's, else its zone's."""
    if spec.policy is not None and field in spec.policy.model_fields_set:
        path: tuple[str, ...] = ("nodes", key, "policy", field)
    else:
        path = ("policy", field)
    return pf.path, pf.doc.line_of(path), ".".join(path)


def _unknown_children(tree: ZoneTree, set_at: dict[Name, tuple[str, int | None, str]]) -> list[ZoneIssue]:
    """A child threshold that names no child where it applies would never take effect (a typo, or a
    child since renamed): an error, like an unknown field. A node's own setting must name one of its
    children; a zone file's applies to every node of the file, so it must name a child of one of them
    (the others have no such child to choose, and it changes nothing for them). Leaves choose nothing."""
    choosers: dict[tuple[str, int | None, str], list[Name]] = {}
    for name, origin in set_at.items():
        if tree.children(name):
            choosers.setdefault(origin, []).append(name)
    issues: list[ZoneIssue] = []
    for (file, line, path), names in choosers.items():
        children = {child.labels[0] for name in names for child in tree.children(name)}
        asked = {label for name in names for label, _ in tree.node(name).policy.fast_pass_child_thresholds}
        where = str(names[0]) if len(names) == 1 else f"any of {', '.join(map(str, names))}"
        for label in sorted(asked - children):
            message = f"{label!r} is not a child of {where} (children: {', '.join(sorted(children))})"
            issues.append(ZoneIssue(file, line, path, message))
    return issues
