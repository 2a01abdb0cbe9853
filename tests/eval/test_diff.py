"""``semdns eval diff``: the queries whose answer a policy change changes, and bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semdns.cli import _register, app
from semdns.eval.dataset import EvalItem
from semdns.eval.diff import compare, parse_settings
from semdns.eval.metrics import Scored, score
from semdns.eval.routers import RoutedQuery
from semdns.names import Name

DATA = Path(__file__).parent.parent / "data"
SMALL_ZONE = str(DATA / "zones" / "small.yaml")
SMALL_SET = str(DATA / "eval" / "small.jsonl")
_register()
runner = CliRunner()


def scored(query: str, expected: str, got: str, stage: str = "classifier") -> Scored:
    item = EvalItem(query, Name.parse(expected), (), "test", 1)
    return score(item, RoutedQuery((Name.parse(got),), 0.9, stage, 10.0))


def test_compare_marks_each_change_and_groups_them_by_pair() -> None:
    before = [
        scored("q1", "a.", "b."),  # wrong, then right: fixed
        scored("q2", "a.", "a."),  # right, then wrong: broken
        scored("q3", "a.", "b."),  # wrong, then wrong elsewhere: still wrong
        scored("q4", "a.", "a."),  # unchanged
        scored("q5", "a.", "b."),  # fixed, the same pair as q1
    ]
    after = [
        scored("q1", "a.", "a.", "shallow"),
        scored("q2", "a.", "c."),
        scored("q3", "a.", "c."),
        scored("q4", "a.", "a."),
        scored("q5", "a.", "a."),
    ]
    diff = compare(before, after, examples=1)
    assert [c.verdict for c in diff.changes] == ["fixed", "broken", "still wrong", "fixed"]
    assert diff.changes[0].before_stage == "classifier" and diff.changes[0].after_stage == "shallow"
    assert (diff.count("fixed"), diff.count("broken"), diff.count("still wrong")) == (2, 1, 1)
    first = diff.pairs[0]
    assert (str(first.before), str(first.after)) == ("b.", "a.")
    assert (first.count, first.fixed, first.broken) == (2, 2, 0)
    assert first.examples == ("q1",), "--examples caps the examples kept per pair"
    assert diff.exact_before == pytest.approx(0.4) and diff.exact_after == pytest.approx(0.6)
    delta, lo, hi = diff.difference
    assert delta == pytest.approx(0.2) and lo <= delta <= hi
    out = diff.to_json()
    assert out["changed"] == 4 == out["fixed"] + out["broken"] + out["still_wrong"] + out["still_right"]
    assert len(out["changes"]) == 4 and out["pairs"][0]["count"] == 2


def test_a_change_between_two_acceptable_answers_is_still_right() -> None:
    item = EvalItem("q", Name.parse("."), (Name.parse("legal."),), "test", 1)
    before = [score(item, RoutedQuery((Name.parse("legal."),), 0.9, "shallow", 1.0))]
    after = [score(item, RoutedQuery((Name.parse("."),), 0.9, "classifier", 1.0))]
    diff = compare(before, after)
    assert [c.verdict for c in diff.changes] == ["still right"]
    assert diff.to_json()["still_right"] == 1 and diff.to_json()["broken"] == 0


def test_compare_refuses_runs_of_different_queries() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        compare([scored("q", "a.", "a.")], [])
    with pytest.raises(ValueError, match="not of the same queries"):
        compare([scored("q", "a.", "a.")], [scored("other", "a.", "a.")])


def test_parse_settings_reads_yaml_values() -> None:
    assert parse_settings(["shallow_threshold=0.9", "stages=[lexical, classifier]", "x= true"]) == {
        "shallow_threshold": 0.9,
        "stages": ["lexical", "classifier"],
        "x": True,
    }
    assert parse_settings(["note=a=b"]) == {"note": "a=b"}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["shallow_threshold"], "expected KEY=VALUE"),
        (["=0.9"], "expected KEY=VALUE"),
        (["a=1", "a=2"], "given twice"),
        (["a=[unclosed"], "not a YAML scalar"),
    ],
)
def test_parse_settings_names_the_bad_one(pairs: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_settings(pairs)


def diff_cli(*extra: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["eval", "diff", "--zone", SMALL_ZONE, "--data", SMALL_SET, *extra])
    return result.exit_code, result.stdout, result.stderr


def test_cli_lists_what_a_policy_change_breaks() -> None:
    # Keywords alone at an unreachable threshold: every query stays at the root.
    code, out, _ = diff_cli("--set", "stages=[keyword]", "--set", "keyword_threshold=1.0", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["n"] == 8 and result["exact_before"] > result["exact_after"]
    assert result["broken"] == result["changed"] > 0 and result["fixed"] == 0
    assert all(change["after"] == "." for change in result["changes"])
    assert result["change"] == "stages=['keyword'], keyword_threshold=1.0"
    lo, hi = result["exact_difference_ci95"]
    assert lo <= result["exact_difference"] <= hi < 0


def test_cli_against_the_full_path_and_as_a_table() -> None:
    code, out, _ = diff_cli("--full-path", "--limit", "4")
    assert code == 0
    assert "no lexical or shallow stage: 4 queries" in out and "exact " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "nothing to compare"),
        (("--set", "no_such_field=1"), "no_such_field: Extra inputs are not permitted"),
        (("--set", "shallow_threshold=2"), "shallow_threshold: Input should be less than or equal to 1"),
        (("--set", "shallow_threshold=high"), "shallow_threshold"),
        (("--set", "shallow_threshold"), "expected KEY=VALUE"),
        (("--full-path", "--examples", "-1"), "--examples must not be negative"),
        (("--full-path", "--limit", "0"), "--limit must be at least 1"),
    ],
)
def test_cli_refuses_bad_input_with_a_message(args: tuple[str, ...], message: str) -> None:
    code, out, err = diff_cli(*args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_cli_names_a_malformed_data_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "fine", "expected": "."}\n{not json\n', encoding="utf-8")
    result = runner.invoke(app, ["eval", "diff", "--zone", SMALL_ZONE, "--data", str(bad), "--full-path"])
    assert result.exit_code == 2
    assert f"{bad}:2" in result.stderr and "Traceback" not in result.stderr


def test_compare_without_labels_only_says_what_changed() -> None:
    before = [scored("q1", ".", "b."), scored("q2", ".", "a.")]
    after = [scored("q1", ".", "a."), scored("q2", ".", "a.")]
    diff = compare(before, after, labelled=False)
    assert [c.verdict for c in diff.changes] == ["changed"]
    out = diff.to_json()
    assert out["labelled"] is False and out["changed"] == 1
    assert "exact_before" not in out and "fixed" not in out, "no rate without labels"
    assert "expected" not in out["changes"][0] and "fixed" not in out["pairs"][0]


def test_cli_on_unlabelled_prompts(tmp_path: Path) -> None:
    prompts = tmp_path / "traffic.txt"
    prompts.write_text("is catnip safe for kittens\n\nhow do I fix my bike chain\n", encoding="utf-8")
    args = ["eval", "diff", "--zone", SMALL_ZONE, "--prompts", str(prompts)]
    result = runner.invoke(
        app, [*args, "--set", "stages=[keyword]", "--set", "keyword_threshold=1.0", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n"] == 2 and out["labelled"] is False and out["prompts"] == [str(prompts)]
    assert out["changed"] == 2 and {c["after"] for c in out["changes"]} == {"."}
    table = runner.invoke(app, [*args, "--set", "stages=[keyword]", "--set", "keyword_threshold=1.0"])
    assert table.exit_code == 0 and "2 changed (unlabelled prompts" in table.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\xff\xfe not text", "not UTF-8 text"), (b"\n  \n", "no prompt in")],
    ids=["not-utf8", "empty"],
)
def test_cli_refuses_unreadable_prompt_files(tmp_path: Path, content: bytes, message: str) -> None:
    prompts = tmp_path / "traffic.txt"
    prompts.write_bytes(content)
    result = runner.invoke(
        app, ["eval", "diff", "--zone", SMALL_ZONE, "--prompts", str(prompts), "--full-path"]
    )
    assert result.exit_code == 2 and message in result.stderr and str(prompts) in result.stderr


def test_cli_wants_labelled_or_unlabelled_queries_not_both(tmp_path: Path) -> None:
    prompts = tmp_path / "traffic.txt"
    prompts.write_text("a prompt\n", encoding="utf-8")
    for args in ([], ["--data", SMALL_SET, "--prompts", str(prompts)]):
        result = runner.invoke(app, ["eval", "diff", "--zone", SMALL_ZONE, *args, "--full-path"])
        assert result.exit_code == 2 and "--data (labelled JSONL) or --prompts" in result.stderr
