"""MusicLM: text -> MuLaN tokens -> semantic tokens -> coarse codes -> fine codes -> audio, audiocraft style.

    model = MusicLM.get_pretrained('path/to/bundle')
    model.set_generation_params(duration=10, temperature=(1.0, 0.95, 0.4), cfg_coef=3.0, num_candidates=4)
    wav = model.generate(['dark trap beat, 140 bpm, heavy 808'], progress=True)  # [B, C, T]

Each stage is audiocraft's `LMModel` sampling with its own `generate` (KV-cached streaming,
classifier-free guidance by batch doubling). Durations longer than a stage's trained window are
generated window by window: each new window is prompted with the last `window - extend_stride`
seconds of that stage's tokens (MusicLM generates long audio this way with a 15 s stride), and the
coarse and fine stages see the previous stage's tokens of the same window, frame-aligned.

With `num_candidates=K` every prompt is sampled K times in the same batch, and the candidate whose
audio MuLaN finds closest to the prompt text is kept (MusicLM's re-ranking).
"""

from dataclasses import dataclass, field
import math
import time
import typing as tp
import unicodedata

from audiocraft.modules.conditioners import ConditioningAttributes, JointEmbedCondition
import torch

from ..utils.errors import BeatLMError
from .bundle import STAGES

if tp.TYPE_CHECKING:
    from audiocraft.models.encodec import CompressionModel
    from audiocraft.models.lm import LMModel

    from ..modules.semantic_tokenizer import SemanticTokenizer
    from .mulan import MuLaNModel

MAX_DURATION = 300.0  # seconds; longer requests are refused rather than left to run for hours
MIN_DURATION = 0.5  # seconds; below it the codec has too few frames to decode, and loudness (400 ms blocks) fails


@dataclass
class GenerationInfo:
    """What the last `generate*` call did: seconds per stage, MuLaN scores and the candidates kept."""

    timings: tp.Dict[str, float] = field(default_factory=dict)
    scores: tp.List[tp.List[float]] = field(default_factory=list)  # per prompt, every candidate's score
    chosen: tp.List[int] = field(default_factory=list)  # per prompt, the candidate kept


def is_blank(text: str) -> bool:
    """Whether a prompt has nothing to read: only spaces, control or invisible characters (zero-width space)."""
    return not any(unicodedata.category(char)[0] not in "ZC" for char in text)


