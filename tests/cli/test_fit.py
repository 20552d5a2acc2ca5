"""`beatlm fit semantic-tokenizer` and `beatlm eval semantic-tokenizer` on a rendered beat corpus."""

import json

import pytest
import torch

from beatlm.cli.main import main
from beatlm.modules.semantic_tokenizer import SemanticTokenizer


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("beatlm: error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_fit_then_eval(beat_corpus, tmp_path, capsys):
    egs = beat_corpus / "egs"
    out = tmp_path / "tok.th"
    args = ["fit", "semantic-tokenizer", "--manifest", str(egs / "train"), "--manifest", str(egs / "valid"),
            "--source", "librosa", "--clusters", "8", "--max-frames", "300", "--seed", "0", "--out", str(out)]
    assert main(args) == 0
    assert "8 tokens at 25/s" in capsys.readouterr().out
    tok = SemanticTokenizer.load(out)
    assert tok.cardinality == 8 and tok.fit_info["frames"] == 300 and tok.fit_info["clips"] == 7
    again = tmp_path / "again.th"
    assert main([*args[:-1], str(again)]) == 0
    assert torch.equal(SemanticTokenizer.load(again).centroids, tok.centroids)  # deterministic
    report = tmp_path / "probe.json"
    assert main(["eval", "semantic-tokenizer", "--model", str(out), "--manifest", str(egs / "train"),
                 "--manifest", str(egs / "valid"), "--manifest", str(egs / "test"), "--json", str(report)]) == 0
    text = capsys.readouterr().out
    assert "clips: 8" in text and "style  accuracy" in text and "tempo  accuracy" in text
    metrics = json.loads(report.read_text())
    assert metrics["style"]["test"] + metrics["style"]["train"] == 8 and metrics["cardinality"] == 8


def test_scale_gives_the_clusters(beat_corpus, tmp_path, capsys):
    out = tmp_path / "tok.th"
    # micro asks for 256 clusters: 4 clips give 400 frames, enough
    assert main(["fit", "semantic-tokenizer", "--manifest", str(beat_corpus / "egs" / "train"), "--scale", "micro",
                 "--source", "librosa", "--max-clips", "4", "--out", str(out)]) == 0
    assert SemanticTokenizer.load(out).cardinality == 256


@pytest.mark.parametrize("extra,message", [
    (["--clusters", "8", "--source", "librosa", "--manifest", "/nowhere"], "does not exist"),
    (["--manifest", "EGS"], "--clusters N, or --scale"),
    (["--clusters", "1000", "--source", "librosa", "--manifest", "EGS", "--max-clips", "1"],
     "fewer than the 1000 clusters"),
    (["--clusters", "8", "--manifest", "EGS", "--source", "mulan"], "needs --mulan PATH"),
    (["--clusters", "8", "--manifest", "EGS"], "needs --mulan PATH"),  # the default source is mulan
    (["--clusters", "8", "--manifest", "EGS", "--source", "mulan", "--mulan", "/no/mulan.th"], "does not exist"),
    (["--clusters", "8", "--manifest", "EGS", "--source", "pretrained", "--encoder", "/no/dir"], "--encoder DIR"),
    (["--clusters", "8", "--manifest", "EGS", "--out", "EXISTING"], "already exists"),
])
def test_bad_input_is_one_line_and_exit_1(beat_corpus, tmp_path, capsys, extra, message):
    existing = tmp_path / "existing.th"
    existing.write_bytes(b"x")
    extra = [str(beat_corpus / "egs" / "train") if a == "EGS" else str(existing) if a == "EXISTING" else a
             for a in extra]
    out = [] if "--out" in extra else ["--out", str(tmp_path / "tok.th")]
    assert main(["fit", "semantic-tokenizer", *out, *extra]) == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "tok.th").exists()


def test_eval_refuses_a_wrong_file(beat_corpus, tmp_path, capsys):
    wrong = tmp_path / "wrong.th"
    torch.save({"state": torch.zeros(1)}, wrong)
    assert main(["eval", "semantic-tokenizer", "--model", str(wrong), "--manifest",
                 str(beat_corpus / "egs" / "test")]) == 2
    assert "not a semantic tokenizer" in _error_line(capsys)


def test_missing_argument_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["fit", "semantic-tokenizer", "--clusters", "8"])
    assert exc.value.code == 2
