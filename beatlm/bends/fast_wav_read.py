"""Bend: audiocraft reads WAV files through PyAV, which is slow for the short random reads of training.

`audiocraft.data.audio.audio_read` uses soundfile for FLAC/OGG but PyAV for everything else; for a
10 s window of a 32 kHz WAV, opening the container through PyAV costs 10-50 ms against about 1 ms for
soundfile, which made data loading the bottleneck of CPU training (MuLaN: 64 windows per batch). WAV
reads go through soundfile (same samples, exact seeking); other formats keep audiocraft's path.
"""

from pathlib import Path
import typing as tp

from audiocraft.data import audio as ac_audio
from audiocraft.data import audio_dataset as ac_audio_dataset
import soundfile
import torch
import torch.nn.functional as F

_original = ac_audio.audio_read


def audio_read(filepath: tp.Union[str, Path], seek_time: float = 0., duration: float = -1.,
               pad: bool = False) -> tp.Tuple[torch.Tensor, int]:
    """audiocraft's `audio_read`, with WAV files read by soundfile."""
    if Path(filepath).suffix.lower() != ".wav":
        return _original(filepath, seek_time, duration, pad)
    with soundfile.SoundFile(str(filepath)) as f:
        sr = f.samplerate
        f.seek(min(int(seek_time * sr), f.frames))
        frames = -1 if duration <= 0 else int(duration * sr)
        wav = torch.from_numpy(f.read(frames, dtype="float32", always_2d=True)).t().contiguous()
    if pad and duration > 0:
        wav = F.pad(wav, (0, int(duration * sr) - wav.shape[-1]))
    return wav, sr


def apply() -> None:
    """Install the reader where audiocraft's datasets look it up."""
    ac_audio.audio_read = audio_read
    ac_audio_dataset.audio_read = audio_read
