"""``semdns eval privacy``: scoring on a small hand-labelled set, the shipped corpus, malformed sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app
from semdns.errors import InvalidRequest
from semdns.privacy.evaluate import load_examples, scan_negatives, score

REPO = Path(__file__).resolve().parents[2]
_register()


def write(tmp_path: Path, rows: list[object]) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_scoring_counts_hits_misses_and_false_alarms(tmp_path: Path) -> None:
    text = "mail a@b.io, card 4111 1111 1111 1111, call me at 12 34"
    rows = [
        {
            "text": text,
            "spans": [{"kind": "email", "start": 5, "end": 11}, {"kind": "phone", "start": 50, "end": 55}],
        },
        {"text": "host 10.0.0.1", "spans": []},
        {"text": "Ann Lee wrote", "spans": [], "out_of_scope": [{"kind": "person", "start": 0, "end": 7}]},
    ]
    report = score(load_examples(write(tmp_path, rows)))
    by = report.to_json()["by_kind"]
    assert by["email"]["tp"] == 1
    assert by["phone"]["fn"] == 1  # "12 34" is too short to be a phone number: a miss
    assert by["card"]["fp"] == 1 and by["ip"]["fp"] == 1  # unlabelled findings
    assert report.out_of_scope["person"] == 1
    assert report.overall.precision == pytest.approx(1 / 3)
    assert report.overall.recall == pytest.approx(1 / 2)


def test_exact_matching_needs_the_same_bounds(tmp_path: Path) -> None:
    rows = [{"text": "x a@b.io y", "spans": [{"kind": "email", "start": 1, "end": 8}]}]
    examples = load_examples(write(tmp_path, rows))
    assert score(examples, match="overlap").overall.tp == 1
    assert score(examples, match="exact").overall.tp == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", ":1:"),
        ('{"spans": []}', "'text'"),
        ('{"text": 5}', "text must be a string"),
        ('{"text": "abc", "spans": [{"kind": "email", "start": 2, "end": 9}]}', "not inside the text"),
        ('{"text": "abc", "spans": [{"kind": "name", "start": 0, "end": 1}]}', "unknown kind 'name'"),
        ('{"text": "abc", "spans": ["x"]}', "a span must be an object"),
    ],
)
def test_malformed_sets_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(InvalidRequest) as info:
        load_examples(path)
    assert message in str(info.value) and str(path) in str(info.value)


def test_empty_and_missing_sets(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(InvalidRequest, match="empty"):
        load_examples(tmp_path / "empty.jsonl")
    with pytest.raises(InvalidRequest, match="cannot read"):
        load_examples(tmp_path / "missing.jsonl")


def test_negatives(tmp_path: Path) -> None:
    path = write(tmp_path, [{"query": "what is 2+2?"}, {"text": "write to a@b.io"}])
    flagged = scan_negatives([path])
    assert flagged.to_json() == {
        "prompts": 2,
        "flagged_prompts": 1,
        "flagged_per_1000": 500.0,
        "by_kind": {"email": 1},
    }
    bad = write(tmp_path, [{"other": 1}])
    with pytest.raises(InvalidRequest, match='no "query" or "text"'):
        scan_negatives([bad])


def test_the_command_on_the_shipped_corpus() -> None:
    result = CliRunner().invoke(
        app, ["eval", "privacy", "--data", str(REPO / "corpora/pii/eval.jsonl"), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["sentences"] == 2100
    assert set(out["by_kind"]) == {"card", "email", "iban", "ip", "national_id", "phone"}
    assert out["overall"]["tp"] + out["overall"]["fn"] == 480
    assert out["out_of_scope"] == {"person": 1230}


def test_the_command_refuses_a_bad_set(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("[1]\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["eval", "privacy", "--data", str(path)])
    assert result.exit_code == 2 and "bad.jsonl:1" in result.output
