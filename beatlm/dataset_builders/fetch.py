"""Audio for captions through yt-dlp's Python API: a search per caption (or explicit URLs), filters, best
audio to WAV, a download archive, and a sidecar JSON per file with its source, licence and caption.

Layout of the output folder:

    OUT/<Extractor>-<id>.wav     best audio, converted by ffmpeg (appears only once complete)
    OUT/<Extractor>-<id>.json    sidecar: source URL, title, uploader, duration, licence as reported, caption
    OUT/archive.txt              yt-dlp download archive: ids already handled (kept or filtered out)
    OUT/fetch_jobs.jsonl         searches / URLs finished without failure (a re-run does not repeat them)
    OUT/fetch_failures.jsonl     what failed and why (retried by the next run)
    OUT/.tmp/                    downloads in progress (emptied at the start of each run)

A download counts once its sidecar exists: the WAV is moved into OUT only when converted, and the
sidecar is written (atomically) after it.
"""

from dataclasses import dataclass
import datetime
import fcntl
import itertools
from pathlib import Path
import shutil
import socket
import time
import typing as tp
import urllib.parse
import urllib.request

from ..utils.errors import BeatLMError
from .records import JsonlWriter, read_jsonl, repair_tail
from .step_utils import StepSummary, write_json_atomic

ARCHIVE, JOBS, FAILURES, TEMP, LOCK = "archive.txt", "fetch_jobs.jsonl", "fetch_failures.jsonl", ".tmp", ".fetch.lock"
NETWORK_HINTS = ("urlopen error", "connection refused", "timed out", "name or service not known",
                 "temporary failure in name resolution", "network is unreachable", "no route to host",
                 "connection reset", "failed to resolve", "nodename nor servname")
MAX_NETWORK_FAILURES = 3
SEARCH_HOSTS = {"ytsearch": "www.youtube.com", "ytsearchdate": "www.youtube.com", "scsearch": "soundcloud.com"}


@dataclass
class FetchOptions:
    """What `fetch` downloads and how politely.

    Args:
        per_query: Search results tried per caption.
        min_duration: Shortest audio kept, seconds.
        max_duration: Longest audio kept, seconds.
        max_filesize_mb: Larger downloads are skipped (MB, before conversion).
        max_downloads: Stop after this many files kept in this run (None: no cap).
        sleep: Seconds to wait before each search, URL and download after the first.
        rate_limit_mb: Download speed cap in MB/s (None: none).
        socket_timeout: Seconds before a stalled connection fails.
        search: yt-dlp search prefix (`ytsearch`: YouTube).
        check_network: Check the first host is reachable before starting (fails fast when offline).
    """
    per_query: int = 3
    min_duration: float = 30.0
    max_duration: float = 600.0
    max_filesize_mb: float = 200.0
    max_downloads: tp.Optional[int] = None
    sleep: float = 1.0
    rate_limit_mb: tp.Optional[float] = None
    socket_timeout: float = 20.0
    search: str = "ytsearch"
    check_network: bool = True

    def check(self) -> None:
        if self.per_query < 1:
            raise BeatLMError(f"--per-query must be at least 1, got {self.per_query}")
        if not 0 <= self.min_duration < self.max_duration:
            raise BeatLMError(f"need 0 <= --min-duration < --max-duration, got {self.min_duration} and "
                              f"{self.max_duration}")
        if self.max_filesize_mb <= 0 or self.sleep < 0 or (self.max_downloads is not None and self.max_downloads < 1):
            raise BeatLMError("--max-filesize must be > 0, --sleep >= 0 and --max-downloads >= 1")


@dataclass
class Job:
    """One search (a caption) or one explicit URL."""
    key: str
    url: str
    caption: tp.Optional[tp.Dict[str, tp.Any]] = None
    search: bool = False


def search_url(query: str, per_query: int, search: str = "ytsearch") -> str:
    """The yt-dlp search URL of a query: `ytsearch3:dark trap type beat`."""
    return f"{search}{per_query}:{query}"


def caption_jobs(captions_path: Path, options: FetchOptions) -> tp.Tuple[tp.List[Job], int]:
    """A search job per caption with a query, and the number of broken or query-less lines skipped."""
    records, broken = read_jsonl(captions_path)
    jobs, seen = [], set()
    for record in records:
        query = record.get("query")
        if not isinstance(query, str) or not query.strip():
            broken += 1
            continue
        key = str(record.get("id") or query)
        if key not in seen:
            seen.add(key)
            url = search_url(" ".join(query.split()), options.per_query, options.search)
            jobs.append(Job(key, url, record, search=True))
    return jobs, broken


