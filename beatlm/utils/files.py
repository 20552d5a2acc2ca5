"""File helpers: atomic writes, so an interrupted run never leaves a half-written file behind."""

import contextlib
import os
from pathlib import Path
import tempfile
import typing as tp


def umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: tp.Union[str, Path], overwrite: bool = False) -> tp.Iterator[Path]:
    """Yield a temporary path next to `target`; move it onto `target` only if the block succeeds.

    Args:
        target: Final destination.
        overwrite: If False, refuse an existing target (FileExistsError) both before and after the block.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if not overwrite and target.exists():
            raise FileExistsError(target)
        if tmp_path.exists():  # mkstemp makes it owner-only; give it the mode a plain open() would
            os.chmod(tmp_path, 0o666 & ~umask())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def save_atomic(obj: tp.Any, path: tp.Union[str, Path], overwrite: bool = False) -> Path:
    """`torch.save` to `path` through `atomic_path`; an existing `path` without `overwrite` is a BeatLMError."""
    import torch

    from .errors import BeatLMError
    path = Path(path)
    try:
        with atomic_path(path, overwrite=overwrite) as tmp:
            torch.save(obj, tmp)
    except FileExistsError:
        raise BeatLMError(f"{path} already exists; choose another path or pass --force to replace it") from None
    return path
