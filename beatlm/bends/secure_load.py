"""Bend: audiocraft loads checkpoints with a bare `torch.load(path, 'cpu')`.

On torch >= 2.6 that is `weights_only=True` by default and fails on the OmegaConf config every
audiocraft checkpoint holds; the usual way out (`TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`) unpickles
anything. We route `audiocraft.utils.checkpoint.load_checkpoint` (solver restore, `continue_from`,
`CompressionSolver.model_from_checkpoint`) through `beatlm.utils.checkpoint.load_checkpoint`:
explicit `weights_only=True` with an allow-list of the classes those checkpoints hold.
"""

from pathlib import Path
import typing as tp

from audiocraft.utils import checkpoint as ac_checkpoint

from beatlm.utils.checkpoint import load_checkpoint


def _load_checkpoint(checkpoint_path: Path, is_sharded: bool = False) -> tp.Any:
    if is_sharded:
        rank0_path = checkpoint_path.parent / ac_checkpoint.checkpoint_name(use_fsdp=False)
        if rank0_path.exists():
            ac_checkpoint.check_sharded_checkpoint(checkpoint_path, rank0_path)
    return load_checkpoint(checkpoint_path)


def apply() -> None:
    """Replace audiocraft's checkpoint loader with the allow-listed one."""
    ac_checkpoint.load_checkpoint = _load_checkpoint
