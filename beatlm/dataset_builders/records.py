"""Append-only JSON-lines files that survive a `kill -9`, and the done/skipped/failed tally of a step.

A record is one line written with a single `write` and flushed to disk, so an interrupted run can
only leave a last line without its newline. `read_jsonl` skips (and counts) lines that do not parse,
`JsonlWriter` cuts such an unfinished last line off before appending, so a re-run rewrites it.
"""

import json
import os
from pathlib import Path
import typing as tp

from ..utils.errors import BeatLMError


def read_jsonl(path: tp.Union[str, Path]) -> tp.Tuple[tp.List[tp.Dict[str, tp.Any]], int]:
    """Records of a JSON-lines file, and the number of broken lines skipped.

    A broken line is one that is not a JSON object (including a last line cut short by a kill).
    Blank lines are ignored. A missing file is a BeatLMError.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BeatLMError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise BeatLMError(f"{path} is a folder, not a JSON-lines file") from None
    records, broken = [], 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            broken += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            broken += 1
    return records, broken


def repair_tail(path: Path) -> int:
    """Cut an unfinished last line (no trailing newline) off `path`; returns the bytes removed."""
    if not path.exists():
        return 0
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb+") as f:
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return 0
        keep = 0
        chunk = 1 << 16
        end = size
        while end > 0:  # find the last newline, reading backwards
            start = max(0, end - chunk)
            f.seek(start)
            data = f.read(end - start)
            pos = data.rfind(b"\n")
            if pos >= 0:
                keep = start + pos + 1
                break
            end = start
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return size - keep


class JsonlWriter:
    """Appends records to a JSON-lines file, one durable line at a time.

    Args:
        path: The file (created with its folder if missing). An unfinished last line is removed first.
    """

    def __init__(self, path: tp.Union[str, Path]):
        self.path = Path(path)
        if self.path.is_dir():
            raise BeatLMError(f"{self.path} is a folder; give a file name such as {self.path / 'captions.jsonl'}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired = repair_tail(self.path)
        self._file = open(self.path, "ab")

    def write(self, record: tp.Mapping[str, tp.Any]) -> None:
        """Append one record and make it durable (flush + fsync) before returning."""
        line = (json.dumps(dict(record), ensure_ascii=False) + "\n").encode("utf-8")
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: tp.Any) -> None:
        self.close()
