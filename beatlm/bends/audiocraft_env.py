"""Bend: audiocraft's team/cluster settings file.

`audiocraft.environment.AudioCraftEnvironment` reads `site-packages/config/teams/<team>.yaml`, which
audiocraft 1.3.0's install does not contain, and its default team file puts experiments under
`/tmp/audiocraft_${USER}` (USER is unset in many containers). We point `AUDIOCRAFT_CONFIG` at
BeatLM's own `config/teams/default.yaml` unless the user chose a file, so the Dora folder defaults
to `$XDG_DATA_HOME/beatlm/dora` (`~/.local/share/beatlm/dora`), overridable by `AUDIOCRAFT_DORA_DIR`.
"""

import os
from pathlib import Path

TEAMS_FILE = Path(__file__).resolve().parent.parent / "config" / "teams" / "default.yaml"


def default_dora_dir() -> Path:
    """The Dora folder audiocraft will use, read without importing audiocraft (for `beatlm doctor`)."""
    from omegaconf import OmegaConf
    teams = OmegaConf.load(os.environ.get("AUDIOCRAFT_CONFIG", TEAMS_FILE))
    return Path(os.environ.get("AUDIOCRAFT_DORA_DIR") or teams["default"]["dora_dir"])


def apply() -> None:
    """Point audiocraft at BeatLM's teams file unless `AUDIOCRAFT_CONFIG` is already set."""
    if "AUDIOCRAFT_CONFIG" not in os.environ:
        os.environ["AUDIOCRAFT_CONFIG"] = str(TEAMS_FILE)
        from audiocraft.environment import AudioCraftEnvironment
        AudioCraftEnvironment.reset()
