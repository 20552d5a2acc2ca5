"""Bend: torchaudio's compiled extension does not load beside the CPU torch used here.

The newest torchaudio on PyPI (2.11) ships `torchaudio/lib/*.so` linked against `libc10_cuda.so`
and a different torch build, so `import torchaudio` fails (and audiocraft imports torchaudio at
import time). Without those libraries torchaudio runs as pure Python, and everything audiocraft
and BeatLM use from it works (Spectrogram, MelSpectrogram, Resample, Loudness, lfilter). Audio I/O
never goes through torchaudio here (soundfile / PyAV / audiocraft's `audio_read` / `audio_write`).

`python -m beatlm.bends.torchaudio_cpu` removes the libraries; `scripts/setup_env.sh` runs it.
"""

import importlib.util
from pathlib import Path
import sys
import typing as tp


def extension_libraries() -> tp.List[Path]:
    """The compiled libraries of the installed torchaudio (empty once stripped)."""
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("torchaudio is not installed")
    return sorted((Path(spec.origin).parent / "lib").glob("*.so"))


def strip_extension() -> tp.List[Path]:
    """Delete torchaudio's compiled libraries; returns what was removed."""
    removed = extension_libraries()
    for lib in removed:
        lib.unlink()
    return removed


def main() -> int:
    removed = strip_extension()
    print(f"beatlm setup: torchaudio runs as pure Python ({len(removed)} compiled libraries removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
