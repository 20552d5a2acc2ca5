"""Audio to MIDI with Spotify's basic-pitch: the melodic content of a beat as a `.mid` for a DAW.

basic-pitch ships its ICASSP 2022 model inside the wheel in several formats; BeatLM installs it without
TensorFlow (requirements/no-deps.txt) and runs the ONNX one with onnxruntime, offline. Drums have no
pitch: what comes out is the bass, chords and melody basic-pitch hears.
"""

import functools
import logging
from pathlib import Path
import threading
import typing as tp

from ..utils.errors import BeatLMError

logger = logging.getLogger(__name__)
_lock = threading.Lock()  # one transcription at a time: each one already uses every core


@functools.lru_cache(maxsize=1)
def _model() -> tp.Any:
    """basic-pitch's ONNX model, loaded once."""
    # basic-pitch logs a warning at import for each back-end it does not find (TensorFlow, CoreML, TFLite).
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        import basic_pitch
        from basic_pitch.inference import Model
    finally:
        quiet.setLevel(level)
    if not getattr(basic_pitch, "ONNX_PRESENT", False):
        raise BeatLMError("MIDI export needs onnxruntime, which is not installed (scripts/setup_env.sh installs it)")
    path = basic_pitch.build_icassp_2022_model_path(basic_pitch.FilenameSuffix.onnx)
    return Model(path)


def audio_to_midi(audio: tp.Union[str, Path], out: tp.Union[str, Path], tempo: tp.Optional[float] = None) -> Path:
    """Transcribe an audio file to a MIDI file.

    Args:
        audio: Any file librosa reads (WAV, MP3, FLAC).
        out: The `.mid` file to write (written atomically; an existing file is replaced).
        tempo: Tempo written into the MIDI file (BPM); None keeps basic-pitch's 120.

    Raises:
        BeatLMError: basic-pitch is missing or fails on this audio (the message says so; the cause is logged).
    """
    from ..utils.files import atomic_path
    out = Path(out)
    try:
        with _lock:
            from basic_pitch.inference import predict
            _, midi, _ = predict(str(audio), _model(), midi_tempo=tempo or 120)
        with atomic_path(out, overwrite=True) as tmp:
            midi.write(str(tmp))
    except BeatLMError:
        raise
    except ImportError as exc:
        raise BeatLMError(f"MIDI export needs basic-pitch, which is not installed ({exc.name}): "
                          "scripts/setup_env.sh installs it") from None
    except Exception as exc:  # basic-pitch, librosa and onnxruntime raise many types
        logger.exception("basic-pitch failed on %s", audio)
        raise BeatLMError(f"MIDI export failed: basic-pitch could not transcribe this audio "
                          f"({type(exc).__name__})") from None
    return out
