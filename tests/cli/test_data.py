"""`beatlm data`: the seven steps on the command line; captions, fetch and build through their parsers."""

import argparse
import json

import pytest
import soundfile as sf

from beatlm.cli import data
from beatlm.dataset_builders.loops import render_loop
from beatlm.dataset_builders.records import read_jsonl
from beatlm.utils.errors import BeatLMError

SECRET = "sk-cli-SECRET-0987654321"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="beatlm")
    data.add_parser(parser.add_subparsers(dest="command"))
    return parser


def _run(argv):
    args = _parser().parse_args(["data", *argv])
    return args.run(args)


def test_data_lists_the_seven_steps(capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(["data", "--help"])
    out = capsys.readouterr().out
    for step in data.STEPS:
        assert f"    {step} " in out
    assert [m.__name__.rsplit(".", 1)[1] for m in data.step_modules()] == list(data.STEPS)


def test_captions_template_backend(tmp_path, capsys):
    out = tmp_path / "captions.jsonl"
    assert _run(["captions", "--n", "2", "--out", str(out), "--backend", "template", "--quiet"]) == 0
    records, _ = read_jsonl(out)
    fields = {"description", "style", "bpm", "key", "moods", "instruments", "query"}
    assert len(records) == 2 and fields <= set(records[0])
    assert "captions: 2 done" in capsys.readouterr().out


def test_captions_openai_backend_from_the_environment(tmp_path, capsys, fake_chat, monkeypatch):
    out = tmp_path / "captions.jsonl"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BeatLMError, match="OPENAI_API_KEY is not set.*--backend template"):
        _run(["captions", "--n", "2", "--out", str(out), "--model", "m"])
    with pytest.raises(BeatLMError, match="--model is required"):
        _run(["captions", "--n", "2", "--out", str(out)])
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_chat.url)
    fake_chat.script = ["429"]
    assert _run(["captions", "--n", "4", "--out", str(out), "--model", "m", "--backoff", "0.01"]) == 0
    captured = capsys.readouterr()
    assert "captions: 4 done" in captured.out and "retries 1" in captured.out
    assert SECRET not in captured.out + captured.err + out.read_text()


def test_fetch_urls(tmp_path, file_server, capsys):
    root, base = file_server
    sf.write(root / "beat.wav", render_loop(100, 1.5, 16000), 16000, subtype="PCM_16")
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{base}/beat.wav\n{base}/missing.wav\n")
    out = tmp_path / "raw"
    assert _run(["fetch", "--urls", str(urls), "--out", str(out), "--min-duration", "1", "--sleep", "0",
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "fetch: 1 done" in printed and "1 failed" in printed and "missing.wav" in printed
    assert json.loads((out / "Generic-beat.json").read_text())["source_url"] == f"{base}/beat.wav"
    with pytest.raises(BeatLMError, match="--urls"):
        _run(["fetch", "--out", str(out)])


def test_build_dry_run_covers_every_step(tmp_path, capsys):
    path = tmp_path / "pipeline.yaml"
    path.write_text("steps:\n"
                    "  captions: {n: 10, out: captions.jsonl, backend: template}\n"
                    "  fetch: {captions: captions.jsonl, out: raw, per_query: 2, max_downloads: 5}\n"
                    "  separate: {raw: raw, out: instrumental, model: htdemucs}\n"
                    "  segment: {dir: instrumental, out: clips, duration: 10}\n"
                    "  features: {dir: clips}\n"
                    "  manifest: {dir: clips, splits: [0.9, 0.05, 0.05]}\n")
    assert _run(["build", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "step 6/6: beatlm data manifest clips --splits 0.9,0.05,0.05" in out
    assert "beatlm data fetch captions.jsonl --out raw --per-query 2 --max-downloads 5" in out
    assert not (tmp_path / "captions.jsonl").exists()
    with pytest.raises(BeatLMError, match="unknown step 'build'"):
        path.write_text("steps:\n  build: {pipeline: x.yaml}\n")
        _run(["build", str(path)])


def test_captions_disk_full_stops_cleanly_and_resumes(tmp_path, monkeypatch):
    import errno

    from beatlm.dataset_builders import records
    out = tmp_path / "captions.jsonl"
    real_write, calls = records.JsonlWriter.write, []

    def full_after_two(self, record):
        calls.append(record)
        if len(calls) == 3:  # half a line reaches the disk, then it is full
            self._file.write(b'{"description": "half')
            self._file.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, record)
    monkeypatch.setattr(records.JsonlWriter, "write", full_after_two)
    with pytest.raises(BeatLMError, match="disk is full.*run the same command again"):
        _run(["captions", "--n", "4", "--out", str(out), "--backend", "template", "--quiet"])
    monkeypatch.setattr(records.JsonlWriter, "write", real_write)
    assert _run(["captions", "--n", "4", "--out", str(out), "--backend", "template", "--quiet"]) == 0
    got, broken = read_jsonl(out)
    assert broken == 0 and [r["source"]["index"] for r in got] == [0, 1, 2, 3]
