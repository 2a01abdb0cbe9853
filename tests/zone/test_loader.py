"""Zone files: loading, composition, and every kind of mistake reported with file, line and fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from semdns.errors import UnknownName, ZoneError
from semdns.names import Name
from semdns.zone import default_zone_paths, load_default_tree, load_zone_files

WriteZone = Callable[..., Path]

GOOD_ROOT = """\
origin: .
ttl: 600
nodes:
  "@":
    description: general
    examples: [hello there]
  legal:
    description: law
    dn: "CN=Legal,OU=Legal-Domain,O=Text-Analysis,C=Natural-Language"
    keywords: [law, lawyer]
    engines:
      - kind: local
"""

GOOD_LEGAL = """\
origin: legal.
nodes:
  contracts:
    keywords: [breach of contract]
    ttl: 30
    policy:
      keyword_threshold: 0.5
    engines:
      - kind: openai
        url: http://127.0.0.1:9000/v1
        model: qwen
        api_key_env: QWEN_KEY
"""


def problems(paths: list[Path]) -> list[str]:
    with pytest.raises(ZoneError) as info:
        load_zone_files(paths)
    return [str(issue) for issue in info.value.issues]


def test_good_files_compose(write_zone: WriteZone) -> None:
    root = write_zone(GOOD_ROOT, "root.yaml")
    legal = write_zone(GOOD_LEGAL, "legal.yaml")
    tree = load_zone_files([root, legal])
    assert tree.apex == Name.parse(".")
    assert [str(n.name) for n in tree] == [".", "legal.", "contracts.legal."]
    contracts = tree.node(Name.parse("contracts.legal"))
    assert contracts.ttl == 30
    assert contracts.policy.keyword_threshold == 0.5
    assert contracts.policy.embedding_threshold == 0.75  # default kept
    assert contracts.engines[0].model == "qwen"
    assert tree.node(Name.parse("legal")).ttl == 600
    assert contracts.source.file == str(legal)
    assert contracts.source.line == 3


def test_lookup_by_name_and_dn(write_zone: WriteZone) -> None:
    tree = load_zone_files([write_zone(GOOD_ROOT, "root.yaml"), write_zone(GOOD_LEGAL, "legal.yaml")])
    assert tree.lookup("contracts.legal").name == Name.parse("contracts.legal.")
    assert tree.lookup("CONTRACTS.legal.").name == Name.parse("contracts.legal.")
    assert tree.lookup("CN=legal,OU=Legal-Domain,O=text-analysis,C=natural-language").name == Name.parse(
        "legal"
    )
    assert tree.lookup("CN=contracts, OU=legal").name == Name.parse("contracts.legal")
    with pytest.raises(UnknownName, match="no zone defines the name medical"):
        tree.lookup("medical")
    with pytest.raises(UnknownName, match="distinguished name"):
        tree.lookup("CN=Nope,OU=Nowhere")
    with pytest.raises(UnknownName, match="may hold only"):
        tree.lookup("bad_name")


def test_subtree_zone_has_its_origin_as_apex(write_zone: WriteZone) -> None:
    legal_only = write_zone('origin: legal.\nnodes:\n  "@": {}\n  ip: {}\n')
    tree = load_zone_files([legal_only])
    assert tree.apex == Name.parse("legal.")
    assert tree.children(tree.apex) == (Name.parse("ip.legal."),)


# -- malformed zone files: each asserts the file, the line and what to change ------------------

MALFORMED = [
    pytest.param("origin: .\nnodes:\n  legal: [\n", 4, "YAML syntax error", id="syntax"),
    pytest.param("- a\n- b\n", 1, "must be a mapping", id="not-a-mapping"),
    pytest.param("", 1, "this one is empty", id="empty-file"),
    pytest.param("nodes:\n  '@': {}\n", None, "required field 'origin' is missing", id="missing-origin"),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    keywrods: [a]\n", 4, "unknown field 'keywrods'", id="unknown-field"
    ),
    pytest.param(
        "origin: .\ncolour: red\nnodes:\n  '@': {}\n", 2, "unknown field 'colour'", id="unknown-top"
    ),
    pytest.param("origin: .\nttl: -5\nnodes:\n  '@': {}\n", 2, "greater than or equal to 0", id="bad-ttl"),
    pytest.param("origin: le_gal.\nnodes:\n  '@': {}\n", 1, "may hold only a-z", id="bad-origin"),
    pytest.param(
        "origin: .\nnodes:\n  '@': {}\n  legal: {}\n  legal: {}\n",
        5,
        "duplicate key 'legal'",
        id="duplicate-key",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    engines:\n      - kind: openai\n        model: m\n",
        5,
        "needs a url",
        id="openai-without-url",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    engines:\n      - kind: local\n        url: http://127.0.0.1:1/v1\n",
        5,
        "takes no url",
        id="local-with-url",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    engines:\n      - kind: gpu\n",
        5,
        "'openai' or 'local'",
        id="bad-engine-kind",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    policy:\n      keyword_threshold: 1.5\n",
        5,
        "less than or equal to 1",
        id="threshold-out-of-range",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    policy:\n      lexical_min_tokens: -1\n",
        5,
        "greater than or equal to 0",
        id="lexical-min-tokens-negative",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    policy:\n      lexical_long_tokens: 0\n",
        5,
        "greater than or equal to 1",
        id="lexical-long-tokens-zero",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    policy:\n      stages: [lexical, transformer]\n",
        5,
        "'lexical'",
        id="unknown-stage",
    ),
    pytest.param("origin: .\nnodes:\n  '@':\n    dn: 'CN=a,'\n", 4, "trailing separator", id="bad-dn"),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    keywords: [tax, 1040]\n", 4, "valid string", id="keyword-not-string"
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    examples: ['ok', '  ']\n",
        4,
        "example #2 is blank",
        id="blank-example",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    delegation:\n      servers: []\n",
        5,
        "at least 1 item",
        id="empty-delegation",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    delegation:\n"
        "      servers: [http://127.0.0.1:1]\n      public_key: abc\n",
        6,
        "base64",
        id="bad-public-key",
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@':\n    engines:\n      - kind: openai\n"
        "        url: http://x/v1\n        model: m\n        api_key_env: 'not a var'\n",
        8,
        "not an environment variable name",
        id="bad-env-name",
    ),
    pytest.param("origin: .\nnodes:\n  '@': {}\n  bad_label: {}\n", 4, "may hold only", id="bad-node-name"),
    pytest.param(
        "origin: legal.\nnodes:\n  medical.: {}\n", 3, "outside this zone's origin", id="outside-origin"
    ),
    pytest.param(
        "origin: .\nnodes:\n  '@': {}\n  contracts.legal: {}\n",
        4,
        "parent legal. of contracts.legal.",
        id="missing-parent",
    ),
    pytest.param("origin: .\nnodes: {}\n", 2, "at least 1 item", id="no-nodes"),
]


@pytest.mark.parametrize(("text", "line", "message"), MALFORMED)
def test_malformed_zone_reports_file_line_and_fix(
    write_zone: WriteZone, text: str, line: int | None, message: str
) -> None:
    path = write_zone(text, "bad.yaml")
    found = problems([path])
    assert found, "a malformed zone must produce at least one problem"
    first = found[0]
    assert first.startswith(f"{path}:{line}:" if line is not None else f"{path}:"), first
    assert message in first, first


def test_duplicate_name_across_files(write_zone: WriteZone) -> None:
    root = write_zone(GOOD_ROOT, "root.yaml")
    again = write_zone("origin: .\nnodes:\n  legal:\n    description: again\n", "again.yaml")
    found = problems([root, again])
    assert len(found) == 1
    assert found[0].startswith(f"{again}:3:")
    assert f"duplicate name legal.: already defined at {root}:7" in found[0]


def test_duplicate_dn_across_files(write_zone: WriteZone) -> None:
    root = write_zone(GOOD_ROOT, "root.yaml")
    clash = write_zone(
        "origin: legal.\nnodes:\n  ip:\n"
        "    dn: 'cn=legal, ou=legal-domain, o=text-analysis, c=natural-language'\n",
        "clash.yaml",
    )
    found = problems([root, clash])
    assert "is already used by legal." in found[0]


def test_all_problems_of_all_files_are_reported(write_zone: WriteZone) -> None:
    one = write_zone("origin: .\nnodes:\n  '@':\n    bogus: 1\n", "one.yaml")
    two = write_zone("origin: .\nttl: x\nnodes:\n  '@': {}\n", "two.yaml")
    missing = Path(one.parent / "does-not-exist.yaml")
    found = problems([one, two, missing])
    assert len(found) == 3
    assert any("cannot read the file" in f for f in found)


def test_no_files() -> None:
    with pytest.raises(ZoneError, match="no zone files given"):
        load_zone_files([])


# -- the default namespace ----------------------------------------------------------------------

DEFAULT_NAMES = {
    ".",
    "legal.",
    "contracts.legal.",
    "litigation.legal.",
    "ip.legal.",
    "medical.",
    "diagnosis.medical.",
    "pharmacology.medical.",
    "code.",
    "python.code.",
    "devops.code.",
    "security.code.",
    "science.",
    "physics.science.",
    "chemistry.science.",
    "biology.science.",
    "math.",
    "algebra.math.",
    "calculus.math.",
    "statistics.math.",
    "finance.",
    "investing.finance.",
    "accounting.finance.",
    "tax.finance.",
    "creative.",
    "poetry.creative.",
    "fiction.creative.",
}


def test_default_namespace_has_exactly_the_agreed_names() -> None:
    tree = load_default_tree()
    assert {str(node.name) for node in tree} == DEFAULT_NAMES
    assert len(default_zone_paths()) >= 2, "the default namespace is composed from several zone files"


def test_default_namespace_nodes_are_complete() -> None:
    tree = load_default_tree()
    dns = set()
    for node in tree:
        assert len(node.examples) >= 15, f"{node.name} has {len(node.examples)} examples"
        assert len(set(node.examples)) == len(node.examples), f"{node.name} repeats an example"
        assert node.description, node.name
        assert node.engines, node.name
        assert not node.name.is_root or node.keywords == ()
        if not node.name.is_root:
            assert node.keywords, node.name
        dns.add(node.dn.key())
    assert len(dns) == len(tree)
