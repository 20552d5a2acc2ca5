"""Bend: import-time warnings that do not apply to BeatLM and bury its own messages.

- xformers (imported by `audiocraft.modules.transformer`) warns that its C++/CUDA extensions do not
  load beside the CPU torch. BeatLM never calls them: `efficient_attention_backend=torch` uses
  torch's scaled-dot-product attention.
- Hydra warns when a search-path folder is missing; the user config folder
  (`beatlm.utils.paths.user_config_dir`) is optional and usually absent.
- torch warns that `torch.nn.utils.weight_norm`, which audiocraft's SEANet uses, is deprecated:
  nothing a BeatLM user can act on.
- audiocraft logs `Dora directory: ...` as a warning whenever it reads its environment, which
  `import beatlm.train` (so every `beatlm` command that loads a model) does: without a logging set-up it
  went to stderr beside every one-line error. `beatlm doctor` shows the Dora folder.
"""

import logging
import warnings


class _NoDoraDirectory(logging.Filter):
    """Drops audiocraft's `Dora directory: ...` record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Dora directory:")


def apply() -> None:
    """Silence these warnings (before audiocraft, xformers or the config are loaded)."""
    logging.getLogger("xformers").setLevel(logging.ERROR)
    environment = logging.getLogger("audiocraft.environment")
    if not any(isinstance(f, _NoDoraDirectory) for f in environment.filters):
        environment.addFilter(_NoDoraDirectory())
    warnings.filterwarnings("ignore", message=r"provider=hydra\.searchpath in main, path=.* is not available")
    warnings.filterwarnings("ignore", message=r"`torch\.nn\.utils\.weight_norm` is deprecated")
