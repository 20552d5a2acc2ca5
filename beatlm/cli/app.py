"""`beatlm app`: the web studio, a Gradio page served from this machine.

    beatlm app [--model DIR] [--host 127.0.0.1] [--port 7860] [--out studio]

Generate tab: a prompt (or a style preset), optional BPM and key folded into the prompt, duration,
candidates re-ranked by MuLaN, seed; each beat plays in the page with its spectrogram and MuLaN score,
downloads as WAV or MP3, and exports to MIDI through basic-pitch. The session's beats stay re-playable.
Listening test tab: 1-5 ratings and blind A/B comparisons stored in SQLite (--out/studio.sqlite),
exported as CSV; Best rated tab: the best-rated samples.

Generation runs one request at a time in a queue of --queue-size; a request that finds it full is refused
with a message. A model that does not load leaves the page up, saying why. Gradio's analytics are off:
the studio works offline. Samples, sidecars, MIDI and CSV exports are written under --out.
"""

import argparse
import os
from pathlib import Path

from ..utils.errors import BeatLMError

QUEUE_SIZE = 4


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("app", help="the web studio: generate, download, export MIDI, rate (Gradio)",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model bundle folder (beatlm export bundle) or hub id; "
                                        "default: the model shipped with BeatLM")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; 0.0.0.0 opens the studio to the network (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("studio"),
                        help="folder for samples, MIDI, CSV exports and the ratings database (default: %(default)s)")
    parser.add_argument("--queue-size", type=int, default=QUEUE_SIZE,
                        help="generation requests admitted at once, the running one included; more are refused "
                             "with a message (default: %(default)s)")
    parser.add_argument("--max-duration", type=float, default=30.0,
                        help="longest beat the page serves, in seconds (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")
    parser.set_defaults(run=run)


def check_args(args: argparse.Namespace) -> None:
    """Refuse impossible options before anything is loaded."""
    from ..models.musiclm import MAX_DURATION, MIN_DURATION
    if not 0 < args.port < 65536:
        raise BeatLMError(f"--port must be between 1 and 65535, got {args.port}")
    if args.queue_size < 1:
        raise BeatLMError(f"--queue-size must be at least 1, got {args.queue_size}")
    if not MIN_DURATION <= args.max_duration <= MAX_DURATION:
        raise BeatLMError(f"--max-duration must be in [{MIN_DURATION:g}, {MAX_DURATION:g}] seconds, "
                          f"got {args.max_duration:g}")
    if args.device not in ("auto", "cpu") and not args.device.startswith("cuda"):
        raise BeatLMError(f"--device must be auto, cpu or cuda[:N], got {args.device}")
    if args.out.exists() and not args.out.is_dir():
        raise BeatLMError(f"--out {args.out} is a file; the studio needs a folder")


def run(args: argparse.Namespace) -> int:
    check_args(args)
    # Gradio reports usage to its servers unless told not to; the studio works offline and stays quiet.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from ..app.studio import SAMPLES, Studio
    from ..app.ui import EXPORTS, build_ui
    from ..models.musiclm import resolve_device
    studio = Studio(args.out, model=args.model, device=resolve_device(args.device), queue_size=args.queue_size,
                    max_duration=args.max_duration)
    studio.start_loading()
    demo = build_ui(studio)
    # Gradio's own queue only backs up the studio's: generation requests are admitted (or refused) by
    # `studio.queue`; this bound keeps a flood of any other event from piling up in memory.
    demo.queue(max_size=4 * args.queue_size + 32, default_concurrency_limit=4)
    try:
        # Only the sample and export folders are served (the database is not); run history would offer to
        # upload runs to a Hugging Face bucket: off.
        demo.launch(server_name=args.host, server_port=args.port, share=False, inbrowser=False, show_error=False,
                    allowed_paths=[str(studio.path(SAMPLES)), str(studio.path(EXPORTS))], ssr_mode=False,
                    enable_monitoring=False, mcp_server=False, run_history=False, footer_links=["api", "settings"])
    except OSError as exc:  # the port is taken, or the host is not an address of this machine
        raise BeatLMError(f"cannot serve on {args.host}:{args.port}: {exc}") from None
    return 0
