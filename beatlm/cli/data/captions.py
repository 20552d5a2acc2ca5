"""`beatlm data captions`: structured captions of rap beats, from a chat model or the offline grammar."""

import argparse
import os
from pathlib import Path

from ...utils.errors import BeatLMError


def add_parser(steps: argparse._SubParsersAction) -> None:
    parser = steps.add_parser(
        "captions", help="write structured captions (chat model or offline grammar), resumable",
        description="Append captions (description, style, bpm, key, moods, instruments, search query) to a "
                    "JSON-lines file until it holds --n, skipping invalid answers and near-duplicates. Re-run the "
                    "same command to continue. The openai backend reads the API key from OPENAI_API_KEY and the "
                    "server from --base-url or OPENAI_BASE_URL (any OpenAI-compatible server).")
    parser.add_argument("--n", type=int, required=True, help="captions wanted in the file")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file to create or continue")
    parser.add_argument("--backend", choices=("openai", "template"), default="openai",
                        help="openai: a chat model; template: the corpus caption grammar, offline "
                             "(default: %(default)s)")
    parser.add_argument("--model", default=None, help="chat model name (openai backend)")
    parser.add_argument("--base-url", default=None, help="server URL (default: $OPENAI_BASE_URL or OpenAI's)")
    parser.add_argument("--max-requests", type=int, default=200,
                        help="request budget of this run, retries included (default: %(default)s)")
    parser.add_argument("--per-request", type=int, default=10, help="captions asked per request (default: %(default)s)")
    parser.add_argument("--max-retries", type=int, default=4,
                        help="retries of a request on 429, 5xx and timeouts (default: %(default)s)")
    parser.add_argument("--backoff", type=float, default=1.0,
                        help="first retry delay in seconds, doubled each retry (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default: %(default)s)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: %(default)s)")
    parser.add_argument("--dedup-threshold", type=float, default=0.8,
                        help="token Jaccard similarity at which a caption is a near-duplicate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the hints / of the grammar (default: %(default)s)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def make_source(args: argparse.Namespace):
    """The caption source the options ask for."""
    from ...dataset_builders import captions
    if args.backend == "template":
        return captions.TemplateSource(seed=args.seed)
    if not args.model:
        raise BeatLMError("--model is required with --backend openai (or use --backend template)")
    key = os.environ.get("OPENAI_API_KEY", "")
    if not key:
        raise BeatLMError("OPENAI_API_KEY is not set; export it, or write captions offline with --backend template")
    from ...dataset_builders.chat import ChatSource
    return ChatSource(args.model, key, base_url=args.base_url or os.environ.get("OPENAI_BASE_URL") or None,
                      per_request=args.per_request, max_requests=args.max_requests, max_retries=args.max_retries,
                      backoff=args.backoff, timeout=args.timeout, seed=args.seed, temperature=args.temperature)


def run(args: argparse.Namespace) -> int:
    from ...dataset_builders import captions
    from ...dataset_builders.step_utils import stop_on_disk_full
    source = make_source(args)
    with stop_on_disk_full("captions"):
        summary = captions.write_captions(args.out, args.n, source, dedup_threshold=args.dedup_threshold,
                                          progress=not args.quiet)
    print(summary.format())
    print(f"captions: {args.out}")
    return 0
