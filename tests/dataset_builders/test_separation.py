"""Vocal removal: safe local Demucs repos, bounded-memory streaming, sidecars, flagging, resumable runs."""

import json
from pathlib import Path
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf
import torch

from beatlm.dataset_builders import demucs_repo, separation
from beatlm.utils.errors import BeatLMError, UnsafeCheckpointError


def tiny_htdemucs(samplerate: int = 8000) -> torch.nn.Module:
    from demucs.htdemucs import HTDemucs
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return HTDemucs(sources=["vocals", "no_vocals"], audio_channels=1, samplerate=samplerate, segment=1,
                        channels=8, depth=2, nfft=256, t_layers=0)


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory) -> Path:
    """A local Demucs repo holding an untrained tiny HTDemucs named `tiny`."""
    repo = tmp_path_factory.mktemp("demucs_repo")
    demucs_repo.save_to_repo(tiny_htdemucs(), repo, "tiny", {"note": "untrained"})
    return repo


class HalfVocals(torch.nn.Module):
    """A stand-in Demucs: half of the mix is 'vocals'; records the longest input it was given."""

    def __init__(self, samplerate: int = 8000, audio_channels: int = 1):
        super().__init__()
        self.sources = ["vocals", "other"]
        self.samplerate = samplerate
        self.audio_channels = audio_channels
        self.segment = 1.0
        self.longest = 0
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        self.longest = max(self.longest, mix.shape[-1])
        return torch.stack([0.5 * mix, 0.5 * mix], dim=1)


def loud_is_speech(mono16k: torch.Tensor) -> torch.Tensor:
    """Stand-in for silero-vad: a window is 'speech' when its RMS is above 0.05."""
    windows = mono16k.reshape(-1, separation.VAD_WINDOW)
    return (windows.pow(2).mean(dim=1).sqrt() > 0.05).float()


def write_wav(path: Path, seconds: float, rate: int, channels: int = 1, amplitude: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wav = amplitude * np.sin(2 * np.pi * 220 * t)[:, None] + 0.01 * rng.standard_normal((t.size, channels))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, wav.astype(np.float32), rate)
    return wav


def test_repo_round_trip_loads_safely_and_with_demucs(tiny_repo):
    from demucs.pretrained import get_model
    ours = demucs_repo.load_from_repo("tiny", tiny_repo)
    theirs = get_model("tiny", repo=tiny_repo)  # the layout demucs itself reads
    assert ours.sources == ["vocals", "no_vocals"] and ours.samplerate == 8000
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        assert torch.equal(a, b)
    assert "tiny" in demucs_repo.repo_names(tiny_repo) and len(list(tiny_repo.glob("*.th"))) == 1


def test_repo_refuses_damaged_unsafe_and_unknown(tiny_repo, tmp_path, evil_pickle):
    repo = tmp_path / "repo"
    shutil.copytree(tiny_repo, repo)
    weights = next(repo.glob("*.th"))
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BeatLMError, match="damaged"):
        demucs_repo.load_from_repo("tiny", repo)
    evil, marker = evil_pickle()
    shutil.copy(evil, repo / "evil.th")
    with pytest.raises(UnsafeCheckpointError):
        demucs_repo.load_from_repo("evil", repo)
    assert not marker.exists()
    with pytest.raises(BeatLMError, match="no Demucs model 'htdemucs'.*evil"):
        demucs_repo.load_from_repo("htdemucs", repo)
    with pytest.raises(BeatLMError, match="not a folder"):
        demucs_repo.load_from_repo("tiny", tmp_path / "nowhere")


def test_offline_without_repo_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BeatLMError, match="--repo DIR"):
        demucs_repo.load_demucs("htdemucs_not_cached_here", None)


def test_tiny_htdemucs_keeps_rate_channels_and_length(tiny_repo, tmp_path):
    src = tmp_path / "song.wav"
    wav = write_wav(src, 2.5, 16000, channels=2)
    separator = separation.Separator(demucs_repo.load_from_repo("tiny", tiny_repo), block_seconds=1.2,
                                     crossfade_seconds=0.3)
    result = separation.separate_file(src, tmp_path / "out.wav", separator, speech_fn=loud_is_speech)
    out, rate = sf.read(tmp_path / "out.wav", always_2d=True)
    assert rate == 16000 and out.shape == wav.shape and np.isfinite(out).all()
    assert result.seconds == pytest.approx(2.5) and len(result.timeline) == 3
    assert not list(tmp_path.glob(".*"))  # no temporary left


