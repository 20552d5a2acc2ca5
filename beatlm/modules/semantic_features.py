"""Frame features the semantic tokenizer clusters, on a fixed clock (MusicLM: 25 frames per second).

Every source maps audio [B, C, T] at any sample rate to features [B, frames, dim] with
`frames = floor(seconds * frame_rate)` (a 10 s clip gives 250 frames at 25 fps), and describes itself
with `settings()`: plain JSON values, enough to rebuild it and to sign the tokens it leads to.

- `LibrosaFeatures`: the plan's stack of log-mel, MFCC, chroma and onset strength.
- `MulanFrameFeatures`: MuLaN's audio tower per patch, before its pooling, averaged over frequency.
- `PretrainedEncoderFeatures`: hidden states of a HuBERT/MERT-style encoder from a local folder.
"""

import math
from pathlib import Path
import typing as tp

from audiocraft.data.audio_utils import convert_audio
import numpy as np
import omegaconf
import torch
import torch.nn.functional as F

from ..utils.errors import BeatLMError

if tp.TYPE_CHECKING:
    from ..models.mulan import MuLaNModel


def num_frames(samples: int, sample_rate: int, frame_rate: float) -> int:
    """Frames of a clip of `samples` samples: `floor(seconds * frame_rate)` (small float slack)."""
    return int(math.floor(samples * frame_rate / sample_rate + 1e-6))


def fit_frames(features: torch.Tensor, frames: int) -> torch.Tensor:
    """Trim or pad (repeating the last frame) features [B, n, dim] to exactly `frames` frames."""
    if features.shape[1] >= frames:
        return features[:, :frames]
    if features.shape[1] == 0:
        return features.new_zeros(features.shape[0], frames, features.shape[2])
    return F.pad(features.transpose(1, 2), (0, frames - features.shape[1]), mode="replicate").transpose(1, 2)


def interpolate_frames(features: torch.Tensor, times: torch.Tensor, frames: int, frame_rate: float) -> torch.Tensor:
    """Linear interpolation of features [B, n, dim] sampled at `times` [n] (seconds, increasing) onto frame centres.

    Frame k of the output is centred at `(k + 0.5) / frame_rate`; outside the source times the
    nearest source frame is repeated.
    """
    if features.shape[1] == 1:
        return features.expand(-1, frames, -1).contiguous()
    times = times.to(features.device, torch.float64)
    target = (torch.arange(frames, device=features.device, dtype=torch.float64) + 0.5) / frame_rate
    target = target.clamp(times[0], times[-1])
    right = torch.searchsorted(times, target).clamp(1, len(times) - 1)
    left = right - 1
    weight = ((target - times[left]) / (times[right] - times[left]).clamp(min=1e-9)).to(features.dtype)
    weight = weight[None, :, None]
    return features[:, left] * (1 - weight) + features[:, right] * weight


def _as_mono(wav: torch.Tensor, sample_rate: int, target_rate: int) -> torch.Tensor:
    """Audio [B, C, T] (or [C, T], [T]) at `sample_rate` -> mono float [B, T'] at `target_rate`."""
    if not isinstance(wav, torch.Tensor):
        raise BeatLMError(f"expected audio as a torch tensor, got {type(wav).__name__}")
    while wav.dim() < 3:
        wav = wav[None]
    if wav.dim() != 3 or wav.shape[-1] == 0:
        raise BeatLMError(f"expected audio [B, C, T] with T > 0, got shape {tuple(wav.shape)}")
    return convert_audio(wav.float(), sample_rate, target_rate, 1)[:, 0]


