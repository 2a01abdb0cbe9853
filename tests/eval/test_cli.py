"""``semdns eval routing`` and ``semdns eval ablate`` end to end, on the small test zone."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from semdns.cli import _register, app

DATA = Path(__file__).parent.parent / "data"
SMALL_ZONE = str(DATA / "zones" / "small.yaml")
SMALL_SET = str(DATA / "eval" / "small.jsonl")
_register()
runner = CliRunner()


def routing(*extra: str) -> dict[str, object]:
    result = runner.invoke(
        app, ["eval", "routing", "--zone", SMALL_ZONE, "--data", SMALL_SET, "--json", *extra]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, "--json prints exactly one JSON object"
    parsed: dict[str, object] = json.loads(lines[0])
    return parsed


def test_routing_json_has_every_metric_with_intervals() -> None:
    out = routing()
    for key in ("n", "exact", "primary", "safe", "wrong", "abstain", "ci95", "per_name", "sibling_confusion"):
        assert key in out, key
    assert out["n"] == 8 and out["router"] == "semdns"
    ci95 = out["ci95"]
    assert isinstance(ci95, dict)
    for rate in ("exact", "primary", "safe", "wrong", "abstain", "ece"):
        lo, hi = ci95[rate]
        assert 0.0 <= lo <= hi <= 1.0
    assert out["exact"] >= 0.75, "the resolver gets the easy small-zone queries right"  # type: ignore[operator]
    calibration = out["calibration"]
    assert isinstance(calibration, dict) and len(calibration["bins"]) == 10
    latency = out["latency_by_stage"]
    assert isinstance(latency, dict) and latency["all"]["count"] == 8
    assert set(latency) - {"all"} <= {"keyword", "embedding", "classifier", "abstain", "leaf"}


def test_routing_is_reproducible_and_limit_applies() -> None:
    first, second = routing("--limit", "4", "--seed", "7"), routing("--limit", "4", "--seed", "7")
    assert first["n"] == 4
    assert first["ci95"] == second["ci95"] and first["exact"] == second["exact"]


def test_baseline_routers() -> None:
    for router in ("flat", "random", "round-robin", "semantic-router"):
        out = routing("--router", router)
        assert out["router"] == router and out["n"] == 8
    # random and round-robin pick leaves only, so they never abstain
    assert routing("--router", "round-robin")["abstain"] == 0.0


def test_semantic_router_without_the_library_says_so() -> None:
    from semdns.eval import sr_library

    result = runner.invoke(
        app, ["eval", "routing", "--zone", SMALL_ZONE, "--data", SMALL_SET, "--router", "semantic-router"]
    )
    assert result.exit_code == 0, result.output
    if not sr_library.available():
        assert "semantic-router is not installed" in result.stderr and "in-process" in result.stderr


def test_routing_table_and_html_report(tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = runner.invoke(
        app, ["eval", "routing", "--zone", SMALL_ZONE, "--data", SMALL_SET, "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    for heading in ("exact", "abstain", "ECE", "By deciding stage", "Per name", "Sibling confusion"):
        assert heading in result.stdout
    page = (report / "index.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3
    assert "http://" not in page and "https://" not in page and "<script" not in page
    for png in ("confusion.png", "reliability.png", "precision_recall.png"):
        assert (report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((report / "report.json").read_text())["n"] == 8
    assert len((report / "queries.jsonl").read_text().splitlines()) == 8


def test_ablate_json_has_variants_and_paired_differences() -> None:
    result = runner.invoke(app, ["eval", "ablate", "--zone", SMALL_ZONE, "--data", SMALL_SET, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n"] == 8 and out["baseline"] == "full"
    expected = {"full", "no-keyword", "no-embedding", "no-classifier", "flat", "semantic-router", "random"}
    assert expected | {"round-robin"} <= set(out["variants"])
    assert "full" not in out["paired"] and set(out["paired"]) == set(out["variants"]) - {"full"}
    for diffs in out["paired"].values():
        for rate in ("exact", "primary", "wrong"):
            lo, hi = diffs[rate]["ci95"]
            assert lo <= diffs[rate]["diff"] <= hi
    full, rnd = out["variants"]["full"], out["variants"]["random"]
    assert out["paired"]["random"]["exact"]["diff"] == round(rnd["exact"] - full["exact"], 4)


def test_ablate_table() -> None:
    result = runner.invoke(app, ["eval", "ablate", "--zone", SMALL_ZONE, "--data", SMALL_SET, "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "Ablation" in result.stdout and "no-keyword" in result.stdout and "Δexact" in result.stdout


def test_routing_resamples_a_group_whole(tmp_path: Path) -> None:
    """The small set with every query written three times: as three independent queries the interval of
    the calibration error narrows; with each query's copies in one ``group`` it is the distinct queries'
    (every rate of this set is 1 or 0, so the ECE is the interval with a width to compare)."""
    rows = [json.loads(line) for line in Path(SMALL_SET).read_text(encoding="utf-8").splitlines() if line]
    copies, grouped = tmp_path / "copies.jsonl", tmp_path / "grouped.jsonl"
    copies.write_text(
        "".join(json.dumps({**r, "query": f"{r['query']}{' ' * k}"}) + "\n" for r in rows for k in range(3)),
        encoding="utf-8",
    )
    grouped.write_text(
        "".join(
            json.dumps({**r, "query": f"{r['query']}{' ' * k}", "group": f"q{i}"}) + "\n"
            for i, r in enumerate(rows)
            for k in range(3)
        ),
        encoding="utf-8",
    )

    def ece_ci(path: Path) -> list[float]:
        result = runner.invoke(app, ["eval", "routing", "--zone", SMALL_ZONE, "--data", str(path), "--json"])
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert out["n"] == 3 * len(rows)
        ci: list[float] = out["ci95"]["ece"]
        return ci

    distinct = routing()["ci95"]
    assert isinstance(distinct, dict)
    assert ece_ci(grouped) == distinct["ece"]
    narrow = ece_ci(copies)
    assert narrow[1] - narrow[0] < distinct["ece"][1] - distinct["ece"][0]
