"""Write audiocraft manifests (`data.jsonl.gz`) with audiocraft's own manifest tool."""

from pathlib import Path
import typing as tp

from ..utils.errors import BeatLMError
from ..utils.files import atomic_path


def write_manifest(audio_dir: tp.Union[str, Path], out_dir: tp.Union[str, Path], overwrite: bool = True,
                   progress: bool = False) -> Path:
    """Scan `audio_dir` for audio files and write `out_dir/data.jsonl.gz` (absolute paths, real durations).

    Args:
        audio_dir: Folder searched recursively for audio (wav, mp3, flac, ogg, m4a).
        out_dir: Folder of the manifest; `datasource.<split>=out_dir` then points a solver at it.
        overwrite: Replace an existing manifest.
        progress: Print audiocraft's progress while it reads every file's header (minutes for 10,000 files).
    Returns:
        Path of the manifest file.
    """
    from audiocraft.data.audio_dataset import find_audio_files, save_audio_meta
    audio_dir = Path(audio_dir)
    if not audio_dir.is_dir():
        raise BeatLMError(f"audio folder {audio_dir} does not exist")
    meta = find_audio_files(audio_dir, resolve=True, minimal=True, progress=progress)
    if not meta:
        raise BeatLMError(f"no audio file under {audio_dir}")
    target = Path(out_dir) / "data.jsonl.gz"
    with atomic_path(target, overwrite=overwrite) as tmp:
        save_audio_meta(tmp.with_suffix(".gz"), meta)  # audiocraft picks gzip from the suffix
        tmp.with_suffix(".gz").replace(tmp)
    return target