def test_streaming_is_bounded_and_seamless(tmp_path):
    """A 1-minute file through 4 s blocks: the model never sees more than a segment, the output is exact."""
    src = tmp_path / "long.wav"
    rate = 8000
    wav = write_wav(src, 60.0, rate)[:, 0]
    model = HalfVocals(rate)
    separator = separation.Separator(model, block_seconds=4.0, crossfade_seconds=1.0)
    blocks = []
    vocals = separator.vocals
    separator.vocals = lambda block, sr: (blocks.append(block.shape[-1]), vocals(block, sr))[1]
    separation.separate_file(src, tmp_path / "acc.wav", separator, speech_fn=loud_is_speech)
    out, _ = sf.read(tmp_path / "acc.wav")
    assert max(blocks) == 4 * rate and len(blocks) == 20  # memory is one block, whatever the file length
    assert model.longest == rate  # apply_model chunks a block into the model's 1 s segment
    assert out.shape == wav.shape
    np.testing.assert_allclose(out, 0.5 * wav, atol=2e-3)  # no seam at block boundaries


def test_speech_meter_timeline():
    meter = separation.SpeechMeter(16000, speech_fn=loud_is_speech)
    quiet, loud = torch.zeros(1, 16000), 0.5 * torch.ones(1, 16000)
    for piece in (quiet, loud[:, :7000], loud[:, 7000:], quiet):  # pieces not aligned to windows
        meter.feed(piece)
    ratio, timeline = meter.result()
    assert timeline[0] < 0.05 and timeline[1] > 0.9 and timeline[2] < 0.1
    assert ratio == pytest.approx(1 / 3, abs=0.03)
    assert separation.timeline_ratio([0.0, 1.0, 0.0], 0.5, 1.5) == pytest.approx(0.5)


