"""`beatlm data fetch`: audio for each caption's search query (or explicit URLs) through yt-dlp."""

import argparse
from pathlib import Path

from ...utils.errors import BeatLMError


def add_parser(steps: argparse._SubParsersAction) -> None:
    parser = steps.add_parser(
        "fetch", help="download best audio as WAV for each caption's query (yt-dlp), resumable",
        description="Search each caption's query (ytsearchN:QUERY) and/or take explicit URLs, keep entries within "
                    "the duration and size bounds (no live streams), convert the best audio to WAV with ffmpeg, "
                    "and write beside each file a sidecar JSON with its source URL, title, uploader, duration, "
                    "licence as reported, and the caption. A download archive makes re-runs skip what is done. "
                    "Respect the terms of the sites you download from and the licences of what you keep.")
    parser.add_argument("captions", nargs="?", type=Path, default=None,
                        help="captions JSON-lines file (from `beatlm data captions`)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (new, or one to continue)")
    parser.add_argument("--urls", type=Path, default=None, help="text file of URLs to download, one per line")
    parser.add_argument("--per-query", type=int, default=3, help="search results per caption (default: %(default)s)")
    parser.add_argument("--min-duration", type=float, default=30.0, help="seconds (default: %(default)s)")
    parser.add_argument("--max-duration", type=float, default=600.0, help="seconds (default: %(default)s)")
    parser.add_argument("--max-filesize", type=float, default=200.0, help="MB per download (default: %(default)s)")
    parser.add_argument("--max-downloads", type=int, default=None, help="stop after this many new files")
    parser.add_argument("--sleep", type=float, default=1.0,
                        help="seconds between searches and downloads (default: %(default)s)")
    parser.add_argument("--rate-limit", type=float, default=None, help="download speed cap, MB/s")
    parser.add_argument("--search", default="ytsearch", help="yt-dlp search prefix (default: %(default)s)")
    parser.add_argument("--no-network-check", action="store_true",
                        help="do not check that the first host is reachable before starting")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ...dataset_builders.fetch import FetchOptions, fetch
    from ...dataset_builders.step_utils import stop_on_disk_full
    if args.captions is None and args.urls is None:
        raise BeatLMError("give a captions file (from `beatlm data captions`) and/or --urls FILE")
    options = FetchOptions(per_query=args.per_query, min_duration=args.min_duration, max_duration=args.max_duration,
                           max_filesize_mb=args.max_filesize, max_downloads=args.max_downloads, sleep=args.sleep,
                           rate_limit_mb=args.rate_limit, search=args.search,
                           check_network=not args.no_network_check)
    with stop_on_disk_full("fetch"):
        summary = fetch(args.out, captions=args.captions, urls=args.urls, options=options, progress=not args.quiet)
    print(summary.format())
    print(f"audio and sidecars: {args.out}  (failures: {args.out / 'fetch_failures.jsonl'})")
    return 0
