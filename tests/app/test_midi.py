"""MIDI export through basic-pitch's ONNX model (shipped in its wheel: offline)."""

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from beatlm.app.midi import audio_to_midi
from beatlm.utils.errors import BeatLMError

NOTES = (57, 60, 64)  # A3, C4, E4: one second each


def render(path, sample_rate=22050):
    """Three notes with a few harmonics and a decay, like a plucked keyboard."""
    t = np.arange(sample_rate) / sample_rate
    envelope = np.exp(-2.5 * t)
    clips = []
    for pitch in NOTES:
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        clips.append(envelope * sum(0.4 / k * np.sin(2 * np.pi * k * f0 * t) for k in (1, 2, 3)))
    sf.write(path, np.concatenate(clips).astype(np.float32), sample_rate)
    return path


def test_a_rendered_clip_becomes_a_midi_file_with_its_notes(tmp_path):
    out = audio_to_midi(render(tmp_path / "clip.wav"), tmp_path / "clip.mid", tempo=90)
    midi = pretty_midi.PrettyMIDI(str(out))
    notes = sorted((n for inst in midi.instruments for n in inst.notes), key=lambda n: n.start)
    assert notes, "basic-pitch found no note"
    for i, pitch in enumerate(NOTES):  # the longest note starting with each second is the one played
        onsets = [n for n in notes if abs(n.start - i) < 0.1]
        assert max(onsets, key=lambda n: n.end - n.start).pitch == pitch
    assert midi.get_tempo_changes()[1][0] == pytest.approx(90, abs=0.01)  # MIDI stores microseconds per beat


def test_audio_basic_pitch_cannot_read_is_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    with pytest.raises(BeatLMError, match="MIDI export failed"):
        audio_to_midi(bad, tmp_path / "bad.mid")
    assert not (tmp_path / "bad.mid").exists()
