"""Load check of a running `beatlm app`: N generation requests at once; prints what happened to each and the
server's memory.

    beatlm app --port 7860 --queue-size 4 &
    python scripts/bench_app.py --url http://127.0.0.1:7860/ --requests 20 --pid $!

Only loopback addresses are accepted: this sends bursts of requests and is meant for your own server.
"""

import argparse
from concurrent.futures import ThreadPoolExecutor
import statistics
import sys
import time
import typing as tp
from urllib.parse import urlparse


def one(url: str, seed: int, duration: float) -> tp.Tuple[str, float]:
    from gradio_client import Client
    begin = time.perf_counter()
    try:
        message = Client(url, verbose=False).predict("trap beat", "", "", duration, 1, str(seed),
                                                     api_name="/generate")[0]
    except Exception as exc:  # a crash or a refused connection is a result here
        message = f"client error: {type(exc).__name__}: {exc}"
    return message, time.perf_counter() - begin


def main(argv: tp.Optional[tp.Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--duration", type=float, default=0.5, help="seconds of audio per request")
    parser.add_argument("--pid", type=int, help="the server's process id, to report its memory")
    args = parser.parse_args(argv)
    if urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--url must be a loopback address")
    import psutil
    server = psutil.Process(args.pid) if args.pid else None
    rss = server.memory_info().rss if server else 0
    begin = time.perf_counter()
    with ThreadPoolExecutor(args.requests) as pool:
        results = list(pool.map(lambda i: one(args.url, i, args.duration), range(args.requests)))
    wall = time.perf_counter() - begin
    kinds: tp.Dict[str, tp.List[float]] = {}
    for message, seconds in results:
        kind = ("generated" if message.startswith("Generated in") else "queue full" if "queue is full" in message
                else message[:80])
        kinds.setdefault(kind, []).append(seconds)
    print(f"{args.requests} concurrent requests of {args.duration:g} s in {wall:.1f} s")
    for kind, times in sorted(kinds.items()):
        print(f"  {kind}: {len(times)} (latency median {statistics.median(times):.2f} s, max {max(times):.2f} s)")
    alive = one(args.url, 0, args.duration)[0]
    print(f"server answers afterwards: {alive[:60]!r}")
    if server:
        print(f"server RSS: {rss / 2**20:.0f} MiB before, {server.memory_info().rss / 2**20:.0f} MiB after")
    return 0 if set(kinds) <= {"generated", "queue full"} else 1


if __name__ == "__main__":
    sys.exit(main())