def url_jobs(urls_path: Path) -> tp.List[Job]:
    """A job per http(s) URL of a text file (one per line; blank lines and `#` comments ignored)."""
    try:
        lines = Path(urls_path).read_text().splitlines()
    except OSError as exc:
        raise BeatLMError(f"cannot read --urls {urls_path}: {exc.strerror or exc}") from None
    jobs = []
    for number, line in enumerate(lines, 1):
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        if urllib.parse.urlparse(url).scheme not in ("http", "https"):
            raise BeatLMError(f"{urls_path}:{number}: {url!r} is not an http(s) URL")
        jobs.append(Job(url, url))
    return jobs


def check_reachable(url: str, timeout: float = 5.0) -> None:
    """Fail fast (BeatLMError) when the host of `url` (or the proxy in between) cannot be connected to."""
    prefix = url.split(":", 1)[0].rstrip("0123456789")
    if prefix in SEARCH_HOSTS:
        host, port, scheme = SEARCH_HOSTS[prefix], 443, "https"
    else:
        parsed = urllib.parse.urlparse(url)
        scheme = parsed.scheme or "https"
        host, port = parsed.hostname or "", parsed.port or (443 if scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        parsed = urllib.parse.urlparse(proxy)
        host, port = parsed.hostname or host, parsed.port or 8080
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise BeatLMError(f"cannot reach {host}:{port} ({exc.strerror or exc}); fetch needs the network (or a "
                          "proxy in HTTPS_PROXY): check the connection and run the same command again") from None


class _Events:
    """What yt-dlp said while one entry was processed (its logger) and what the hooks saw."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.kept: tp.List[Path] = []
        self.rejected: tp.List[str] = []
        self.archived = False
        self.too_large = False
        self.errors: tp.List[str] = []

    # the yt-dlp logger interface
    def debug(self, message: str) -> None:
        if "has already been recorded in the archive" in message:
            self.archived = True
        elif "larger than max-filesize" in message:
            self.too_large = True

    def info(self, message: str) -> None:
        self.debug(message)

    def warning(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        self.errors.append(message)


def _sidecar_pp_class() -> type:
    from yt_dlp.postprocessor import PostProcessor

    class SidecarPP(PostProcessor):
        """After the WAV is in place: check it decodes and fits the duration bounds, then write its sidecar."""

        def __init__(self, fetcher: "Fetcher"):
            super().__init__()
            self.fetcher = fetcher

        def run(self, info: tp.Dict[str, tp.Any]) -> tp.Tuple[tp.List[str], tp.Dict[str, tp.Any]]:
            self.fetcher.on_file(info)
            return [], info

    return SidecarPP


class Fetcher:
    """Runs the jobs through one `yt_dlp.YoutubeDL` and keeps the summary."""

    def __init__(self, out: Path, options: FetchOptions, summary: StepSummary):
        import yt_dlp
        self.out, self.options, self.summary = out, options, summary
        self.events = _Events()
        self.job: tp.Optional[Job] = None
        self.kept_now = 0
        params: tp.Dict[str, tp.Any] = {
            "format": "bestaudio/best", "outtmpl": "%(extractor_key)s-%(id)s.%(ext)s", "restrictfilenames": True,
            "paths": {"home": str(out), "temp": str(out / TEMP)}, "download_archive": str(out / ARCHIVE),
            "postprocessors": [{"key": "FFmpegExtractAudio", "preferredcodec": "wav"}],
            "match_filter": self.match_filter, "max_filesize": int(options.max_filesize_mb * 1e6),
            "socket_timeout": options.socket_timeout, "logger": self.events, "quiet": True, "noprogress": True,
            "noplaylist": True, "ignoreerrors": False, "retries": 3, "overwrites": False,
        }
        if options.rate_limit_mb:
            params["ratelimit"] = int(options.rate_limit_mb * 1e6)
        self.ydl = yt_dlp.YoutubeDL(params)
        self.ydl.add_post_processor(_sidecar_pp_class()(self), when="after_move")

    def match_filter(self, info: tp.Dict[str, tp.Any], *, incomplete: bool = False) -> tp.Optional[str]:
        """yt-dlp's match filter: None to download, else why not (live, or a reported duration out of bounds)."""
        reason = reject_reason(info, self.options)
        if reason:
            self.events.rejected.append(reason)
        return reason

    def on_file(self, info: tp.Dict[str, tp.Any]) -> None:
        """Check a converted file and write its sidecar, or delete it (undecodable, too short or long)."""
        import soundfile as sf
        path = Path(info.get("filepath") or "")
        try:
            meta = sf.info(str(path))
            seconds = meta.frames / meta.samplerate
        except Exception as exc:
            path.unlink(missing_ok=True)
            self.events.errors.append(f"not decodable as audio ({str(exc)[:120]})")
            return
        if not self.options.min_duration <= seconds <= self.options.max_duration:
            path.unlink(missing_ok=True)
            self.events.rejected.append(f"{seconds:.1f} s outside {self.options.min_duration:g}-"
                                        f"{self.options.max_duration:g} s")
            return
        write_json_atomic(path.with_suffix(".json"), sidecar(info, seconds, meta.samplerate, meta.channels, self.job))
        self.events.kept.append(path)

    def entries(self, job: Job) -> tp.List[tp.Dict[str, tp.Any]]:
        """The entries of a job without downloading: a search's first `per_query` results, a URL itself (or
        every item of a playlist URL)."""
        result = self.ydl.extract_info(job.url, download=False, process=False)
        if result is None:
            return []
        if result.get("_type") in ("playlist", "multi_video"):
            entries = (e for e in result.get("entries") or [] if e)
            return list(itertools.islice(entries, self.options.per_query)) if job.search else list(entries)
        return [result]

    def process(self, job: Job, entry: tp.Dict[str, tp.Any]) -> str:
        """Download one entry; returns its outcome: done, skipped, filtered, too large or failed."""
        from yt_dlp.utils import DownloadError
        self.events.reset()
        if self.ydl.in_download_archive(entry):
            return "skipped"
        if entry.get("_type") in ("url", "url_transparent") and self.match_filter(entry, incomplete=True):
            return "filtered"
        try:
            self.ydl.process_ie_result(entry, download=True)
        except DownloadError as exc:
            self.events.errors.append(str(exc))
        if self.events.kept:
            return "done"
        if self.events.errors:
            return "failed"
        if self.events.rejected:
            return "filtered"
        if self.events.too_large:
            return "too large"
        return "skipped"


def reject_reason(info: tp.Mapping[str, tp.Any], options: FetchOptions) -> tp.Optional[str]:
    """Why an entry is not downloaded (a live stream, a duration reported out of bounds), or None."""
    if info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
        return "live stream"
    duration = info.get("duration")
    if isinstance(duration, (int, float)) and not options.min_duration <= duration <= options.max_duration:
        return f"{duration:.0f} s outside {options.min_duration:g}-{options.max_duration:g} s"
    return None


def sidecar(info: tp.Mapping[str, tp.Any], seconds: float, sample_rate: int, channels: int,
            job: tp.Optional[Job]) -> tp.Dict[str, tp.Any]:
    """The sidecar of a download: where it came from, as reported by the site, and the caption that found it."""
    extractor = str(info.get("extractor_key") or info.get("extractor") or "generic")
    caption = job.caption if job else None
    return {
        "source_id": f"{extractor.lower()} {info.get('id')}",  # one source video: never split across splits
        "source_url": info.get("webpage_url") or info.get("original_url"), "media_url": info.get("url"),
        "title": info.get("title"), "uploader": info.get("uploader"), "channel": info.get("channel"),
        "upload_date": info.get("upload_date"), "reported_duration": info.get("duration"),
        "licence": info.get("license"),  # as reported by the site, unchecked; None when it says nothing
        "duration": round(seconds, 3), "sample_rate": sample_rate, "channels": channels,
        "extractor": extractor, "id": info.get("id"), "fetched_at": datetime.datetime.now(
            datetime.timezone.utc).isoformat(timespec="seconds"),
        "query": caption.get("query") if caption else None, "caption": caption,
        "description": caption.get("description") if caption else None,
    }


def _is_network_error(message: str) -> bool:
    low = message.lower()
    return any(hint in low for hint in NETWORK_HINTS)


def _lock(out: Path) -> tp.IO[str]:
    handle = open(out / LOCK, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise BeatLMError(f"another `beatlm data fetch` is writing into {out}; wait for it to finish") from None
    return handle


def fetch(out: tp.Union[str, Path], captions: tp.Optional[tp.Union[str, Path]] = None,
          urls: tp.Optional[tp.Union[str, Path]] = None, options: tp.Optional[FetchOptions] = None,
          progress: bool = True) -> StepSummary:
    """Download audio for every caption's search query (and/or every URL of `urls`) into `out`.

    Re-running continues: searches and URLs finished without failure are not repeated, ids in the
    archive are not downloaded again, failures are retried. See the module docstring for the layout.

    Args:
        out: Output folder.
        captions: JSON-lines captions (`beatlm data captions`); each `query` is searched.
        urls: Text file of explicit URLs, one per line.
        options: Filters, limits and politeness.
        progress: Show a progress bar.
    Returns:
        The summary: done (kept now), skipped (done before, or already in the archive), failed (with
        reasons), and counts of filtered and too-large entries and skipped caption lines.
    """
    options = options or FetchOptions()
    options.check()
    if captions is None and urls is None:
        raise BeatLMError("give a captions file (beatlm data captions) and/or --urls FILE")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BeatLMError(f"--out {out} is a file, not a folder")
    summary = StepSummary("fetch")
    jobs: tp.List[Job] = []
    if captions is not None:
        jobs, broken = caption_jobs(Path(captions), options)
        if broken:
            summary.extra["caption lines skipped"] = broken
    if urls is not None:
        jobs += url_jobs(Path(urls))
    out.mkdir(parents=True, exist_ok=True)
    lock = _lock(out)
    try:
        _run_jobs(out, jobs, options, summary, progress)
    finally:
        lock.close()
    return summary


def _run_jobs(out: Path, jobs: tp.List[Job], options: FetchOptions, summary: StepSummary, progress: bool) -> None:
    import tqdm
    shutil.rmtree(out / TEMP, ignore_errors=True)
    repair_tail(out / ARCHIVE)  # a kill while yt-dlp appended an id would glue it to the next one
    finished = {str(r.get("job")) for r in read_jsonl(out / JOBS)[0]} if (out / JOBS).exists() else set()
    todo = [job for job in jobs if job.key not in finished]
    summary.skipped += len(jobs) - len(todo)
    if todo and options.check_network:
        check_reachable(todo[0].url)
    fetcher = Fetcher(out, options, summary)
    network_failures, first = 0, True
    counts = {"filtered": 0, "too large": 0}
    with JsonlWriter(out / JOBS) as done_log, JsonlWriter(out / FAILURES) as failure_log, \
            tqdm.tqdm(todo, desc="fetch", unit="query", disable=not progress) as bar:
        for job in bar:
            fetcher.job = job
            failed_before = len(summary.failed)
            try:
                if not first:
                    time.sleep(options.sleep)
                first = False
                try:
                    entries = fetcher.entries(job)
                except Exception as exc:  # yt-dlp's DownloadError / ExtractorError: unsupported, unreachable
                    entries = []
                    _fail(summary, failure_log, job, job.url, str(exc))
                for entry in entries:
                    if options.max_downloads is not None and fetcher.kept_now >= options.max_downloads:
                        break
                    if entry is not entries[0]:
                        time.sleep(options.sleep)
                    outcome = fetcher.process(job, entry)
                    if outcome == "done":
                        summary.done += 1
                        fetcher.kept_now += 1
                    elif outcome == "skipped":
                        summary.skipped += 1
                    elif outcome == "failed":
                        reason = fetcher.events.errors[-1]
                        _fail(summary, failure_log, job, entry.get("url") or entry.get("webpage_url") or job.url,
                              reason)
                    else:
                        counts[outcome] += 1
            finally:
                bar.set_postfix(done=summary.done, failed=len(summary.failed))
            new_failures = summary.failed[failed_before:]
            if not new_failures:
                done_log.write({"job": job.key, "url": job.url})
                network_failures = 0
            elif all(_is_network_error(reason) for _, reason in new_failures):
                network_failures += 1
                if network_failures >= MAX_NETWORK_FAILURES:
                    raise BeatLMError(f"{network_failures} searches/URLs in a row failed on the network (last: "
                                      f"{new_failures[-1][1][:200]}); finished downloads are kept: check the "
                                      "connection and run the same command again")
            if options.max_downloads is not None and fetcher.kept_now >= options.max_downloads:
                summary.extra["stopped"] = f"--max-downloads {options.max_downloads} reached"
                break
    summary.extra.update({k: v for k, v in counts.items() if v})
    shutil.rmtree(out / TEMP, ignore_errors=True)


def _fail(summary: StepSummary, log: JsonlWriter, job: Job, url: str, reason: str) -> None:
    reason = " ".join(reason.replace("ERROR: ", "").split()).split(" (caused by ")[0][:300]
    if "No space left on device" in reason:
        raise BeatLMError("fetch: the disk is full; finished downloads are kept and no partial file is left "
                          "in the output: free some space and run the same command again")
    summary.fail(url, reason)
    log.write({"job": job.key, "url": url, "reason": reason,
               "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
