"""`beatlm doctor`: what this machine has, what is missing, and the command that fixes it."""

import argparse
import importlib.metadata
from pathlib import Path
import shutil
import socket
import typing as tp

from .. import __version__
from ..bends.audiocraft_env import default_dora_dir

SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/soundfonts", "/usr/share/sounds/sf3")
# (distribution, fix) for the Python packages BeatLM builds on.
PACKAGES = [
    ("torch", "make setup"), ("torchaudio", "make setup"), ("audiocraft", "make setup"),
    ("dora-search", "make setup"), ("flashy", "make setup"), ("hydra-core", "make setup"),
    ("musiclm-pytorch", "make setup"), ("librosa", "make setup"), ("demucs", "make setup"),
]
HOSTS = [("pypi.org", 443), ("huggingface.co", 443)]


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("doctor", help="check the installation and the machine",
                            description="Report versions, system tools, soundfonts, disk and network, "
                                        "and the command that fixes anything missing.")
    parser.add_argument("--no-network", action="store_true", help="skip the network reachability check")
    parser.set_defaults(run=run)


def _version(dist: str) -> tp.Optional[str]:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def soundfonts() -> tp.List[Path]:
    """General MIDI soundfonts found on this machine (Debian's folders and pretty_midi's bundled one)."""
    found = [p for d in SOUNDFONT_DIRS for p in sorted(Path(d).glob("*.sf[23]"))]
    try:
        import pretty_midi
        bundled = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        if bundled.is_file():
            found.append(bundled)
    except ImportError:
        pass
    return found


def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a TCP connection to host:port opens within `timeout` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def torchaudio_status() -> str:
    from ..bends.torchaudio_cpu import extension_libraries
    try:
        libs = extension_libraries()
    except ModuleNotFoundError:
        return "missing"
    if libs:
        return "compiled extension present (fix: python -m beatlm.bends.torchaudio_cpu)"
    return "pure Python (ok)"


def checks(network: bool = True) -> tp.List[tp.Tuple[str, str, tp.Optional[str]]]:
    """Every check as (name, finding, fix or None when fine)."""
    rows: tp.List[tp.Tuple[str, str, tp.Optional[str]]] = [("beatlm", __version__, None)]
    for dist, fix in PACKAGES:
        version = _version(dist)
        rows.append((dist, version or "missing", None if version else fix))
    rows.append(("torchaudio extension", torchaudio_status(), None))
    if rows[-1][1].startswith("compiled"):
        rows[-1] = (rows[-1][0], rows[-1][1], "python -m beatlm.bends.torchaudio_cpu")
    for tool, package in [("ffmpeg", "ffmpeg"), ("fluidsynth", "fluidsynth")]:
        where = shutil.which(tool)
        rows.append((tool, where or "missing", None if where else f"sudo apt-get install -y {package}"))
    fonts = soundfonts()
    rows.append(("soundfonts", ", ".join(str(f) for f in fonts) or "none",
                 None if fonts else "sudo apt-get install -y timgm6mb-soundfont"))
    dora_dir = default_dora_dir()
    probe = dora_dir if dora_dir.exists() else next(p for p in dora_dir.parents if p.exists())
    free_gb = shutil.disk_usage(probe).free / 1e9
    rows.append(("dora dir", str(dora_dir), None))
    rows.append(("free disk", f"{free_gb:.1f} GB at {probe}",
                 None if free_gb > 5 else "free some disk space (training writes checkpoints)"))
    if network:
        for host, port in HOSTS:
            ok = reachable(host, port)
            rows.append((f"network {host}", "reachable" if ok else "unreachable (offline)", None))
        if not any(r[1] == "reachable" for r in rows if r[0] == "network huggingface.co"):
            rows.append(("model hub", "offline: no pretrained download; BeatLM trains and ships its own", None))
    return rows


def run(args: argparse.Namespace) -> int:
    rows = checks(network=not args.no_network)
    width = max(len(name) for name, _, _ in rows)
    for name, finding, _ in rows:
        print(f"{name:<{width}}  {finding}")
    fixes = [(name, fix) for name, _, fix in rows if fix]
    if fixes:
        print("\nmissing:")
        for name, fix in fixes:
            print(f"  {name}: {fix}")
        return 1
    print("\nall good")
    return 0
