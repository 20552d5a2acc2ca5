"""Where BeatLM keeps user files (mirrors the `hydra.searchpath` entry of config/config.yaml)."""

import os
from pathlib import Path


def user_config_dir() -> Path:
    """`$BEATLM_CONFIG_DIR`, else `$XDG_CONFIG_HOME/beatlm`, else `~/.config/beatlm`.

    Config files placed there, laid out like the package's `config/` tree, are found by Dora/Hydra:
    `<dir>/dset/beats/<name>.yaml` is `dset=beats/<name>`.
    """
    if os.environ.get("BEATLM_CONFIG_DIR"):
        return Path(os.environ["BEATLM_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "beatlm"