def resolve_device(device: tp.Optional[str]) -> str:
    """'auto' or None -> 'cuda' when available, else 'cpu'; anything else is returned as given."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


class MusicLM:
    """The assembled hierarchy (see the module docstring). Build it with `get_pretrained`.

    Args:
        name: Model id (from the bundle manifest).
        codec: The Encodec codec.
        mulan: MuLaN with its fitted token quantizer.
        semantic_tokenizer: Audio -> semantic tokens (for continuation prompts).
        lms: The 'semantic', 'coarse' and 'fine' stage LMs.
        specs: What each stage models (`stage_spec` of its training: n_q, card, frame_rate, aligned).
        windows: Seconds each stage was trained on (the longest it generates in one go).
        model_hash: Short hash identifying the weights (the bundle manifest's).
    """

    def __init__(self, name: str, codec: "CompressionModel", mulan: "MuLaNModel",
                 semantic_tokenizer: "SemanticTokenizer", lms: tp.Mapping[str, "LMModel"],
                 specs: tp.Mapping[str, tp.Mapping[str, tp.Any]], windows: tp.Mapping[str, float],
                 model_hash: str = ""):
        self.name = name
        self.model_hash = model_hash
        self.codec = codec.eval()
        self.mulan = mulan.eval()
        self.semantic_tokenizer = semantic_tokenizer.eval()
        self.lms = {stage: lms[stage].eval() for stage in STAGES}
        self.specs = {stage: dict(specs[stage]) for stage in STAGES}
        self.windows = {stage: float(windows[stage]) for stage in STAGES}
        self.attributes = {stage: self._mulan_attribute(self.lms[stage]) for stage in STAGES}
        self.last_generation = GenerationInfo()
        self.set_generation_params()

    @staticmethod
    def _mulan_attribute(lm: "LMModel") -> str:
        from ..modules.conditioners import MulanConditioner
        for name, conditioner in lm.condition_provider.conditioners.items():
            if isinstance(conditioner, MulanConditioner):
                return name
        raise BeatLMError("a stage LM has no MuLaN conditioner")

    @staticmethod
    def get_pretrained(name_or_path: tp.Optional[str] = None, device: tp.Optional[str] = None) -> "MusicLM":
        """Load a bundle: a local folder (`beatlm export bundle`), or a Hugging Face hub id when online.

        Args:
            name_or_path: The bundle; None means the default model shipped with BeatLM.
            device: 'cpu', 'cuda', or None / 'auto' for CUDA when available.
        """
        from .bundle import load_bundle
        from .loaders import resolve_bundle
        folder = resolve_bundle(name_or_path)
        parts = load_bundle(folder, device=resolve_device(device))
        manifest = parts["manifest"]
        return MusicLM(manifest["name"], parts["codec"], parts["mulan"], parts["semantic_tokenizer"], parts["lms"],
                       manifest["specs"], manifest["windows"], model_hash=parts["hash"])

    # --- properties -------------------------------------------------------------------------------
    @property
    def sample_rate(self) -> int:
        return int(self.codec.sample_rate)

    @property
    def audio_channels(self) -> int:
        return int(self.codec.channels)

    @property
    def frame_rate(self) -> float:
        return float(self.codec.frame_rate)

    @property
    def device(self) -> torch.device:
        return next(self.codec.parameters()).device

    @property
    def max_duration(self) -> float:
        """Longest duration `generate` accepts (seconds); longer than a window is generated by continuation."""
        return MAX_DURATION

    # --- parameters -------------------------------------------------------------------------------
    def set_generation_params(self, duration: float = 10.0,
                              temperature: tp.Union[float, tp.Sequence[float]] = (1.0, 0.95, 0.4),
                              top_k: int = 250, top_p: float = 0.0, cfg_coef: float = 3.0,
                              num_candidates: int = 1, use_sampling: bool = True,
                              extend_stride: tp.Optional[float] = None, decoder: str = "fast") -> None:
        """Set the parameters of the following `generate*` calls.

        Args:
            duration: Seconds of audio, in [`MIN_DURATION`, `max_duration`].
            temperature: Sampling temperature, one for all stages or (semantic, coarse, fine).
            top_k: Top-k sampling (capped at each stage's vocabulary); 0 disables it.
            top_p: Top-p sampling; 0 disables it (then top_k applies).
            cfg_coef: Classifier-free guidance coefficient (1 = no guidance; any finite number).
            num_candidates: Samples per prompt, kept by MuLaN text-audio similarity (re-ranking).
            use_sampling: Sample (True) or take the most likely token (False).
            extend_stride: Seconds each new window adds when the duration exceeds a stage's window
                (default: half the window, as MusicLM's 15 s stride over 30 s).
            decoder: 'fast' (models/fast_decoding.py: the same sampling with less work per step; a stage
                using a feature it lacks falls back to audiocraft's) or 'audiocraft' (`LMModel.generate`).
        """
        if not isinstance(duration, (int, float)) or not MIN_DURATION <= duration <= MAX_DURATION:
            raise BeatLMError(f"duration must be in [{MIN_DURATION:g}, {MAX_DURATION:g}] seconds, got {duration}")
        temps = [float(temperature)] * 3 if isinstance(temperature, (int, float)) else [float(t) for t in temperature]
        if len(temps) != 3 or any(not 0 < t < math.inf for t in temps):
            raise BeatLMError(f"temperature must be one positive finite number or three (semantic, coarse, fine), "
                              f"got {temperature}")
        if decoder not in ("fast", "audiocraft"):
            raise BeatLMError(f"decoder must be 'fast' or 'audiocraft', got {decoder!r}")
        if int(num_candidates) < 1 or int(top_k) < 0 or not 0 <= float(top_p) <= 1:
            raise BeatLMError("num_candidates must be >= 1, top_k >= 0 and top_p in [0, 1]")
        if not math.isfinite(cfg_coef):
            raise BeatLMError(f"cfg_coef must be a finite number, got {cfg_coef}")
        for stage, window in self.windows.items():
            if extend_stride is not None and not 0 < extend_stride < window:
                raise BeatLMError(f"extend_stride must be in (0, {window:g}) seconds (the {stage} window)")
        self.generation_params = {"duration": float(duration), "temperature": dict(zip(STAGES, temps)),
                                  "top_k": int(top_k), "top_p": float(top_p), "cfg_coef": float(cfg_coef),
                                  "num_candidates": int(num_candidates), "use_sampling": bool(use_sampling),
                                  "extend_stride": None if extend_stride is None else float(extend_stride),
                                  "decoder": decoder}

    def check_prompts(self, descriptions: tp.Sequence[tp.Optional[str]]) -> None:
        """Refuse empty prompts and prompts longer than MuLaN's text tokenizer takes (BeatLMError).

        A prompt of spaces, control or invisible characters only is empty; any language or emoji is fine.
        """
        limit = self.mulan.text_max_tokens
        for i, text in enumerate(descriptions):
            if text is None:
                continue
            if not isinstance(text, str) or is_blank(text):
                raise BeatLMError(f"prompt {i + 1} is empty: describe the beat, e.g. 'boom bap beat, 90 bpm'")
            count = self.mulan.count_text_tokens(text)
            if count > limit:
                raise BeatLMError(f"prompt {i + 1} is {count} tokens long; MuLaN reads at most {limit}: shorten it")

    # --- generation -------------------------------------------------------------------------------
    def generate(self, descriptions: tp.Sequence[str], progress: bool = False,
                 return_tokens: bool = False) -> tp.Union[torch.Tensor, tp.Tuple[torch.Tensor, torch.Tensor]]:
        """Audio [B, C, T] at `sample_rate` for B text prompts (and the codec codes [B, K, frames] if asked)."""
        self.check_prompts(descriptions)
        return self._generate(list(descriptions), progress, return_tokens)

    def generate_unconditional(self, num_samples: int, progress: bool = False, return_tokens: bool = False
                               ) -> tp.Union[torch.Tensor, tp.Tuple[torch.Tensor, torch.Tensor]]:
        """Audio [num_samples, C, T] with no condition (the null MuLaN condition; no re-ranking)."""
        if num_samples < 1:
            raise BeatLMError("num_samples must be >= 1")
        return self._generate([None] * num_samples, progress, return_tokens)

    def generate_continuation(self, prompt: torch.Tensor, prompt_sample_rate: int,
                              descriptions: tp.Optional[tp.Sequence[tp.Optional[str]]] = None,
                              progress: bool = False, return_tokens: bool = False
                              ) -> tp.Union[torch.Tensor, tp.Tuple[torch.Tensor, torch.Tensor]]:
        """Continue audio prompts: [B, C, T] (or [C, T]) at `prompt_sample_rate` -> [B, C, duration], prompt first.

        Every stage is prompted with the prompt's own tokens (semantic tokens and codec codes). Without
        descriptions the MuLaN condition is the prompt audio's own (MusicLM trains on audio MuLaN tokens).
        """
        from audiocraft.data.audio_utils import convert_audio
        if prompt.dim() == 2:
            prompt = prompt[None]
        if prompt.dim() != 3 or prompt.shape[-1] == 0:
            raise BeatLMError(f"expected prompt audio [B, C, T] or [C, T], got {tuple(prompt.shape)}")
        if isinstance(prompt_sample_rate, bool) or not isinstance(prompt_sample_rate, int) or prompt_sample_rate <= 0:
            raise BeatLMError(f"prompt_sample_rate must be a positive whole number of Hz, got {prompt_sample_rate!r}")
        if not torch.isfinite(prompt).all():
            raise BeatLMError("the prompt audio holds NaN or infinite samples")
        seconds = prompt.shape[-1] / prompt_sample_rate
        if seconds >= self.generation_params["duration"]:
            raise BeatLMError(f"the prompt ({seconds:.2f} s) must be shorter than the duration asked "
                              f"({self.generation_params['duration']:g} s)")
        descriptions = list(descriptions) if descriptions is not None else [None] * prompt.shape[0]
        if len(descriptions) != prompt.shape[0]:
            raise BeatLMError(f"{prompt.shape[0]} prompt clips but {len(descriptions)} descriptions")
        self.check_prompts(descriptions)
        wav = convert_audio(prompt.to(self.device).float(), prompt_sample_rate, self.sample_rate, self.audio_channels)
        with torch.no_grad():
            codes = self.codec.encode(wav)[0][..., :self._frames("coarse", seconds)]
            semantic = self.semantic_tokenizer.encode(wav, self.sample_rate)[:, None]
        kc = self.specs["coarse"]["n_q"]
        prompts = {"semantic": semantic, "coarse": codes[:, :kc], "fine": codes[:, kc:]}
        return self._generate(descriptions, progress, return_tokens, prompts=prompts, prompt_audio=wav)

    def _frames(self, stage: str, seconds: float) -> int:
        return int(math.floor(seconds * self.specs[stage]["frame_rate"] + 1e-6))

    def _mulan_conditions(self, descriptions: tp.Sequence[tp.Optional[str]],
                          prompt_audio: tp.Optional[torch.Tensor]) -> tp.List[JointEmbedCondition]:
        """One MuLaN condition per item: its text, else its prompt audio, else the null condition."""
        out = []
        for i, text in enumerate(descriptions):
            if text is None and prompt_audio is not None:
                wav = prompt_audio[i:i + 1]
                out.append(JointEmbedCondition(wav, [None], torch.tensor([wav.shape[-1]]), [self.sample_rate],
                                               [None], [None]))
            else:
                out.append(JointEmbedCondition(torch.zeros(1, 1, 1), [text], torch.tensor([0]),
                                               [self.sample_rate], [None], [None]))
        return out

    def _conditions(self, stage: str, mulan: tp.Sequence[JointEmbedCondition], previous: tp.Optional[torch.Tensor],
                    start: int, end: int) -> tp.List[ConditioningAttributes]:
        """Attributes of frames [start, end) of `stage`: MuLaN, and the previous stage's tokens of those frames."""
        from ..modules.token_conditioner import token_condition
        spec = self.specs[stage]
        out = []
        for i, joint in enumerate(mulan):
            attrs = ConditioningAttributes(joint_embed={self.attributes[stage]: joint})
            aligned = spec.get("aligned")
            if aligned:
                ratio = aligned["frame_rate"] / spec["frame_rate"]
                first, last = int(round(start * ratio)), int(math.ceil(end * ratio - 1e-6))
                attrs.wav[aligned["attribute"]] = token_condition(previous[i, :, first:last], aligned["frame_rate"])
            out.append(attrs)
        return out

    def _window_steps(self, stage: str) -> tp.Tuple[int, int, int]:
        """(window, context, step) in frames: frames per call, frames of context carried over, start alignment."""
        spec, window_s = self.specs[stage], self.windows[stage]
        stride = self.generation_params["extend_stride"] or window_s / 2
        aligned = spec.get("aligned")
        step = max(1, int(round(spec["frame_rate"] / aligned["frame_rate"]))) if aligned else 1
        window = max(2, self._frames(stage, window_s))
        context = int(round((window_s - min(stride, window_s)) * spec["frame_rate"]))
        # Starts are rounded down to whole `step`s, which can add step - 1 frames of context: keep room for them.
        context = min(max(step, context // step * step), max(0, (window - step) // step * step))
        return window, context, step

    def _decode_fn(self, lm: "LMModel") -> tp.Callable[..., torch.Tensor]:
        """The sampling loop for a stage: the fast path when asked and supported, else audiocraft's."""
        from . import fast_decoding
        if self.generation_params["decoder"] == "fast" and fast_decoding.unsupported(lm) is None:
            return lambda **kwargs: fast_decoding.generate(lm, **kwargs)
        return lm.generate

    @torch.no_grad()
    def _sample_stage(self, stage: str, mulan: tp.Sequence[JointEmbedCondition], previous: tp.Optional[torch.Tensor],
                      total: int, prompt: tp.Optional[torch.Tensor], bar: tp.Any) -> torch.Tensor:
        """Tokens [N, K, total] of one stage, window by window, starting from `prompt` [N, K, Tp] if given."""
        lm, params = self.lms[stage], self.generation_params
        window, context, step = self._window_steps(stage)
        tokens = prompt if prompt is not None else torch.zeros(len(mulan), lm.num_codebooks, 0, dtype=torch.long,
                                                               device=self.device)
        tokens = tokens[..., :total].to(self.device)
        first = True
        while tokens.shape[-1] < total:
            have = tokens.shape[-1]
            start = 0 if have == 0 or (first and have < window) else (have - context) // step * step
            end = min(start + window, total)
            done = have

            def report(generated: int, steps: int, base: int = done, new: int = end - have) -> None:
                bar.update(base + min(new, generated * new // max(1, steps)) - bar.n)  # update(): trackers see it

            out = self._decode_fn(lm)(prompt=tokens[..., start:] if have > start else None,
                              conditions=self._conditions(stage, mulan, previous, start, end),
                              num_samples=len(mulan), max_gen_len=end - start,
                              use_sampling=params["use_sampling"], temp=params["temperature"][stage],
                              top_k=min(params["top_k"], lm.card), top_p=params["top_p"],
                              cfg_coef=params["cfg_coef"], callback=report)
            tokens = torch.cat([tokens[..., :start], out], dim=-1)
            first = False
        bar.update(total - bar.n)
        return tokens

    def _generate(self, descriptions: tp.List[tp.Optional[str]], progress: bool, return_tokens: bool,
                  prompts: tp.Optional[tp.Dict[str, torch.Tensor]] = None,
                  prompt_audio: tp.Optional[torch.Tensor] = None
                  ) -> tp.Union[torch.Tensor, tp.Tuple[torch.Tensor, torch.Tensor]]:
        from tqdm import tqdm
        params = self.generation_params
        k = params["num_candidates"]
        texts = [d for d in descriptions for _ in range(k)]  # prompt-major: row b * k + j
        audio = prompt_audio.repeat_interleave(k, dim=0) if prompt_audio is not None else None
        mulan = self._mulan_conditions(texts, audio)
        timings: tp.Dict[str, float] = {}
        previous: tp.Optional[torch.Tensor] = None
        tokens: tp.Dict[str, torch.Tensor] = {}
        for stage in STAGES:
            begin = time.perf_counter()
            prompt = prompts[stage].repeat_interleave(k, dim=0) if prompts is not None else None
            total = self._frames(stage, params["duration"])
            with tqdm(total=total, desc=f"{stage:>8}", unit="frame", disable=not progress, leave=False) as bar:
                tokens[stage] = self._sample_stage(stage, mulan, previous, total, prompt, bar)
            previous = tokens[stage]
            timings[stage] = time.perf_counter() - begin
        begin = time.perf_counter()
        with torch.no_grad():
            codes = torch.cat([tokens["coarse"], tokens["fine"]], dim=1)
            wav = self.codec.decode(codes)[..., :int(round(params["duration"] * self.sample_rate))]
        timings["decode"] = time.perf_counter() - begin
        begin = time.perf_counter()
        scores, chosen = self._rerank(wav, descriptions, k)
        timings["rerank"] = time.perf_counter() - begin
        self.last_generation = GenerationInfo(timings=timings, scores=scores, chosen=chosen)
        keep = torch.arange(len(descriptions), device=wav.device) * k + torch.tensor(chosen, device=wav.device)
        return (wav[keep], codes[keep]) if return_tokens else wav[keep]

    @torch.no_grad()
    def _rerank(self, wav: torch.Tensor, descriptions: tp.Sequence[tp.Optional[str]],
                k: int) -> tp.Tuple[tp.List[tp.List[float]], tp.List[int]]:
        """MuLaN text-audio cosine of every candidate (rows b * k + j of `wav`) and, per prompt, the best one.

        Prompts without text (unconditional, or continued from audio alone) get no scores and keep candidate 0.
        """
        batch = len(descriptions)
        if all(d is None for d in descriptions):
            return [[] for _ in range(batch)], [0] * batch
        audio = self.mulan.embed_audio(wav, self.sample_rate).view(batch, k, -1)
        text = self.mulan.embed_text([d or "" for d in descriptions])
        scores = torch.einsum("bkd,bd->bk", audio, text)
        chosen = scores.argmax(dim=1).tolist()
        return ([row.tolist() if d is not None else [] for row, d in zip(scores, descriptions)],
                [c if d is not None else 0 for c, d in zip(chosen, descriptions)])
