"""`beatlm eval`: a model bundle on a prompt set (report folder), or `mulan|semantic-tokenizer` on manifests.

    beatlm eval --model models/beatlm-micro --prompts prompts.jsonl --out report/ [--reference corpus/egs/test]
    beatlm eval mulan --model out/mulan.th --manifest corpus/egs/test
    beatlm eval codec --model models/beatlm-micro --audio ../real-cc0 --opus 6 --out codec-report/
"""

import argparse
import json
from pathlib import Path
import typing as tp

from ..utils.errors import BeatLMError


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval", help="evaluate a model bundle on prompts, or a trained part on held-out data",
        usage="beatlm eval [--model DIR] --prompts FILE --out DIR [options]\n       beatlm eval KIND ...",
        description="Without KIND: generate --seeds samples per prompt with a model bundle and write report.md, "
                    "report.json, plots and the samples to --out (tempo and key adherence, MuLaN cycle consistency, "
                    "vocal presence, Fréchet distance to --reference, diversity, codec reconstruction), each target "
                    "marked met or not. With KIND: metrics of an exported MuLaN, semantic tokenizer or codec.")
    add_model_options(parser)
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=False)
    mulan = kinds.add_parser(
        "mulan", help="MuLaN text-to-audio retrieval and zero-shot style accuracy",
        description="Embed every clip (whole, over windows) and its sidecar description; report text-to-audio "
                    "recall@1/5/10, median rank and zero-shot style accuracy (prompting each MusicInfo genre), "
                    "each beside its chance level.")
    mulan.add_argument("--model", required=True, help="MuLaN export, //sig/<SIG> or XP folder")
    mulan.add_argument("--manifest", action="append", required=True,
                       help="folder holding data.jsonl.gz (clips with MusicInfo sidecars); repeat to pool several")
    mulan.add_argument("--template", default="a {} beat", help="zero-shot prompt per style (default: %(default)s)")
    mulan.add_argument("--batch-size", type=int, default=16, help="clips per batch (default: %(default)s)")
    mulan.add_argument("--limit", type=int, default=None, help="evaluate on the first N clips only")
    mulan.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    mulan.set_defaults(run=run_mulan)
    tok = kinds.add_parser(
        "semantic-tokenizer", help="probe semantic tokens: style and tempo accuracy from token histograms",
        description="Tokenise every clip, then train a logistic regression on each clip's token histogram (a fixed "
                    "split of the clips) to predict its MusicInfo genre and tempo bucket; report test accuracy "
                    "beside chance (the majority class).")
    tok.add_argument("--model", required=True, help="semantic tokenizer file (beatlm fit semantic-tokenizer)")
    tok.add_argument("--manifest", action="append", required=True,
                     help="folder holding data.jsonl.gz (clips with MusicInfo sidecars); repeat to pool several")
    tok.add_argument("--mulan", default=None, help="MuLaN to use if not where the tokenizer was fitted with it")
    tok.add_argument("--encoder", default=None, help="encoder folder, if not where the tokenizer was fitted")
    tok.add_argument("--train-fraction", type=float, default=0.6, help="clips the probe trains on (default: 0.6)")
    tok.add_argument("--tempo-buckets", type=int, default=5, help="tempo classes (bpm quantiles; default: 5)")
    tok.add_argument("--bigrams", action="store_true", help="add hashed token-bigram histograms")
    tok.add_argument("--seed", type=int, default=0, help="seed of the split and classifier (default: 0)")
    tok.add_argument("--limit", type=int, default=None, help="evaluate on the first N clips only")
    tok.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    tok.set_defaults(run=run_semantic_tokenizer)
    codec = kinds.add_parser(
        "codec", help="what a codec keeps of audio: tempo, key, chroma and onset correlation, frame-rate buzz",
        usage="beatlm eval codec (--model DIR | --codec FILE) (--audio DIR | --corpus DIR) --out DIR [options]",
        description="Encode and decode every file with the codec (and with Opus through ffmpeg when --opus is given), "
                    "then measure each version against the original: tempo and key against the MusicInfo sidecar's "
                    "labels where there is one, chroma and onset-envelope correlation, log-mel L1, and how many of "
                    "the 12 strongest spectral peaks sit on multiples of the codec's frame rate. Writes report.md, "
                    "report.json and spectrograms.png to --out.")
    which = codec.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="model bundle folder: its codec")
    which.add_argument("--codec", help="codec export (beatlm export codec), training checkpoint or //sig/<SIG>")
    audio = codec.add_mutually_exclusive_group(required=True)
    audio.add_argument("--audio", type=Path, help="folder of audio files (WAV/FLAC/MP3/OGG; not recursive)")
    audio.add_argument("--corpus", type=Path, help="rendered corpus folder: every clip under its audio/")
    codec.add_argument("--out", type=Path, required=True, help="report folder (new or empty, unless --overwrite)")
    codec.add_argument("--opus", type=float, default=None, metavar="KBPS",
                       help="also measure Opus at this bitrate (ffmpeg libopus), e.g. 6")
    codec.add_argument("--limit", type=int, default=None, help="the first N files only")
    codec.add_argument("--overwrite", action="store_true", help="write into a non-empty report folder")
    codec.add_argument("--quiet", action="store_true", help="no progress bar")
    codec.set_defaults(run=run_codec)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options of `beatlm eval` without KIND (a model bundle on a prompt set)."""
    parser.add_argument("--model", help="model bundle folder (beatlm export bundle) or hub id; default: the model "
                                        "shipped with BeatLM")
    parser.add_argument("--prompts", type=Path, help="prompts: .txt (one a line) or .jsonl (prompt, bpm, key, style)")
    parser.add_argument("--out", type=Path, help="report folder (new or empty, unless --overwrite)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per sample (default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=2, help="samples per prompt, one seed each (default: %(default)s)")
    parser.add_argument("--reference", type=Path, help="manifest folder of real clips for the Fréchet distance "
                                                       "(e.g. <corpus>/egs/test); skipped when not given")
    parser.add_argument("--codec-audio", type=Path, help="folder of real audio for codec reconstruction "
                                                         "(default: the bundled CC0 drum one-shots)")
    parser.add_argument("--candidates", type=int, default=1,
                        help="MuLaN re-ranking candidates per sample (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="base seed: prompt i, sample j uses seed + i * seeds + j "
                                                            "(default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty report folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_model)


def run_model(args: argparse.Namespace) -> int:
    from ..evaluation.model_report import evaluate_model
    if args.prompts is None or args.out is None:
        raise BeatLMError("beatlm eval needs --prompts FILE and --out DIR to evaluate a model bundle "
                          "(or a KIND: mulan, semantic-tokenizer)")
    if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
        raise BeatLMError(f"--device must be auto, cpu or cuda[:N], got {args.device}")
    if args.candidates < 1:
        raise BeatLMError("--candidates must be at least 1")
    report = evaluate_model(args.model, args.prompts, args.out, duration=args.duration, seeds=args.seeds,
                            reference=args.reference, codec_audio=args.codec_audio, device=args.device,
                            progress=not args.quiet, seed=args.seed, overwrite=args.overwrite,
                            candidates=args.candidates)
    for target in report["targets"]:
        value = "n/a" if target["value"] is None else f"{target['value']:.3f}"
        result = "not evaluated" if target["met"] is None else ("met" if target["met"] else "NOT met")
        print(f"{target['name']:<24} {value:>7}  ({target['target']}): {result}")
    print(f"report: {args.out / 'report.md'}")
    return 0


def run_codec(args: argparse.Namespace) -> int:
    from ..evaluation.codec_report import evaluate_codec
    from ..metrics.codec import audio_files
    from ..models.loaders import load_compression_model
    if args.limit is not None and args.limit < 1:
        raise BeatLMError("--limit must be at least 1")
    if args.opus is not None and not 0.5 <= args.opus <= 512:
        raise BeatLMError(f"--opus is a bitrate in kbps between 0.5 and 512, got {args.opus}")
    files = audio_files(args.corpus / "audio", recursive=True) if args.corpus else audio_files(args.audio)
    files = files[:args.limit] if args.limit else files
    source = Path(args.model) / "codec.th" if args.model else args.codec
    codec = load_compression_model(source)
    report = evaluate_codec(codec, files, args.out, opus_kbps=args.opus, codec_name=str(source),
                            overwrite=args.overwrite, progress=not args.quiet)
    for name, s in report["versions"].items():
        tempo = "" if s["tempo_accuracy"] is None else f"tempo {100 * s['tempo_accuracy']:.0f} %  "
        key = "" if s["key_accuracy"] is None else f"key {100 * s['key_accuracy']:.0f} %  "
        print(f"{name}: {tempo}{key}chroma r {s['chroma_corr']:.3f}  onset r {s['onset_corr']:.3f}  "
              f"log-mel L1 {s['log_mel_l1_db']:.2f} dB  frame-rate peaks {s['frame_rate_peaks']:.1f}/12")
    for skipped in report["skipped"]:
        print(f"skipped {skipped['file']}: {skipped['reason']}")
    print(f"report: {args.out / 'report.md'}")
    return 0


def _music_loader(manifests: tp.Sequence[str], sample_rate: int, batch_size: int, limit: tp.Optional[int]):
    from audiocraft.data.audio_dataset import load_audio_meta
    from audiocraft.data.music_dataset import MusicDataset
    import torch

    from ..data.checks import manifest_file
    meta = [m for path in manifests for m in load_audio_meta(manifest_file(path))]
    meta = meta[:limit] if limit else meta
    if not meta:
        raise BeatLMError("the manifests list no clip")
    dataset = MusicDataset(meta, segment_duration=None, shuffle=False, num_samples=len(meta), sample_rate=sample_rate,
                           channels=1, return_info=True, info_fields_required=False)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, collate_fn=dataset.collater)


def run_mulan(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..metrics.mulan import embed_pairs, mulan_metrics
    from ..models.loaders import load_mulan_model
    if args.batch_size < 1 or (args.limit is not None and args.limit < 2):
        raise BeatLMError("--batch-size must be at least 1 and --limit at least 2")
    model = load_mulan_model(args.model)
    loader = _music_loader(args.manifest, model.sample_rate, args.batch_size, args.limit)
    batches = tqdm(loader, desc="embedding clips", unit="batch")
    audio, text, genres, texts = embed_pairs(model, batches, model.sample_rate)
    metrics = mulan_metrics(model, audio, text, genres, args.template, texts=texts)
    n = int(metrics["retrieval_pool"])
    print(f"clips: {n}")
    for k in (1, 5, 10):
        print(f"text->audio recall@{k:<2}  {metrics[f'recall@{k}']:.3f}   (chance {metrics[f'recall@{k}_chance']:.3f})")
    groups = [f"{name} {metrics[f'recall@10_names_{name}']:.3f} ({int(metrics[f'captions_naming_{name}'])})"
              for name in ("tempo", "key", "neither") if f"recall@10_names_{name}" in metrics]
    print(f"  by what the caption names: {', '.join(groups)}   (recall@10, captions)")
    print(f"median rank            {metrics['median_rank']:.0f} of {n}   (chance {(n + 1) / 2:.0f})")
    if "zero_shot_accuracy" in metrics:
        print(f"zero-shot style        {metrics['zero_shot_accuracy']:.3f}   "
              f"(chance {metrics['zero_shot_chance']:.3f}, {int(metrics['zero_shot_classes'])} styles, "
              f"prompt '{args.template}')")
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


def run_semantic_tokenizer(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from ..data.clips import iter_clips, manifest_entries, sidecar
    from ..metrics.probing import probe_tokens
    from ..modules.semantic_tokenizer import SemanticTokenizer
    if not 0 < args.train_fraction < 1 or args.tempo_buckets < 2 or (args.limit is not None and args.limit < 4):
        raise BeatLMError("--train-fraction must be in (0, 1), --tempo-buckets at least 2 and --limit at least 4")
    tokenizer = SemanticTokenizer.load(args.model, location=args.mulan or args.encoder)
    entries = manifest_entries(args.manifest, args.limit)
    start = time.time()
    clips = tqdm(iter_clips(entries), total=len(entries), desc="tokenising clips", unit="clip")
    tokens = [tokenizer.encode(wav[None], sr)[0] for wav, sr in clips]
    encode_seconds = time.time() - start
    infos = [sidecar(entry.path) for entry in entries]
    results = probe_tokens(tokens, tokenizer.cardinality, infos, train_fraction=args.train_fraction,
                           tempo_classes=args.tempo_buckets, bigrams=args.bigrams, seed=args.seed)
    if not results:
        raise BeatLMError("no clip has a sidecar with a genre or bpm to probe (MusicInfo JSON next to each file)")
    used = len(set(int(t) for seq in tokens for t in seq.unique()))
    print(f"clips: {len(entries)}   tokens: {tokenizer.cardinality} ({used} used) at {tokenizer.frame_rate:g}/s, "
          f"source {tokenizer.source.name}, signature {tokenizer.signature()}")
    for name, m in results.items():
        print(f"{name:<6} accuracy {m['accuracy']:.3f}   (chance {m['chance']:.3f}, {int(m['classes'])} classes, "
              f"{int(m['train'])} train / {int(m['test'])} test clips)")
    if args.json:
        metrics = {"tokenizer": str(args.model), "source": tokenizer.source.name, "clips": len(entries),
                   "cardinality": tokenizer.cardinality, "tokens_used": used, "signature": tokenizer.signature(),
                   "encode_seconds": round(encode_seconds, 2), "fit": tokenizer.fit_info, **results}
        Path(args.json).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0
