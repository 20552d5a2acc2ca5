"""MuLaN's in-memory log-mel windows: the same frames as the front-end on the audio, windows, padding, skips."""

import json

import pytest
import torch

from beatlm.data.clips import manifest_entries, read_clip
from beatlm.data.mel_windows import MelWindow, MelWindowDataset
from beatlm.modules.mulan_frontend import LogMelFrontend
from beatlm.utils.errors import BeatLMError


@pytest.fixture(scope="module")
def frontend():
    return LogMelFrontend(sample_rate=32000, n_mels=64, n_fft=2048, win_length=1280, hop_length=640)


def test_frames_are_the_front_end_of_the_clip(beat_corpus, frontend):
    dataset = MelWindowDataset([beat_corpus / "egs" / "train"], frontend, segment_duration=4.0, shuffle=False,
                               progress=False)
    assert len(dataset) == 6 and dataset.window_frames == 200
    frames, info = dataset[0]
    assert isinstance(info, MelWindow) and info.description
    assert info.description == json.loads(open(info.path.replace(".wav", ".json")).read())["description"]
    wav, sr = read_clip(info.path)
    expected = frontend(wav.mean(dim=0, keepdim=True))[0]
    assert frames.shape == (200, 64)
    start = next(i for i in range(expected.shape[0] - 199)
                 if torch.allclose(frames, expected[i:i + 200], atol=2e-2))  # float16 storage
    assert info.rms == pytest.approx(float(wav[:, start * 640:(start + 200) * 640].pow(2).mean().sqrt()), rel=0.05)
    again, _ = dataset[0]
    assert torch.equal(frames, again)  # shuffle=False: the same window every time


def test_worker_processes_build_the_same_frames_in_manifest_order(beat_corpus, frontend):
    manifests = [beat_corpus / "egs" / "train"]
    alone = MelWindowDataset(manifests, frontend, segment_duration=2.0, batch_size=4, progress=False)
    workers = MelWindowDataset(manifests, frontend, segment_duration=2.0, batch_size=4, num_workers=2, progress=False)
    assert alone.paths == workers.paths == [str(e.path) for e in manifest_entries(manifests)]
    assert torch.equal(alone.offsets, workers.offsets) and alone.frames.dtype == torch.float16
    assert torch.allclose(alone.frames.float(), workers.frames.float(), atol=2e-2)  # one thread or two: float rounding
    assert torch.allclose(alone.energy, workers.energy)


def test_random_windows_and_padding_of_short_clips(beat_corpus, frontend):
    dataset = MelWindowDataset([beat_corpus / "egs" / "train"], frontend, segment_duration=1.0, num_samples=50,
                               progress=False)
    assert len(dataset) == 50
    windows = {tuple(dataset[i][0][:, 0].tolist()[:5]) for i in range(20)}
    assert len(windows) > 10  # windows start anywhere in any clip
    long = MelWindowDataset([beat_corpus / "egs" / "train"], frontend, segment_duration=6.0, shuffle=False,
                            progress=False)
    frames, info = long[0]
    assert frames.shape == (300, 64)  # 4 s clips padded to 6 s windows with their quietest level
    assert torch.all(frames[-50:] == frames[-1]) and float(frames[-1, 0]) == pytest.approx(float(frames.min()))
    batch, infos = MelWindowDataset.collate([long[0], long[1]])
    assert batch.shape == (2, 300, 64) and len(infos) == 2


def test_unreadable_clips_are_skipped_with_a_warning(beat_corpus, frontend, tmp_path, caplog):
    import gzip
    lines = gzip.open(beat_corpus / "egs" / "train" / "data.jsonl.gz", "rt").read().splitlines()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    entry = json.loads(lines[0])
    entry["path"] = str(broken)
    (tmp_path / "egs").mkdir()
    (tmp_path / "egs" / "data.jsonl").write_text("\n".join([json.dumps(entry)] + lines[1:]) + "\n")
    dataset = MelWindowDataset([tmp_path / "egs"], frontend, segment_duration=2.0, progress=False)
    assert len(dataset.paths) == 5
    assert "skipped 1 clips" in caplog.text
    (tmp_path / "egs" / "data.jsonl").write_text(json.dumps(entry) + "\n")
    with pytest.raises(BeatLMError, match="no clip of"):
        MelWindowDataset([tmp_path / "egs"], frontend, segment_duration=2.0, progress=False)
