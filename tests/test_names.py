"""Semantic names and distinguished names: parsing, formatting, tree relations, round trips."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from semdns.names import MAX_DEPTH, ROOT, DistinguishedName, InvalidName, Name, looks_like_dn

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
names = st.lists(label, min_size=0, max_size=MAX_DEPTH).map(lambda ls: Name(tuple(ls)))
dn_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
).filter(lambda v: v.strip() == v and v != "")
dns = st.lists(
    st.tuples(st.sampled_from(["CN", "OU", "O", "C", "DC", "L"]), dn_value), min_size=0, max_size=6
).map(lambda rdns: DistinguishedName(tuple(rdns)))


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        (".", ()),
        ("legal", ("legal",)),
        ("legal.", ("legal",)),
        ("Contracts.LEGAL.", ("contracts", "legal")),
        ("  python.code  ", ("python", "code")),
        ("a-1.b2", ("a-1", "b2")),
    ],
)
def test_parse_accepts_dotted_forms(text: str, labels: tuple[str, ...]) -> None:
    assert Name.parse(text).labels == labels


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("legal..", "empty label"),
        ("contracts..legal", "empty label"),
        ("-legal", "may not start or end"),
        ("legal-", "may not start or end"),
        ("le_gal", "may hold only"),
        ("légal", "may hold only"),
        ("a" * 64, "64 characters"),
        (".".join(["a"] * 9), "9 levels"),
    ],
)
def test_parse_rejects_bad_names(text: str, message: str) -> None:
    with pytest.raises(InvalidName, match=message):
        Name.parse(text)


def test_text_form_always_has_trailing_dot() -> None:
    assert str(Name.parse("contracts.legal")) == "contracts.legal."
    assert str(ROOT) == "."
    assert repr(Name.parse("legal")) == "Name('legal.')"


def test_parent_and_ancestors() -> None:
    name = Name.parse("contracts.legal.")
    assert name.parent == Name.parse("legal.")
    assert name.ancestors == (Name.parse("legal."), ROOT)
    assert ROOT.parent is None
    assert ROOT.ancestors == ()
    assert name.depth == 2


def test_is_under() -> None:
    contracts = Name.parse("contracts.legal")
    legal = Name.parse("legal")
    assert contracts.is_under(legal)
    assert contracts.is_under(ROOT)
    assert contracts.is_under(contracts)
    assert not contracts.is_under(contracts, strict=True)
    assert not legal.is_under(contracts)
    assert not Name.parse("legal.medical").is_under(legal)
    # label boundaries matter: "xlegal." is not under "legal."
    assert not Name.parse("xlegal").is_under(legal)


def test_child() -> None:
    assert Name.parse("legal").child("IP") == Name.parse("ip.legal.")
    with pytest.raises(InvalidName):
        Name.parse("legal").child("bad label")


def test_derived_dn() -> None:
    assert str(Name.parse("contracts.legal").to_dn()) == "CN=contracts,OU=legal"
    assert str(Name.parse("legal").to_dn()) == "CN=legal"
    assert ROOT.to_dn().is_empty
    assert Name.from_dn("cn=Contracts, ou=Legal") == Name.parse("contracts.legal")
    assert Name.from_dn("") == ROOT


def test_declared_dn_is_not_derivable() -> None:
    with pytest.raises(InvalidName, match="not a derived DN"):
        Name.from_dn("CN=Legal-Contract-Analysis,OU=Legal-Domain,O=Text-Analysis,C=Natural-Language")


def test_dn_parse_paper_examples() -> None:
    dn = DistinguishedName.parse(
        "CN=Legal-Contract-Analysis, OU=Legal-Domain, O=Text-Analysis, C=Natural-Language"
    )
    assert dn.rdns[0] == ("CN", "Legal-Contract-Analysis")
    assert [t for t, _ in dn.rdns] == ["CN", "OU", "O", "C"]
    assert str(dn) == "CN=Legal-Contract-Analysis,OU=Legal-Domain,O=Text-Analysis,C=Natural-Language"
    assert dn.key() == DistinguishedName.parse(str(dn).lower()).key()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CN", "has no '='"),
        ("CN=", "empty value"),
        ("CN=a,", "trailing separator"),
        ("1N=a", "bad attribute type"),
        ("CN=a+OU=b", "multi-valued"),
        ("CN=a\\", "dangling"),
        ("CN=a=b", "unescaped"),
    ],
)
def test_dn_parse_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidName, match=message):
        DistinguishedName.parse(text)


def test_looks_like_dn() -> None:
    assert looks_like_dn("CN=Contracts,OU=Legal")
    assert looks_like_dn("cn = x")
    assert not looks_like_dn("contracts.legal")
    assert not looks_like_dn("what is x=1?")


@given(names)
def test_name_text_round_trip(name: Name) -> None:
    assert Name.parse(str(name)) == name
    assert Name.parse(str(name).rstrip(".") or ".") == name
    assert Name.parse(str(name).upper()) == name


@given(names)
def test_name_dn_round_trip(name: Name) -> None:
    assert Name.from_dn(name.to_dn()) == name
    assert Name.from_dn(str(name.to_dn())) == name


@given(names)
def test_ancestors_are_parents_chain(name: Name) -> None:
    chain = []
    current = name.parent
    while current is not None:
        chain.append(current)
        current = current.parent
    assert tuple(chain) == name.ancestors
    assert all(name.is_under(a, strict=True) for a in name.ancestors)


@given(dns)
def test_dn_text_round_trip(dn: DistinguishedName) -> None:
    assert DistinguishedName.parse(str(dn)) == dn


def test_equal_names_hash_alike_and_sort_by_labels() -> None:
    a, b = Name.parse("contracts.legal"), Name(("contracts", "legal"))
    assert a == b and a is not b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert a != Name.parse("legal") and a != "contracts.legal." and a != ("contracts", "legal")
    assert sorted([Name.parse("b"), a, ROOT]) == [ROOT, Name.parse("b"), a]


def test_a_pickled_name_hashes_by_the_receiving_process() -> None:
    """The hash is cached, and a string's hash differs from one process to the next: unpickling
    computes it again instead of carrying the sender's."""
    name = Name.parse("python.code")
    object.__setattr__(name, "_hash", 12345)  # what another process's hash looks like here
    received = pickle.loads(pickle.dumps(name))
    assert received == Name.parse("python.code") and hash(received) == hash(("python", "code"))
    assert copy.deepcopy(Name.parse("python.code")) == Name.parse("python.code")
