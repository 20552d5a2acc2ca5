"""`beatlm data features`: mel spectrogram, MFCCs and chroma of every clip, as `.npz` beside it."""

import argparse
from pathlib import Path


def add_parser(steps: argparse._SubParsersAction) -> None:
    parser = steps.add_parser(
        "features", help="librosa mel spectrogram, MFCCs and chroma per clip (CLIP.npz beside CLIP.wav)",
        description="Compute, for every clip (WAV, FLAC, OGG) under DIR, its log-mel spectrogram (`mel`, dB), "
                    "MFCCs (`mfcc`) and chroma (`chroma`) from one STFT of the mono clip, and save them with "
                    "`sample_rate`, `hop_length` and `n_fft` as CLIP.npz (numpy.load, no pickles). Re-runs skip "
                    "clips that have features.")
    parser.add_argument("dir", type=Path, help="folder of clips (from `beatlm data segment`)")
    parser.add_argument("--sample-rate", type=int, default=22050, help="analysis rate, Hz (default: %(default)s)")
    parser.add_argument("--n-mels", type=int, default=128, help="mel bands (default: %(default)s)")
    parser.add_argument("--n-mfcc", type=int, default=20, help="MFCCs (default: %(default)s)")
    parser.add_argument("--n-fft", type=int, default=2048, help="FFT size (default: %(default)s)")
    parser.add_argument("--hop-length", type=int, default=512, help="samples between frames (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="recompute existing features")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ...dataset_builders.features import run_features
    summary = run_features(args.dir, args.sample_rate, args.n_mels, args.n_mfcc, args.n_fft, args.hop_length,
                           force=args.force, progress=not args.quiet)
    print(summary.format())
    return 1 if summary.failed and not summary.done and not summary.skipped else 0
