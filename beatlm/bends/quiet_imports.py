"""Bend: import-time warnings that do not apply to BeatLM and bury its own messages.

- xformers (imported by `audiocraft.modules.transformer`) warns that its C++/CUDA extensions do not
  load beside the CPU torch. BeatLM never calls them: `efficient_attention_backend=torch` uses
  torch's scaled-dot-product attention.
- Hydra warns when a search-path folder is missing; the user config folder
  (`beatlm.utils.paths.user_config_dir`) is optional and usually absent.
- torch warns that `torch.nn.utils.weight_norm`, which audiocraft's SEANet uses, is deprecated:
  nothing a BeatLM user can act on.
"""

import logging
import warnings


def apply() -> None:
    """Silence these warnings (before audiocraft, xformers or the config are loaded)."""
    logging.getLogger("xformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r"provider=hydra\.searchpath in main, path=.* is not available")
    warnings.filterwarnings("ignore", message=r"`torch\.nn\.utils\.weight_norm` is deprecated")