def _raw_folder(root: Path) -> Path:
    raw = root / "raw"
    write_wav(raw / "loud.wav", 3.0, 8000, amplitude=0.4, seed=1)
    write_wav(raw / "sub" / "quiet.wav", 3.0, 8000, amplitude=0.02, seed=2)
    (raw / "loud.json").write_text(json.dumps({"source_id": "youtube abc", "title": "Loud"}))
    (raw / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    (raw / "notes.docx").write_bytes(b"not audio")
    return raw


def test_run_separation_flags_counts_and_resumes(tmp_path):
    raw = _raw_folder(tmp_path)
    out = tmp_path / "instrumental"
    made = []

    def make():
        made.append(1)
        return separation.Separator(HalfVocals(), block_seconds=2.0, crossfade_seconds=0.5)

    info = {"model": "half", "repo": "test", "stem": "vocals"}
    summary = separation.run_separation(raw, out, make, info, max_speech_ratio=0.1, progress=False,
                                        speech_fn=loud_is_speech)
    assert (summary.done, summary.skipped, len(summary.failed), len(summary.unsupported)) == (2, 0, 1, 1)
    assert summary.extra["flagged"] == 1 and "broken.wav" in summary.failed[0][0]
    loud = json.loads((out / "loud.json").read_text())
    assert loud["source_id"] == "youtube abc" and loud["title"] == "Loud"
    assert loud["beatlm"]["vocals"]["flagged"] and loud["beatlm"]["separation"]["model"] == "half"
    quiet = json.loads((out / "sub" / "quiet.json").read_text())
    assert not quiet["beatlm"]["vocals"]["flagged"] and quiet["beatlm"]["separation"]["input"] == "sub/quiet.wav"
    # A kill -9 mid-file leaves only hidden temporaries: the next run removes them and skips finished files.
    (out / ".loud.wav.abc123.tmp").write_bytes(b"partial")
    (out / "sub" / ".quiet.separated.tmp").write_bytes(b"partial")
    made.clear()
    again = separation.run_separation(raw, out, make, info, progress=False, speech_fn=loud_is_speech)
    assert (again.done, again.skipped, len(again.failed)) == (0, 2, 1) and not made
    assert not list(out.rglob(".*"))
    assert "2 skipped" in again.format() and "broken.wav" in again.format()


def test_separator_rejects_bad_settings():
    with pytest.raises(BeatLMError, match="no 'drums' stem"):
        separation.Separator(HalfVocals(), stem="drums")
    with pytest.raises(BeatLMError, match="block-seconds"):
        separation.Separator(HalfVocals(), block_seconds=1.0, crossfade_seconds=1.0)
    with pytest.raises(BeatLMError, match="segment"):
        separation.Separator(tiny_htdemucs(), segment=5.0)


@pytest.mark.slow
def test_silero_meter_hears_espeak_speech_not_clicks(tmp_path):
    """The default meter (silero-vad) finds speech in espeak-ng audio and none in a click track."""
    from beatlm.dataset_builders.vocal_mixes import TRAIN_VARIANTS, VocalPool
    pool = VocalPool(tmp_path / "phrases", 2, seed=3, variants=TRAIN_VARIANTS, sample_rate=22050)
    voice = torch.from_numpy(np.concatenate(pool.clips))[None] * 0.5
    clicks = torch.zeros(1, 3 * 22050)
    clicks[0, ::11025] = 0.9
    ratios = []
    for wav in (voice, clicks):
        meter = separation.SpeechMeter(22050)
        for piece in wav.split(22050, dim=-1):
            meter.feed(piece)
        ratios.append(meter.result()[0])
    assert ratios[0] > 0.3 and ratios[1] < 0.05, ratios


def test_disk_full_stops_cleanly_and_resumes(tmp_path, monkeypatch):
    raw = _raw_folder(tmp_path)
    out = tmp_path / "instrumental"

    def make():
        return separation.Separator(HalfVocals(), block_seconds=2.0, crossfade_seconds=0.5)

    real_write = separation.write_json_atomic

    def full_disk(path, data):
        if "quiet" in str(path):
            import errno
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data)

    monkeypatch.setattr(separation, "write_json_atomic", full_disk)
    with pytest.raises(BeatLMError, match="disk is full.*run the same command again"):
        separation.run_separation(raw, out, make, {}, progress=False, speech_fn=loud_is_speech)
    assert (out / "loud.wav").is_file() and not (out / "sub" / "quiet.wav").exists()
    monkeypatch.setattr(separation, "write_json_atomic", real_write)
    summary = separation.run_separation(raw, out, make, {}, progress=False, speech_fn=loud_is_speech)
    assert (summary.done, summary.skipped) == (1, 1) and not list(out.rglob(".*"))


def test_official_style_package_loads(tmp_path):
    """Packages as demucs's `serialize_model` writes them: Fraction segment, half weights, training args."""
    from fractions import Fraction
    model = tiny_htdemucs()
    args, kwargs = model._init_args_kwargs
    package = {"klass": type(model), "args": args, "kwargs": {**kwargs, "segment": Fraction(3, 2)},
               "state": {k: v.half() for k, v in model.state_dict().items()},
               "training_args": {"dset": {"segment": 1.5}, "optim": {"lr": 3e-4}}}
    torch.save(package, tmp_path / "955717e8.th")
    (tmp_path / "official.yaml").write_text("models: ['955717e8']\nsegment: 1.0\n")
    bag = demucs_repo.load_from_repo("official", tmp_path)
    assert bag.models[0].segment == 1.0 and bag.sources == ["vocals", "no_vocals"]


def test_compressed_media_is_decoded_with_ffmpeg(tmp_path):
    raw = tmp_path / "raw"
    write_wav(tmp_path / "song.wav", 2.0, 8000)
    raw.mkdir()
    import subprocess
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(tmp_path / "song.wav"), "-c:a", "aac",
                    str(raw / "song.m4a")], check=True)
    summary = separation.run_separation(raw, tmp_path / "out", lambda: separation.Separator(
        HalfVocals(), block_seconds=1.5, crossfade_seconds=0.25), {}, progress=False, speech_fn=loud_is_speech)
    assert summary.done == 1 and not summary.failed
    info = sf.info(tmp_path / "out" / "song.wav")
    assert info.samplerate == 8000 and abs(info.duration - 2.0) < 0.1
    assert not list((tmp_path / "out").rglob(".*"))  # the decoded copy is gone
