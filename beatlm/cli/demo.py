"""`beatlm demo`: the main job until the default model ships.

Renders a few seconds of test audio, trains the micro codec for a few updates through Dora,
exports it, and writes a reconstruction next to the input.
"""

import argparse
import os
from pathlib import Path
import shutil
import subprocess
import sys
import time
import typing as tp

from ..utils.errors import BeatLMError

SAMPLE_RATE = 32000


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="train a tiny codec on test audio and reconstruct a clip",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/demo", help="output folder (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default: %(default)s)")
    parser.add_argument("--updates", type=int, default=5, help="updates per epoch (default: %(default)s)")
    parser.set_defaults(run=run)


def dora_overrides(egs: Path, epochs: int, updates: int) -> tp.List[str]:
    """The `dora run` arguments of the demo experiment."""
    return ["solver=compression/beats", "model_scale=micro",
            f"datasource.train={egs / 'train'}", f"datasource.valid={egs / 'valid'}",
            f"datasource.evaluate={egs / 'valid'}", f"datasource.generate={egs / 'valid'}",
            f"optim.epochs={epochs}", f"optim.updates_per_epoch={updates}",
            "evaluate.every=null", "generate.every=null", "checkpoint.save_every=null"]


def run(args: argparse.Namespace) -> int:
    if args.epochs < 1 or args.updates < 1:
        raise BeatLMError("--epochs and --updates must be at least 1")
    out = Path(args.out).resolve()
    audio, egs, dora_dir = out / "audio", out / "egs", out / "dora"
    from ..data.manifest import write_manifest
    from ..dataset_builders.loops import write_loops

    print(f"[1/4] rendering test audio into {audio}")
    write_loops(audio / "train", count=4, seconds=4.0, sample_rate=SAMPLE_RATE, seed=0)
    write_loops(audio / "valid", count=1, seconds=4.0, sample_rate=SAMPLE_RATE, seed=100)
    for split in ("train", "valid"):
        write_manifest(audio / split, egs / split)

    overrides = dora_overrides(egs, args.epochs, args.updates)
    print(f"[2/4] training the micro codec through Dora: dora -P beatlm run {' '.join(overrides)}")
    env = dict(os.environ, AUDIOCRAFT_DORA_DIR=str(dora_dir))
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "dora", "-P", "beatlm", "run", *overrides], env=env)
    if proc.returncode != 0:
        raise BeatLMError(f"codec training failed (exit code {proc.returncode}); see the log above")
    print(f"      trained in {time.time() - start:.1f} s")

    os.environ["AUDIOCRAFT_DORA_DIR"] = str(dora_dir)
    from .. import train
    train.main.dora.dir = dora_dir
    xp = train.main.get_xp(overrides)
    codec_file = out / "codec.th"
    from ..utils.export import export_codec
    print(f"[3/4] exporting the codec of XP {xp.sig} to {codec_file}")
    export_codec(xp.folder, codec_file, overwrite=True)

    print("[4/4] encoding and decoding a clip with the exported codec")
    source = out / "input.wav"
    shutil.copyfile(audio / "valid" / "loop_000.wav", source)
    recon, frames = reconstruct(codec_file, source)
    print(f"\ninput:          {source}\nreconstruction: {recon} ({frames} codec frames)\n"
          f"codec:          {codec_file}\nexperiment:     {xp.folder}")
    return 0


def reconstruct(codec_file: Path, source: Path) -> tp.Tuple[Path, int]:
    """Encode then decode `source` with the codec in `codec_file`; writes `<stem>_recon.wav` beside it."""
    from audiocraft.data.audio import audio_read, audio_write
    from audiocraft.data.audio_utils import convert_audio
    import torch

    from ..models.loaders import load_compression_model
    model = load_compression_model(codec_file)
    wav, sr = audio_read(source)
    wav = convert_audio(wav, sr, model.sample_rate, model.channels)
    with torch.no_grad():
        codes, scale = model.encode(wav[None])
        decoded = model.decode(codes, scale)[0, :, :wav.shape[-1]]
    stem = source.with_name(source.stem + "_recon")
    path = audio_write(stem, decoded, model.sample_rate, format="wav", strategy="peak")
    return Path(path), codes.shape[-1]
