"""Bend: `import musiclm_pytorch` needs packages that cannot be installed here.

musiclm-pytorch imports audiolm-pytorch, whose `vq_wav2vec` module imports `fairseq` at the top
(fairseq does not build on current Python, and pins hydra-core<1.1), and x-clip, whose
`visual_ssl` module imports torchvision (which does not import beside the CPU torch). BeatLM uses
neither: no vq-wav2vec tokenizer, no image self-supervision. When those modules are absent we
register placeholders that raise a clear ImportError if anything actually uses them, so MuLaN, its
losses and the CLIP BPE tokenizer import and run.

audiolm-pytorch also sets the root logger to ERROR when imported (to quiet fairseq), which would
hide every later log line of a training run; the level is restored after the import.

Call `apply()` before importing musiclm_pytorch (it is not part of `beatlm.bends.apply()`, so that
solvers which do not use MuLaN do not pay for the import).
"""

import importlib.util
import logging
import sys
import types


class _Unavailable:
    """Stand-in for a class of a module BeatLM cannot install."""

    module = ""

    def __init__(self, *args, **kwargs):
        raise ImportError(f"{type(self).__name__} needs {self.module}, which BeatLM does not install")


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (_Unavailable,), {"module": self.__name__})


def _placeholder(name: str) -> None:
    try:
        missing = importlib.util.find_spec(name) is None
    except (ImportError, ValueError):  # a parent package imports the real module at spec time
        missing = True
    if missing and name not in sys.modules:
        sys.modules[name] = _PlaceholderModule(name, f"placeholder registered by {__name__}")


def apply() -> None:
    """Register the placeholders (only for modules that are really missing), then import musiclm_pytorch."""
    if "musiclm_pytorch" in sys.modules:
        return
    _placeholder("fairseq")
    if importlib.util.find_spec("torchvision") is None:
        _placeholder("x_clip.visual_ssl")
    level = logging.root.level
    import musiclm_pytorch  # noqa: F401
    logging.root.setLevel(level)
