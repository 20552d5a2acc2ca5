import json
from pathlib import Path

import pytest

from beatlm.dataset_builders.synth import corpus, render
from beatlm.utils.errors import BeatLMError


def _files(folder: Path):
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def test_layout_manifests_and_sidecars(tiny_corpus, tiny):
    from audiocraft.data.audio_dataset import load_audio_meta
    for split in corpus.SPLITS:
        meta = load_audio_meta(tiny_corpus / "egs" / split / "data.jsonl.gz")
        assert meta and all(m.sample_rate == 32000 and abs(m.duration - 4.0) < 1e-3 for m in meta)
        for m in meta:
            info = json.loads(Path(m.path).with_suffix(".json").read_text())
            assert info["name"] == Path(m.path).stem and corpus.clip_split(info["beatlm"]["index"]) == split
    assert sum(1 for _ in tiny_corpus.glob("audio/*/*.wav")) == tiny["num_clips"]


def test_music_dataset_reads_the_corpus(tiny_corpus):
    from beatlm import bends
    bends.apply()  # audiocraft's environment file, as `dora run` has it
    from audiocraft.data.music_dataset import MusicDataset
    dataset = MusicDataset.from_meta(tiny_corpus / "egs" / "train", segment_duration=2.0, num_samples=2,
                                     sample_rate=32000, channels=1, shuffle=False)
    wav, info = dataset[0]
    assert wav.shape == (1, 64000) and info.bpm and info.key and info.description and info.genre


def test_resume_extend_and_determinism(tiny_corpus, tmp_path, tiny):
    # A second corpus with the same seed, rendered in two steps with 2 workers, has the same bytes.
    out = tmp_path / "beats"
    first = corpus.render_corpus(out, **dict(tiny, num_clips=3), workers=2, progress=False)
    assert first["rendered"] == 3
    second = corpus.render_corpus(out, **tiny, workers=2, progress=False)
    assert second["rendered"] == tiny["num_clips"] - 3
    assert corpus.render_corpus(out, **tiny, progress=False)["rendered"] == 0
    for index in range(tiny["num_clips"]):
        a, b = corpus.clip_paths(tiny_corpus, index)[0], corpus.clip_paths(out, index)[0]
        assert a.read_bytes() == b.read_bytes()


def test_interrupted_run_leaves_no_partial_file_and_resumes(tmp_path, monkeypatch, tiny):
    out = tmp_path / "beats"
    real = render.render_clip
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(corpus, "render_clip", flaky)
    with pytest.raises(KeyboardInterrupt):
        corpus.render_corpus(out, **tiny, progress=False)
    assert not list(out.rglob("*.tmp")) and not (out / "egs").exists()
    done = [i for i in range(tiny["num_clips"]) if corpus.is_done(out, i)]
    assert done == [0, 1]
    (out / "audio" / "train" / ".beat_000003.wav.abc.tmp").write_bytes(b"half a file")  # as after a kill -9
    monkeypatch.setattr(corpus, "render_clip", real)
    assert corpus.render_corpus(out, **tiny, progress=False)["rendered"] == tiny["num_clips"] - 2
    assert not list(out.rglob("*.tmp"))


def test_refuses_other_folders_and_other_parameters(tiny_corpus, tmp_path, tiny):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "thesis.txt").write_text("keep me")
    with pytest.raises(BeatLMError, match="not a BeatLM corpus"):
        corpus.render_corpus(busy, **tiny, progress=False)
    assert _files(busy) == [Path("thesis.txt")]
    before = _files(tiny_corpus)
    with pytest.raises(BeatLMError, match="seed=3 .now 4.*same options"):
        corpus.render_corpus(tiny_corpus, **dict(tiny, seed=4), progress=False)
    assert _files(tiny_corpus) == before


@pytest.mark.parametrize("kwargs, message", [
    ({"duration": -1.0}, "--duration"), ({"duration": 1e6}, "--duration"), ({"sample_rate": 10}, "--sample-rate"),
    ({"num_clips": 0}, "--num-clips"), ({"workers": 0}, "--workers"),
])
def test_bad_arguments(tmp_path, kwargs, message, tiny):
    with pytest.raises(BeatLMError, match=message):
        corpus.render_corpus(tmp_path / "x", **dict(tiny, **kwargs), progress=False)
    assert not (tmp_path / "x").exists()


def test_missing_soundfont_and_samples(tmp_path, tiny):
    with pytest.raises(BeatLMError, match="soundfont .* not found; pass --soundfont"):
        corpus.render_corpus(tmp_path / "x", **tiny, soundfont=tmp_path / "none.sf2", progress=False)
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"not a soundfont")
    with pytest.raises(BeatLMError, match="not a SoundFont"):
        corpus.render_corpus(tmp_path / "x", **tiny, soundfont=fake, progress=False)
    with pytest.raises(BeatLMError, match="sample folder .* not found"):
        corpus.render_corpus(tmp_path / "x", **tiny, samples=tmp_path / "nope", progress=False)
    (tmp_path / "few").mkdir()
    with pytest.raises(BeatLMError, match="lacks"):
        corpus.render_corpus(tmp_path / "x", **tiny, samples=tmp_path / "few", progress=False)
    assert not (tmp_path / "x").exists()


def test_dset_yaml(tiny_corpus, tmp_path):
    import yaml
    target = corpus.write_dset(tiny_corpus, 32000, tmp_path, "tiny")
    assert target == tmp_path / "dset" / "beats" / "tiny.yaml"
    text = target.read_text()
    assert text.startswith("# @package __global__")
    source = yaml.safe_load(text)["datasource"]
    assert source["max_sample_rate"] == 32000 and source["max_channels"] == 1
    assert Path(source["train"]) == (tiny_corpus / "egs" / "train").resolve()
    assert source["evaluate"] == source["generate"] == str((tiny_corpus / "egs" / "test").resolve())
    assert corpus.write_dset(tiny_corpus, 32000, tmp_path, "tiny") == target  # same corpus: fine
    with pytest.raises(BeatLMError, match="--dset-name"):
        corpus.write_dset(tmp_path / "other", 32000, tmp_path, "tiny")
