"""The studio's engine, apart from any UI: the model, the generation queue, the sample files and the database.

    studio = Studio(Path("studio"), model=None)   # None: the model that ships with BeatLM
    studio.start_loading()
    sample = studio.generate(make_request("trap beat", 140, "A minor", 4, 2, 7, studio.max_duration))
    studio.path(sample.wav)   # studio/samples/...wav, beside .mp3, .png and a .json sidecar

A model that does not load leaves the studio running: `status()` says why, and `generate` refuses with
that message. Files are written atomically and the sample is recorded only once all of them exist.
"""

import datetime
import logging
from pathlib import Path
import secrets
import subprocess
import threading
import typing as tp

from ..utils.errors import BeatLMError
from .form import GenerationRequest
from .queue import GenerationQueue
from .ratings import RatingStore, Sample, now

if tp.TYPE_CHECKING:
    from ..models.musiclm import MusicLM

logger = logging.getLogger(__name__)
DATABASE = "studio.sqlite"
SAMPLES = "samples"


class Studio:
    """Model, queue, files and ratings of one `beatlm app`.

    Args:
        out: Folder for the samples and the SQLite database (created).
        model: Model bundle folder or hub id; None for the model shipped with BeatLM.
        device: 'cpu', 'cuda' or 'auto'.
        queue_size: Generation requests admitted at once (running one included); more are refused.
        max_duration: Longest duration served (seconds).
    """

    def __init__(self, out: tp.Union[str, Path], model: tp.Optional[str] = None, device: str = "cpu",
                 queue_size: int = 4, max_duration: float = 30.0):
        self.out = Path(out)
        self.model_source = model
        self.device = device
        self.max_duration = float(max_duration)
        self.queue = GenerationQueue(queue_size)
        self.store = RatingStore(self.out / DATABASE)
        self._model: tp.Optional["MusicLM"] = None
        self._error: tp.Optional[str] = None
        self._loaded = threading.Event()
        self._loader: tp.Optional[threading.Thread] = None
        self._load_lock = threading.Lock()

    # --- the model --------------------------------------------------------------------------------
    def load_model(self) -> None:
        """Load the model now (in this thread), once; a failure is kept as the studio's status, not raised."""
        from ..models.musiclm import MusicLM
        with self._load_lock:
            if self.loaded:
                return
            try:
                self._model = MusicLM.get_pretrained(self.model_source, device=self.device)
                self._warm_up(self._model.sample_rate)
            except BeatLMError as exc:
                self._error = str(exc)
            except Exception as exc:  # a corrupt or foreign file raises anything; the page says so
                logger.exception("the model did not load")
                self._error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            finally:
                self._loaded.set()

    @staticmethod
    def _warm_up(sample_rate: int) -> None:
        """Compile librosa's numba kernels now, not during the first request (seconds on a busy CPU)."""
        import librosa
        import numpy as np
        librosa.feature.melspectrogram(y=np.zeros(4096, np.float32), sr=sample_rate, n_mels=64, hop_length=512)

    def start_loading(self) -> tp.Optional[threading.Thread]:
        """Load the model in a background thread (the page is served meanwhile)."""
        if self._loader is None and not self.loaded:
            self._loader = threading.Thread(target=self.load_model, name="beatlm-model-loader", daemon=True)
            self._loader.start()
        return self._loader

    @property
    def loaded(self) -> bool:
        """Whether loading has finished (successfully or not)."""
        return self._loaded.is_set()

    @property
    def error(self) -> tp.Optional[str]:
        """Why the model did not load, or None."""
        return self._error

    @property
    def model_id(self) -> str:
        """`name@hash` of the loaded model ('' before it is loaded)."""
        if self._model is None:
            return ""
        return f"{self._model.name}@{self._model.model_hash}" if self._model.model_hash else self._model.name

    def status(self) -> str:
        """One line for the page: loading, loaded (which model), or why the model did not load."""
        source = self.model_source or "the default model"
        if not self.loaded:
            return f"Loading {source}..."
        if self._model is None:
            return f"The model did not load, so nothing can be generated: {self._error}"
        return f"Model {self.model_id} ({self._model.sample_rate} Hz) on {self._model.device}."

    def _require_model(self) -> "MusicLM":
        # Loading draws from torch's global random generator, which a seeded generation also uses: never overlap.
        self.start_loading()
        self._loaded.wait()
        if self._model is None:
            raise BeatLMError(f"the model did not load: {self._error}")
        return self._model

    # --- generation -------------------------------------------------------------------------------
    def generate(self, request: GenerationRequest, progress: bool = False,
                 on_wait: tp.Optional[tp.Callable[[int], None]] = None) -> Sample:
        """Generate one sample (the best of `request.candidates` by MuLaN), write its files and record it.

        Args:
            request: A checked request (`form.make_request`).
            progress: Show the stages' tqdm bars (a UI can capture them).
            on_wait: Called with the number of jobs ahead while this one waits its turn.

        Raises:
            BeatLMError: the queue is full (`QueueFull`), the model did not load, or the prompt is too long.
        """
        import torch
        if request.duration > self.max_duration:
            raise BeatLMError(f"duration must be at most {self.max_duration:g} seconds")
        with self.queue.turn(on_wait):
            model = self._require_model()
            model.set_generation_params(duration=request.duration, num_candidates=request.candidates)
            model.check_prompts([request.prompt])
            with torch.random.fork_rng(devices=[]):  # the seed applies to this sample only
                torch.manual_seed(request.seed)
                wav = model.generate([request.prompt], progress=progress)[0].cpu()
            info, params, sample_rate = model.last_generation, dict(model.generation_params), model.sample_rate
        return self._save(request, wav, sample_rate, info, params)

    def _save(self, request: GenerationRequest, wav: tp.Any, sample_rate: int, info: tp.Any,
              params: tp.Dict[str, tp.Any]) -> Sample:
        from .. import __version__
        from ..cli.generate import slug, write_sample
        from ..evaluation.plots import plot_spectrograms
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
        sample_id = f"{stamp}-{secrets.token_hex(3)}"
        stem = Path(SAMPLES) / f"{slug(request.prompt, 32)}-{sample_id}"
        scores = [float(s) for s in info.scores[0]]
        score = scores[info.chosen[0]] if scores else None
        sidecar = {"id": sample_id, "prompt": request.prompt, "bpm": request.bpm, "key": request.key,
                   "seed": request.seed, "mulan_score": score, "candidate_scores": scores,
                   "chosen_candidate": info.chosen[0], "params": params,
                   "model": {"id": self.model_id, "source": self.model_source},
                   "timings_s": {name: round(value, 4) for name, value in info.timings.items()},
                   "sample_rate": sample_rate, "duration_s": wav.shape[-1] / sample_rate,
                   "beatlm_version": __version__, "created": now()}
        wav_path = self.path(stem.with_suffix(".wav"))
        write_sample(wav_path, wav, sample_rate, "wav", sidecar, overwrite=False)
        self._to_mp3(wav_path, self.path(stem.with_suffix(".mp3")))
        plot_spectrograms([(request.prompt, wav.mean(dim=0).numpy())], sample_rate, self.path(stem.with_suffix(".png")))
        sample = Sample(id=sample_id, prompt=request.prompt, model_id=self.model_id, seed=request.seed,
                        duration=wav.shape[-1] / sample_rate, mulan_score=score, candidate_scores=scores,
                        wav=str(stem.with_suffix(".wav")), mp3=str(stem.with_suffix(".mp3")),
                        image=str(stem.with_suffix(".png")), created=sidecar["created"])
        self.store.add_sample(sample)
        return sample

    @staticmethod
    def _to_mp3(wav_path: Path, mp3_path: Path) -> None:
        """The MP3 of a written WAV (ffmpeg, 192 kbit/s), so both downloads hold the same audio."""
        from ..utils.files import atomic_path
        try:
            with atomic_path(mp3_path) as tmp:
                subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav_path),
                                "-codec:a", "libmp3lame", "-b:a", "192k", "-f", "mp3", str(tmp)],
                               check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise BeatLMError(f"cannot write {mp3_path}: {exc}") from None

    def path(self, relative: tp.Union[str, Path]) -> Path:
        """The absolute path of a sample file (they are stored relative to the studio folder)."""
        return (self.out / relative).absolute()

    # --- MIDI -------------------------------------------------------------------------------------
    def export_midi(self, sample_id: tp.Any) -> Path:
        """The `.mid` of a sample (basic-pitch, made once), beside its audio.

        Raises:
            BeatLMError: no such sample, its audio is gone, or basic-pitch failed.
        """
        from ..evaluation.prompts import parse_bpm
        from .midi import audio_to_midi
        sample = self.store.get_sample(sample_id)
        wav, mid = self.path(sample.wav), self.path(Path(sample.wav).with_suffix(".mid"))
        if not wav.is_file():
            raise BeatLMError(f"the audio of sample {sample.id} is gone ({wav})")
        if not mid.is_file():
            audio_to_midi(wav, mid, tempo=parse_bpm(sample.prompt))
        return mid