class FeatureSource:
    """Base of the feature sources: `__call__(wav [B, C, T], sample_rate) -> [B, frames, dim]`."""

    name: str = ""
    frame_rate: float
    dim: int
    location: tp.Optional[str] = None  # where a source's model was loaded from (not part of its settings)

    def settings(self) -> tp.Dict[str, tp.Any]:
        """JSON-serialisable settings: enough to rebuild the source (with `location`) and to sign its output."""
        raise NotImplementedError

    def features(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def __call__(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        frames = num_frames(wav.shape[-1], sample_rate, self.frame_rate)
        if frames < 1:
            raise BeatLMError(f"audio of {wav.shape[-1]} samples at {sample_rate} Hz is shorter than one frame "
                              f"at {self.frame_rate} frames per second")
        return fit_frames(self.features(wav, sample_rate).float(), frames)


class LibrosaFeatures(FeatureSource):
    """The plan's librosa stack per frame: log-mel (dB), MFCC, chroma and onset strength.

    Args:
        frame_rate: Frames per second (hop = sample_rate / frame_rate).
        sample_rate: Rate the audio is resampled to first.
        n_fft: FFT size (and window length).
        n_mels: Mel bands of the log-mel part.
        n_mfcc: MFCC coefficients.
        n_chroma: Chroma bins.
        onset: Append the onset strength (1 value per frame).
    """

    name = "librosa"

    def __init__(self, frame_rate: float = 25.0, sample_rate: int = 32000, n_fft: int = 2048, n_mels: int = 64,
                 n_mfcc: int = 20, n_chroma: int = 12, onset: bool = True):
        hop = sample_rate / frame_rate
        if hop != int(hop):
            raise BeatLMError(f"librosa features: sample_rate {sample_rate} is not a whole multiple of "
                              f"frame_rate {frame_rate}")
        self.frame_rate, self.sample_rate, self.hop = float(frame_rate), int(sample_rate), int(hop)
        self.n_fft, self.n_mels, self.n_mfcc, self.n_chroma, self.onset = n_fft, n_mels, n_mfcc, n_chroma, bool(onset)
        self.dim = n_mels + n_mfcc + n_chroma + int(self.onset)

    def settings(self) -> tp.Dict[str, tp.Any]:
        return {"source": self.name, "frame_rate": self.frame_rate, "sample_rate": self.sample_rate,
                "n_fft": self.n_fft, "n_mels": self.n_mels, "n_mfcc": self.n_mfcc, "n_chroma": self.n_chroma,
                "onset": self.onset}

    def features(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        import librosa
        y = _as_mono(wav, sample_rate, self.sample_rate).cpu().numpy()
        power = np.abs(librosa.stft(y, n_fft=self.n_fft, hop_length=self.hop)) ** 2  # [B, freqs, frames]
        mel = librosa.feature.melspectrogram(S=power, sr=self.sample_rate, n_mels=self.n_mels)
        mel_db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
        parts = [mel_db, librosa.feature.mfcc(S=mel_db, n_mfcc=self.n_mfcc),
                 librosa.feature.chroma_stft(S=power, sr=self.sample_rate, n_chroma=self.n_chroma)]
        if self.onset:
            parts.append(librosa.onset.onset_strength(S=mel_db, sr=self.sample_rate)[:, None])
        stacked = np.concatenate(parts, axis=1).astype(np.float32)  # [B, dim, frames]
        return torch.from_numpy(stacked).transpose(1, 2)


class MulanFrameFeatures(FeatureSource):
    """MuLaN audio-tower outputs per patch, before pooling: averaged over frequency patches, on the frame clock.

    The audio is cut into MuLaN's `window`-second windows (as it was trained); each window's
    transformer output [freq patches x time patches, dim] is averaged over frequency, placed at
    each time patch's centre and interpolated to `frame_rate`. One patch spans 16 log-mel frames
    (0.32 s at 50 frames per second); with `shifts` > 1 the tower also runs on the frames offset by
    fractions of a patch, so that the features vary `shifts` times faster.

    Args:
        model: A MuLaN, or where one is (export, folder, //sig/).
        frame_rate: Frames per second.
        layer: Transformer layer whose output is taken (-1: the last).
        shifts: Offsets per patch the tower runs at (cost grows with it).
    """

    name = "mulan"

    def __init__(self, model: tp.Union["MuLaNModel", str, Path, None], frame_rate: float = 25.0, layer: int = -1,
                 shifts: int = 1):
        if model is None or (isinstance(model, str) and model in ("", "???")):
            raise BeatLMError("the mulan feature source needs a MuLaN: pass --mulan PATH (an export of "
                              "`beatlm export mulan`, a folder or //sig/<SIG>)")
        if isinstance(model, (str, Path)):
            from ..models.loaders import load_mulan_model
            self.location = str(model)
            model = load_mulan_model(model)
        from ..utils.signature import state_signature
        self.model = model.eval()
        self.frame_rate, self.layer, self.shifts = float(frame_rate), int(layer), int(shifts)
        if not 1 <= self.shifts <= model.patch[1]:
            raise BeatLMError(f"mulan features: shifts must be between 1 and the patch width {model.patch[1]}")
        depth = len(model.mulan.audio.transformer.layers)
        if not -depth <= self.layer < depth:
            raise BeatLMError(f"mulan features: layer {self.layer} is out of range for a {depth}-layer audio tower")
        self.dim = int(model.mulan.audio.dim)
        self.model_signature = state_signature(model.mulan.audio)

    def settings(self) -> tp.Dict[str, tp.Any]:
        return {"source": self.name, "frame_rate": self.frame_rate, "layer": self.layer, "shifts": self.shifts,
                "model_signature": self.model_signature}

    def _patch_outputs(self, frames: torch.Tensor) -> torch.Tensor:
        """Transformer outputs [B, freq patches, time patches, dim] of log-mel frames [B, n, n_mels]."""
        audio = self.model.mulan.audio
        captured: tp.Dict[str, torch.Tensor] = {}

        def hook(module, args, output):
            last, hidden = output  # hidden: every layer's output but the last
            layer = self.layer % (len(hidden) + 1)
            captured["x"] = last if layer == len(hidden) else hidden[layer]

        handle = audio.transformer.register_forward_hook(hook)
        try:
            audio(frames)
        finally:
            handle.remove()
        ph, pw = audio.patch_size
        return captured["x"].view(frames.shape[0], frames.shape[2] // ph, frames.shape[1] // pw, -1)

    def features(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        model = self.model
        mono = _as_mono(wav.to(model.device), sample_rate, model.sample_rate)
        size, length = int(model.window * model.sample_rate), mono.shape[-1]
        width, fps = model.patch[1], model.frontend.frame_rate
        outputs, times = [], []
        for start in range(0, length, size):
            chunk = mono[:, start:start + size]
            if chunk.shape[-1] < width * model.frontend.hop_length:  # shorter than one patch: pad
                chunk = F.pad(chunk, (0, width * model.frontend.hop_length - chunk.shape[-1]))
            frames = model.frontend(chunk)
            for shift in range(self.shifts):
                offset = round(shift * width / self.shifts)
                keep = (frames.shape[1] - offset) // width * width
                if keep < width:
                    continue
                per_patch = self._patch_outputs(frames[:, offset:offset + keep]).mean(dim=1)  # [B, patches, dim]
                outputs.append(per_patch)
                centres = offset + (torch.arange(per_patch.shape[1], dtype=torch.float64) + 0.5) * width
                times.append(centres / fps + start / model.sample_rate)
        order = torch.cat(times).argsort()
        frames = num_frames(length, model.sample_rate, self.frame_rate)
        return interpolate_frames(torch.cat(outputs, dim=1)[:, order], torch.cat(times)[order], frames,
                                  self.frame_rate)


class PretrainedEncoderFeatures(FeatureSource):
    """Hidden states of a HuBERT/MERT-style encoder loaded from a local Hugging Face folder (never downloaded).

    Args:
        path: Folder holding the model's config, weights and feature-extractor config.
        frame_rate: Frames per second.
        layer: Index into the model's hidden states (0: the convolutional features; -1: the last layer).
        device: Torch device of the encoder.
    """

    name = "pretrained"

    def __init__(self, path: tp.Union[str, Path, None], frame_rate: float = 25.0, layer: int = -1,
                 device: str = "cpu"):
        if not path or str(path) == "???" or not Path(path).is_dir():
            raise BeatLMError(f"the pretrained feature source needs a local Hugging Face model folder: pass "
                              f"--encoder DIR (got {path!r})")
        from transformers import AutoFeatureExtractor, AutoModel

        from ..utils.signature import state_signature
        try:
            self.extractor = AutoFeatureExtractor.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModel.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise BeatLMError(f"cannot load an encoder from {path}: {str(exc).splitlines()[0]}") from None
        self.model = self.model.to(device).eval()
        self.location, self.frame_rate, self.layer = str(path), float(frame_rate), int(layer)
        self.sample_rate = int(self.extractor.sampling_rate)
        layers = self.model.config.num_hidden_layers + 1
        if not -layers <= self.layer < layers:
            raise BeatLMError(f"pretrained features: layer {self.layer} is out of range ({layers} hidden states)")
        self.dim = int(self.model.config.hidden_size)
        self.model_signature = state_signature(self.model)

    def settings(self) -> tp.Dict[str, tp.Any]:
        return {"source": self.name, "frame_rate": self.frame_rate, "layer": self.layer,
                "model_signature": self.model_signature}

    def features(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        mono = _as_mono(wav, sample_rate, self.sample_rate)
        inputs = self.extractor(list(mono.cpu().numpy()), sampling_rate=self.sample_rate, return_tensors="pt")
        values = inputs["input_values"].to(self.model.device)
        hidden = self.model(values, output_hidden_states=True).hidden_states[self.layer]  # [B, n, dim]
        seconds = mono.shape[-1] / self.sample_rate
        times = (torch.arange(hidden.shape[1], dtype=torch.float64) + 0.5) * seconds / hidden.shape[1]
        frames = num_frames(mono.shape[-1], self.sample_rate, self.frame_rate)
        return interpolate_frames(hidden.float(), times, frames, self.frame_rate)


SOURCES: tp.Dict[str, tp.Type[FeatureSource]] = {
    cls.name: cls for cls in (LibrosaFeatures, MulanFrameFeatures, PretrainedEncoderFeatures)}


def get_feature_source(cfg: tp.Union[omegaconf.DictConfig, tp.Mapping[str, tp.Any]],
                       mulan: tp.Optional["MuLaNModel"] = None) -> FeatureSource:
    """The feature source a `semantic_tokenizer` config names (see config/model/semantic_tokenizer/default.yaml).

    Args:
        cfg: With `source` (librosa | mulan | pretrained), `frame_rate` and a section per source.
        mulan: An already loaded MuLaN for the mulan source (else `cfg.mulan.path` is loaded).
    """
    cfg = omegaconf.OmegaConf.create(dict(cfg)) if not isinstance(cfg, omegaconf.DictConfig) else cfg
    name = cfg.get("source")
    if name not in SOURCES:
        raise BeatLMError(f"unknown semantic feature source {name!r}; choose one of {', '.join(SOURCES)}")
    section = omegaconf.OmegaConf.to_container(cfg.get(name) or {}, resolve=True)
    frame_rate = float(cfg.get("frame_rate", 25.0))
    if name == "librosa":
        return LibrosaFeatures(frame_rate=frame_rate, **section)
    if name == "mulan":
        return MulanFrameFeatures(mulan if mulan is not None else section.get("path"), frame_rate=frame_rate,
                                  layer=section.get("layer", -1), shifts=section.get("shifts", 1))
    return PretrainedEncoderFeatures(section.get("path"), frame_rate=frame_rate, layer=section.get("layer", -1),
                                     device=section.get("device", "cpu"))


def source_from_settings(settings: tp.Mapping[str, tp.Any], location: tp.Optional[str] = None,
                         mulan: tp.Optional["MuLaNModel"] = None) -> FeatureSource:
    """Rebuild a source from its `settings()`; a model-backed one from `location` (or `mulan`), checked to match."""
    settings = dict(settings)
    name = settings.pop("source", None)
    signature = settings.pop("model_signature", None)
    if name == "librosa":
        return LibrosaFeatures(**settings)
    if name == "mulan":
        source: FeatureSource = MulanFrameFeatures(mulan if mulan is not None else location, **settings)
    elif name == "pretrained":
        source = PretrainedEncoderFeatures(location, **settings)
    else:
        raise BeatLMError(f"unknown semantic feature source {name!r} in the tokenizer settings")
    if signature is not None and source.model_signature != signature:  # type: ignore[attr-defined]
        raise BeatLMError(f"the {name} model at {source.location or 'the given model'} is not the one the tokenizer "
                          f"was fitted on (signature {source.model_signature} != {signature}); "  # type: ignore
                          "pass the original model, or refit the tokenizer")
    return source
