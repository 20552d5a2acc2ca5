"""build: a pipeline YAML parsed into step commands, run in order in its folder, idempotent when run again."""

import argparse

import pytest
import soundfile as sf

from beatlm.cli.data import captions as captions_cli
from beatlm.cli.data import fetch as fetch_cli
from beatlm.dataset_builders import pipeline
from beatlm.dataset_builders.loops import render_loop
from beatlm.dataset_builders.records import read_jsonl
from beatlm.utils.errors import BeatLMError


def _parser_with(record: list):
    """A `beatlm data`-like parser: the real captions and fetch steps, and a `manifest` that records its call."""
    def make() -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog="beatlm data")
        steps = parser.add_subparsers(dest="step", required=True)
        captions_cli.add_parser(steps)
        fetch_cli.add_parser(steps)
        manifest = steps.add_parser("manifest")
        manifest.add_argument("dir")
        manifest.add_argument("--splits", default="0.9,0.05,0.05")
        manifest.add_argument("--include-flagged", action="store_true")
        manifest.add_argument("--fail", action="store_true")

        def run(args):
            from pathlib import Path
            record.append((Path.cwd(), args.dir, args.splits, args.include_flagged))
            if args.fail:
                raise BeatLMError("no clips")
            return 0
        manifest.set_defaults(run=run)
        return parser
    return make


def test_load_forms_and_errors(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("workdir: work\nsteps:\n  - captions: {n: 3}\n  - manifest:\n")
    workdir, steps = pipeline.load_pipeline(path)
    assert workdir == (tmp_path / "work").resolve() and steps == [("captions", {"n": 3}), ("manifest", {})]
    for text, message in (("steps: 3\n", "must map"), ("stepz: {}\n", "steps"), ("steps: {}\nextra: 1\n", "extra"),
                          ("steps: {captions: 3}\n", "must be a mapping"), ("steps: [\n", "cannot read")):
        path.write_text(text)
        with pytest.raises(BeatLMError, match=message):
            pipeline.load_pipeline(path)
    with pytest.raises(BeatLMError, match="does not exist"):
        pipeline.load_pipeline(tmp_path / "missing.yaml")


def test_step_argv_maps_options_to_the_command_line():
    parser = pipeline.step_parsers(_parser_with([])())["fetch"]
    argv = pipeline.step_argv("fetch", {"captions": "c.jsonl", "out": "raw", "per-query": 2, "max_downloads": None,
                                        "quiet": True, "no_network_check": False}, parser)
    assert argv == ["c.jsonl", "--out", "raw", "--per-query", "2", "--quiet"]
    manifest = pipeline.step_parsers(_parser_with([])())["manifest"]
    assert pipeline.step_argv("manifest", {"dir": "clips", "splits": [0.8, 0.1, 0.1]}, manifest) == [
        "clips", "--splits", "0.8,0.1,0.1"]
    with pytest.raises(BeatLMError, match="unknown option.*per_querry.*valid: captions"):
        pipeline.step_argv("fetch", {"per_querry": 2}, parser)


def test_build_runs_steps_in_order_in_its_folder_and_resumes(tmp_path, file_server, capsys):
    root, base = file_server
    sf.write(root / "beat.wav", render_loop(90, 1.5, 16000), 16000, subtype="PCM_16")
    (tmp_path / "urls.txt").write_text(f"{base}/beat.wav\n")
    path = tmp_path / "pipeline.yaml"
    path.write_text("workdir: data\nsteps:\n"
                    "  captions: {n: 3, out: captions.jsonl, backend: template, quiet: true}\n"
                    "  fetch: {urls: ../urls.txt, out: raw, min_duration: 1, sleep: 0, quiet: true}\n"
                    "  manifest: {dir: raw, splits: [0.8, 0.1, 0.1], include_flagged: true}\n")
    calls: list = []
    timings = pipeline.run_pipeline(path, _parser_with(calls))
    work = (tmp_path / "data").resolve()
    assert [name for name, _ in timings] == ["captions", "fetch", "manifest"]
    assert len(read_jsonl(work / "captions.jsonl")[0]) == 3 and (work / "raw" / "Generic-beat.json").exists()
    assert calls == [(work, "raw", "0.8,0.1,0.1", True)]
    out = capsys.readouterr().out
    assert "captions: 3 done" in out and "fetch: 1 done" in out and "step 2/3: beatlm data fetch" in out

    pipeline.run_pipeline(path, _parser_with(calls))  # again: every step skips its finished work
    out = capsys.readouterr().out
    assert "captions: 0 done, 3 skipped" in out and "fetch: 0 done, 1 skipped" in out
    assert len(read_jsonl(work / "captions.jsonl")[0]) == 3

    pipeline.run_pipeline(path, _parser_with(calls), only=["manifest"], dry_run=True)
    assert "beatlm data manifest raw --splits 0.8,0.1,0.1 --include-flagged" in capsys.readouterr().out
    assert len(calls) == 2


def test_build_names_the_failing_step_and_stops(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("steps:\n  manifest: {dir: clips, fail: true}\n"
                    "  captions: {n: 2, out: c.jsonl, backend: template}\n")
    with pytest.raises(BeatLMError, match="step manifest: no clips"):
        pipeline.run_pipeline(path, _parser_with([]))
    assert not (tmp_path / "c.jsonl").exists()
    path.write_text("steps:\n  captions: {out: c.jsonl}\n")
    with pytest.raises(BeatLMError, match="step captions: .*--n"):
        pipeline.run_pipeline(path, _parser_with([]))
    path.write_text("steps:\n  separate: {raw: raw}\n")
    with pytest.raises(BeatLMError, match="unknown step 'separate'"):
        pipeline.run_pipeline(path, _parser_with([]))
    path.write_text("steps:\n  manifest: {dir: clips}\n")
    with pytest.raises(BeatLMError, match="unknown step 'segment'"):
        pipeline.run_pipeline(path, _parser_with([]), start="segment")
