"""Codec reconstruction quality on real audio: SI-SNR (dB) and log-mel L1 distance, with audiocraft's losses.

The default audio is the CC0 drum one-shots shipped in `beatlm/assets/drums_cc0` (real recordings the
codec was not trained on unless the user's corpus used them as samples).
"""

from pathlib import Path
import typing as tp

import torch

from ..assets import DRUMS_CC0_DIR
from ..utils.errors import BeatLMError

if tp.TYPE_CHECKING:
    from audiocraft.models.encodec import CompressionModel

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
DEFAULT_FOLDER = DRUMS_CC0_DIR
MIN_SECONDS = 0.25  # shorter files are padded with silence to this length (one-shots can be a few ms)


def audio_files(folder: tp.Union[str, Path], recursive: bool = False) -> tp.List[Path]:
    """The audio files of a folder (`recursive`: and of its sub-folders), sorted; BeatLMError when there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BeatLMError(f"codec audio folder {folder} does not exist")
    found = folder.rglob("*") if recursive else folder.iterdir()
    files = sorted(p for p in found if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise BeatLMError(f"codec audio folder {folder} holds no audio file ({', '.join(AUDIO_SUFFIXES)})")
    return files


_RESAMPLERS: tp.Dict[tp.Tuple[int, int], tp.Any] = {}


def read_audio(path: tp.Union[str, Path], sample_rate: int, channels: int = 1) -> torch.Tensor:
    """[C, T] at the codec's rate and channels, padded to MIN_SECONDS (one julius resampler per pair of rates,
    kept: building one costs more than resampling a one-shot).

    Raises:
        BeatLMError: the file cannot be read as audio.
    """
    from audiocraft.data.audio_utils import convert_audio_channels
    import julius

    from ..data.clips import read_clip
    wav, sr = read_clip(path)
    wav = convert_audio_channels(wav.float(), channels)
    if sr != sample_rate:
        if (sr, sample_rate) not in _RESAMPLERS:
            _RESAMPLERS[sr, sample_rate] = julius.ResampleFrac(sr, sample_rate)
        wav = _RESAMPLERS[sr, sample_rate](wav)
    minimum = int(MIN_SECONDS * sample_rate)
    if wav.shape[-1] < minimum:
        wav = torch.nn.functional.pad(wav, (0, minimum - wav.shape[-1]))
    return wav


@torch.no_grad()
def reconstruct(codec: "CompressionModel", wav: torch.Tensor) -> torch.Tensor:
    """Encode then decode audio [B, C, T] at the codec's rate; the output is cut to the input length."""
    codes, scale = codec.encode(wav)
    out = codec.decode(codes, scale)
    if out.shape[-1] < wav.shape[-1]:
        out = torch.nn.functional.pad(out, (0, wav.shape[-1] - out.shape[-1]))
    return out[..., :wav.shape[-1]]


@torch.no_grad()
def codec_metrics(codec: "CompressionModel", folder: tp.Union[str, Path]) -> tp.Dict[str, tp.Any]:
    """SI-SNR and mel distance of the codec's reconstruction of every audio file of `folder`.

    Args:
        codec: An audiocraft CompressionModel (Encodec), or anything with `encode`, `decode`,
            `sample_rate` and `channels`.
        folder: Folder of audio files (read at any rate, converted to the codec's).
    Returns:
        Mean SI-SNR (dB, higher is better) and mel distance (L1 between log-mel spectrograms, lower is
        better) over the files, per-file values, and the folder.
    """
    from audiocraft.losses import MelSpectrogramL1Loss

    from .reconstruction import si_snr_db
    rate, channels = int(codec.sample_rate), int(codec.channels)
    tensors = list(codec.parameters()) + list(codec.buffers()) if isinstance(codec, torch.nn.Module) else []
    device = tensors[0].device if tensors else torch.device("cpu")
    mel = MelSpectrogramL1Loss(sample_rate=rate, n_fft=1024, hop_length=256, win_length=1024, n_mels=64,
                               log=True)
    per_file: tp.List[tp.Dict[str, tp.Any]] = []
    for path in audio_files(folder):
        wav = read_audio(path, rate, channels)[None].to(device)
        out = reconstruct(codec, wav).float().cpu()
        wav = wav.cpu()
        per_file.append({"file": path.name, "si_snr_db": si_snr_db(wav, out, rate),
                         "mel_distance": float(mel(out, wav))})
    return {"folder": str(folder), "files": len(per_file), "sample_rate": rate,
            "si_snr_db": sum(f["si_snr_db"] for f in per_file) / len(per_file),
            "mel_distance": sum(f["mel_distance"] for f in per_file) / len(per_file), "per_file": per_file}
