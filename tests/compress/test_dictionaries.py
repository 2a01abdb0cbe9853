"""Trained zone dictionaries: versions, manifests, corpus errors with file and line, the CLI, and the
authority serving the trained dictionary to peers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import zstandard
from typer.testing import CliRunner

from semdns.cli import app
from semdns.cli_compress import register
from semdns.compress.dictionaries import (
    DictionaryError,
    load,
    next_version,
    read_samples,
    save,
    train_zone_dictionary,
)
from semdns.protocol.ccp import DictionaryStore, compress_context, decompress_context, train_dictionary

SAMPLES = [
    f"Clause {i}. The lessee shall pay the rent of {100 + i} euros on the first day of each month, "
    f"subject to the terms and conditions herein; late payment incurs interest of {i % 7} percent."
    for i in range(200)
]


def test_train_save_load_and_versions(tmp_path: Path) -> None:
    assert next_version(tmp_path, "legal.") == 1
    first = train_zone_dictionary("legal.", SAMPLES, version=1, size=4096)
    saved = save(first, tmp_path, samples=len(SAMPLES), sources=["x"])
    assert saved.path.name == "legal.v1.zdict" and first.id.startswith("legal.:v1:")
    assert json.loads(saved.manifest.read_text())["id"] == first.id
    assert next_version(tmp_path, "legal.") == 2
    assert load(saved.path, "legal.") == first
    message = "The lessee shall pay the rent of 150 euros on the first day of each month."
    with_dict = zstandard.ZstdCompressor(dict_data=first.compression_dict()).compress(message.encode())
    plain = zstandard.ZstdCompressor().compress(message.encode())
    assert len(with_dict) < len(plain) / 1.5


def test_the_store_prefers_the_newest_trained_dictionary() -> None:
    builtin = train_dictionary("legal.", SAMPLES[:5])
    v1 = train_zone_dictionary("legal.", SAMPLES, version=1, size=2048)
    v2 = train_zone_dictionary("legal.", SAMPLES[::-1], version=2, size=4096)
    store = DictionaryStore([v2, builtin, v1])
    assert store.for_zone("legal.") == v2
    context = compress_context("The lessee shall pay.", dictionary=v1)
    assert decompress_context(context, store) == "The lessee shall pay."


def test_too_few_samples_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match="at least"):
        train_zone_dictionary("legal.", SAMPLES[:3], version=1)
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"text": "fine"}\n{not json\n', encoding="utf-8")
    with pytest.raises(DictionaryError, match=r"t\.jsonl:2: not JSON"):
        list(read_samples(bad))
    odd = tmp_path / "o.jsonl"
    odd.write_text('{"text": "fine"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(DictionaryError, match=r"o\.jsonl:2: expected an object"):
        list(read_samples(odd))
    with pytest.raises(DictionaryError, match="cannot read"):
        list(read_samples(tmp_path / "missing.txt"))
    junk = tmp_path / "legal.v1.zdict"
    junk.write_bytes(b"not a dictionary")
    with pytest.raises(DictionaryError, match="not a zstd dictionary"):
        load(junk, "legal.")
    with pytest.raises(DictionaryError, match="versioned"):
        load(tmp_path / "legal.zdict", "legal.")


def test_read_samples_from_text_and_recorded_requests(tmp_path: Path) -> None:
    text = tmp_path / "c.txt"
    text.write_text("first para\nline two\n\n\nsecond para\n", encoding="utf-8")
    assert list(read_samples(text)) == ["first para\nline two", "second para"]
    traffic = tmp_path / "r.jsonl"
    traffic.write_text(
        json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})
        + "\n"
        + json.dumps({"prompt": "c"})
        + "\n",
        encoding="utf-8",
    )
    assert list(read_samples(traffic)) == ["a", "b", "c"]


def test_cli_train_dict(tmp_path: Path) -> None:
    register(app)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": s}) + "\n" for s in SAMPLES), encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "dicts"
    first = runner.invoke(
        app, ["compress", "train-dict", "legal.", str(corpus), "--out", str(out), "--size", "4096"]
    )
    assert first.exit_code == 0, first.output
    assert "legal.:v1:" in first.output and "held-out" in first.output
    second = runner.invoke(app, ["compress", "train-dict", "legal", str(corpus), "--out", str(out)])
    assert second.exit_code == 0 and "legal.:v2:" in second.output
    bad = runner.invoke(
        app, ["compress", "train-dict", "legal.", str(tmp_path / "nope.txt"), "--out", str(out)]
    )
    assert bad.exit_code == 1 and "cannot read" in bad.output
    name = runner.invoke(app, ["compress", "train-dict", "..bad", str(corpus), "--out", str(out)])
    assert name.exit_code == 2 and "not a zone origin" in name.output


def test_cli_train_dict_with_the_word_model(tmp_path: Path) -> None:
    register(app)
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": s}) + "\n" for s in SAMPLES), encoding="utf-8")
    out = tmp_path / "dicts"
    result = CliRunner().invoke(
        app, ["compress", "train-dict", "legal.", str(corpus), "--out", str(out), "--words"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "legal.v1.zdict").exists() and (out / "legal.v1.words").exists()
    assert "ratio" in result.output and "with the word model" in result.output
    assert "words: legal.v1.words" in result.output
    words = load(out / "legal.v1.words", "legal.")
    assert words.kind == "words"
    sample = SAMPLES[3]
    assert decompress_context(compress_context(sample, dictionary=words), DictionaryStore([words])) == sample
