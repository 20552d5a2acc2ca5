"""fetch: yt-dlp against a loopback HTTP server serving rendered beats as direct files and as a page with an
`<audio>` tag; filters, sidecars, the download archive, corrupt and unsupported media, caps, no network."""

import json
import time

import pytest
import soundfile as sf

from beatlm.dataset_builders import fetch
from beatlm.dataset_builders.loops import render_loop
from beatlm.dataset_builders.records import read_jsonl
from beatlm.utils.errors import BeatLMError

SR = 16000


def _site(root):
    """beat_a.wav (1.5 s), page.html embedding beat_b.wav (2 s), long.wav (4 s), corrupt.wav, notes.txt."""
    for name, seconds in (("beat_a", 1.5), ("beat_b", 2.0), ("long", 4.0)):
        sf.write(root / f"{name}.wav", render_loop(90, seconds, SR, seed=len(name)), SR, subtype="PCM_16")
    (root / "page.html").write_text('<html><head><title>Beat page</title></head><body>'
                                    '<audio controls src="beat_b.wav"></audio></body></html>')
    (root / "corrupt.wav").write_bytes(b"RIFF" + bytes(range(256)) * 8)
    (root / "notes.txt").write_text("not audio\n")


def _options(**changes):
    options = fetch.FetchOptions(per_query=2, min_duration=1.0, max_duration=3.0, sleep=0.0, socket_timeout=5)
    for key, value in changes.items():
        setattr(options, key, value)
    return options


def _urls(tmp_path, base, names):
    path = tmp_path / "urls.txt"
    path.write_text("# beats\n" + "".join(f"{base}/{name}\n" for name in names) + "\n")
    return path


def test_urls_direct_files_and_audio_tag_pages(file_server, tmp_path):
    root, base = file_server
    _site(root)
    out = tmp_path / "raw"
    urls = _urls(tmp_path, base, ["beat_a.wav", "page.html", "corrupt.wav", "notes.txt", "long.wav"])
    summary = fetch.fetch(out, urls=urls, options=_options(), progress=False)
    assert summary.done == 2 and len(summary.failed) == 2 and summary.extra["filtered"] == 1, summary.format()
    wavs = sorted(p.name for p in out.glob("*.wav"))
    assert wavs == ["Generic-beat_a.wav", "HTML5MediaEmbed-page-1.wav"]
    side = json.loads((out / "HTML5MediaEmbed-page-1.json").read_text())
    assert side["source_url"] == f"{base}/page.html" and side["media_url"] == f"{base}/beat_b.wav"
    assert side["title"] == "Beat page (1)" and "licence" in side and "uploader" in side
    assert side["duration"] == pytest.approx(2.0, abs=0.01) and side["caption"] is None
    assert side["source_id"] == "html5mediaembed page-1"
    assert not any(out.glob("*.unknown_video")) and not (out / ".tmp").exists()
    failures, _ = read_jsonl(out / "fetch_failures.jsonl")
    assert {f["url"] for f in failures} == {f"{base}/corrupt.wav", f"{base}/notes.txt"}

    stamp = (out / "Generic-beat_a.wav").stat().st_mtime_ns
    again = fetch.fetch(out, urls=urls, options=_options(), progress=False)  # finished URLs are not asked again
    assert again.done == 0 and again.skipped == 3 and len(again.failed) == 2
    (out / "fetch_jobs.jsonl").unlink()  # forget the finished jobs: the download archive still skips
    third = fetch.fetch(out, urls=urls, options=_options(), progress=False)
    assert third.done == 0 and third.skipped == 3 and len(third.failed) == 2
    assert (out / "Generic-beat_a.wav").stat().st_mtime_ns == stamp


def test_captions_search_links_each_file_to_its_caption(file_server, tmp_path, monkeypatch):
    root, base = file_server
    _site(root)
    monkeypatch.setattr(fetch, "search_url", lambda query, n, search="ytsearch": f"{base}/{query}")
    captions = tmp_path / "captions.jsonl"
    records = [{"id": "c-1", "description": "a dusty loop", "query": "beat_a.wav"},
               {"id": "c-2", "description": "a page", "query": "page.html"}]
    captions.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"id": "c-3", "query": \n[]\n')
    summary = fetch.fetch(tmp_path / "raw", captions=captions, options=_options(), progress=False)
    assert summary.done == 2 and summary.extra["caption lines skipped"] == 2
    side = json.loads((tmp_path / "raw" / "Generic-beat_a.json").read_text())
    assert side["caption"] == records[0] and side["query"] == "beat_a.wav" and side["description"] == "a dusty loop"


def test_caps_size_limit_and_live_filter(file_server, tmp_path):
    root, base = file_server
    _site(root)
    urls = _urls(tmp_path, base, ["beat_a.wav", "page.html"])
    capped = fetch.fetch(tmp_path / "a", urls=urls, options=_options(max_downloads=1), progress=False)
    assert capped.done == 1 and "max-downloads" in capped.extra["stopped"]
    small = fetch.fetch(tmp_path / "b", urls=urls, options=_options(max_filesize_mb=0.01), progress=False)
    assert small.done == 0 and small.extra["too large"] == 2
    options = _options()
    assert fetch.reject_reason({"is_live": True}, options) == "live stream"
    assert fetch.reject_reason({"live_status": "is_upcoming"}, options) == "live stream"
    assert "outside" in fetch.reject_reason({"duration": 3600}, options)
    assert fetch.reject_reason({"duration": 2.0}, options) is None
    assert fetch.search_url("dark trap type beat", 3) == "ytsearch3:dark trap type beat"


def test_unreachable_network_and_bad_input_fail_fast(tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/beat.wav\n")
    start = time.monotonic()
    with pytest.raises(BeatLMError, match="cannot reach 127.0.0.1:9"):
        fetch.fetch(tmp_path / "raw", urls=urls, options=_options(), progress=False)
    assert time.monotonic() - start < 2.0
    urls.write_text("ftp://example.org/x.wav\n")
    with pytest.raises(BeatLMError, match="not an http"):
        fetch.fetch(tmp_path / "raw", urls=urls, options=_options(), progress=False)
    with pytest.raises(BeatLMError, match="--urls"):
        fetch.fetch(tmp_path / "raw", options=_options())
    with pytest.raises(BeatLMError, match="does not exist"):
        fetch.fetch(tmp_path / "raw", captions=tmp_path / "missing.jsonl", options=_options())
    with pytest.raises(BeatLMError, match="min-duration"):
        fetch.fetch(tmp_path / "raw", urls=urls, options=_options(min_duration=5.0, max_duration=1.0))
