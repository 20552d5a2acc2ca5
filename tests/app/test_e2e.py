"""`beatlm app` served for real, driven by headless Chromium (Debian's, through Playwright) and by HTTP clients.

The browser test walks the issue's path: open the page, pick a preset, generate, check the beat's audio is
playable at the right duration, download the WAV, export and parse the MIDI, rate the beat and find the
rating in SQLite. With BEATLM_UPDATE_DOCS=1 it saves the screenshot of the Generate tab used in docs/studio/
(otherwise under the test's tmp folder: a test run leaves the work tree alone).
"""

import os
from pathlib import Path
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import typing as tp
import urllib.request

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
QUEUE_SIZE = 3
DURATION = 1.5
# httpx's default 5 s read timeout is too short for 20 clients at once when the other pytest worker (make test
# runs one per core) is busy too; what these tests check is the answers, not the latency.
CLIENT = {"verbose": False, "httpx_kwargs": {"timeout": 120}}

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(out: Path, *args: str) -> tp.Tuple[subprocess.Popen, str]:
    """`python -m beatlm app` on a free loopback port; returns (process, url) once it answers."""
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", GRADIO_TEMP_DIR=str(out / "gradio-cache"))
    log = open(out.parent / f"{out.name}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "beatlm", "app", "--port", str(port), "--out", str(out), *args],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out.parent)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.close()
            raise AssertionError(f"beatlm app exited {proc.returncode}:\n{Path(log.name).read_text()}")
        try:
            urllib.request.urlopen(url, timeout=5)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("beatlm app did not answer within 240 s")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> tp.Iterator[tp.Tuple[str, Path, subprocess.Popen]]:
    """(url, studio folder, process) of an app on the default model, shared by this module's tests."""
    out = tmp_path_factory.mktemp("e2e") / "studio"
    proc, url = start_app(out, "--queue-size", str(QUEUE_SIZE), "--max-duration", "10")
    yield url, out, proc
    stop_app(proc)


def wait_for_text(page: tp.Any, selector: str, needles: tp.Sequence[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page.inner_text(selector)
        if any(needle in text for needle in needles):
            return text
        time.sleep(0.25)
    raise AssertionError(f"{selector} never showed {needles}; last: {text!r}")


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (requirements/apt.txt)")
def test_generate_download_midi_and_rate_in_a_browser(app, tmp_path):
    from playwright.sync_api import sync_playwright
    import pretty_midi
    import soundfile as sf

    from beatlm.app.presets import PRESETS
    url, out, _ = app
    hosts = set()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
            page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
            page.goto(url)
            wait_for_text(page, "#model-status", ["Model "], timeout=240)

            page.locator("#preset").get_by_label("boom bap").check()
            preset = PRESETS["boom bap"]
            page.wait_for_function("p => document.querySelector('#prompt textarea').value === p", arg=preset.prompt)
            assert page.input_value("#bpm textarea, #bpm input") == str(preset.bpm)
            page.fill("#duration input[type=number]", str(DURATION))
            page.press("#duration input[type=number]", "Enter")
            page.fill("#seed textarea, #seed input", "3")
            page.click("#generate")
            message = wait_for_text(page, "#generate-message", ["Generated in", "Error"], timeout=120)
            assert "Generated in" in message and f"{preset.bpm} bpm" in message

            # The beat's audio: a source the browser can play, of the asked duration.
            src = page.get_attribute("#beat-audio a[download]", "href")
            duration = page.evaluate("""src => new Promise((resolve, reject) => {
                const audio = new Audio(); audio.preload = 'metadata';
                audio.onloadedmetadata = () => resolve(audio.duration);
                audio.onerror = () => reject(new Error('unplayable: ' + (audio.error && audio.error.code)));
                audio.src = src; })""", src)
            assert duration == pytest.approx(DURATION, abs=0.02)
            assert page.locator("#spectrogram img").count() == 1

            with page.expect_download() as download:
                page.click("#download-wav")
            wav = tmp_path / download.value.suggested_filename
            download.value.save_as(wav)
            assert wav.suffix == ".wav"
            info = sf.info(wav)
            assert (info.samplerate, info.frames) == (32000, int(DURATION * 32000))

            page.click("#export-midi")
            wait_for_text(page, "#generate-message", ["MIDI ready", "Error"], timeout=90)
            with page.expect_download() as download:
                page.click("#download-midi")
            mid = tmp_path / "beat.mid"
            download.value.save_as(mid)
            midi = pretty_midi.PrettyMIDI(str(mid))
            assert midi.get_end_time() <= DURATION + 0.5

            page.locator("#model-status").scroll_into_view_if_needed()
            shots = REPO / "docs" / "studio" if os.environ.get("BEATLM_UPDATE_DOCS") == "1" else tmp_path
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "generate_tab.png"), full_page=True)
            assert (shots / "generate_tab.png").read_bytes().startswith(b"\x89PNG")

            page.get_by_role("tab", name="Listening test").click()
            page.click("#rate-next")
            wait_for_text(page, "#rate-prompt", ["Prompt:"], timeout=30)
            page.locator("#quality").get_by_label("4").check()
            page.locator("#match").get_by_label("5").check()
            page.click("#rate-submit")
            wait_for_text(page, "#rate-message", ["saved", "Error"], timeout=30)
        finally:
            browser.close()

    con = sqlite3.connect(out / "studio.sqlite")
    (sample_id, prompt, model_id), = con.execute("SELECT id, prompt, model_id FROM samples").fetchall()
    rows = con.execute("SELECT kind, sample_id, prompt, model_id, quality, prompt_match, created "
                       "FROM ratings").fetchall()
    assert len(rows) == 1
    assert rows[0][:6] == ("score", sample_id, prompt, model_id, 4, 5) and rows[0][6]
    assert prompt.startswith(preset.prompt) and model_id.startswith("beatlm-micro@")
    assert wav.name.endswith(f"{sample_id}.wav")
    assert hosts <= {url.split("/")[2]}, f"the page reached beyond this machine: {hosts}"  # works offline


def test_twenty_concurrent_requests_are_queued_or_refused_and_the_server_survives(app):
    """20 requests at once: at most --queue-size are admitted, the rest hear that the queue is full."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client
    from gradio_client.exceptions import AppError
    import psutil
    url, _, proc = app
    client = Client(url, **CLIENT)
    rss = psutil.Process(proc.pid).memory_info().rss

    def generate(i: int) -> str:
        return Client(url, **CLIENT).predict("trap beat", "", "", 0.5, 1, str(i), api_name="/generate")[0]

    with ThreadPoolExecutor(20) as pool:
        messages = list(pool.map(generate, range(20)))
    done = [m for m in messages if m.startswith("Generated in")]
    full = [m for m in messages if "queue is full" in m]
    assert len(done) + len(full) == 20, set(messages) - set(done) - set(full)
    assert 1 <= len(done) <= QUEUE_SIZE + 2 and len(full) >= 20 - QUEUE_SIZE - 2  # +2: a request may arrive late
    assert psutil.Process(proc.pid).memory_info().rss - rss < 1 << 30
    # Still serving, and bad input gets a message, not a traceback.
    assert client.predict("   ", "", "", 1, 1, "", api_name="/generate")[0].startswith("**Error:** the prompt is empty")
    assert "BPM" in client.predict("trap", "-5", "", 1, 1, "", api_name="/generate")[0]
    assert "Next sample" in client.predict(3, 3, api_name="/rate")[0]
    # Gradio's own checks of a slider's range and a radio's choices answer with a message too.
    with pytest.raises(AppError, match="greater than maximum value 10"):
        client.predict("trap", "", "", 1e9, 1, "", api_name="/generate")
    with pytest.raises(AppError, match="not in the list of choices"):
        client.predict(7, "x", api_name="/rate")
    # The generated beats share a prompt: a blind A/B choice, the best-rated table and the CSV export.
    assert client.predict(api_name="/next_pair")[0] == ""
    assert client.predict("B", api_name="/compare")[0].startswith("Choice #")
    assert client.predict(4, 4, api_name="/rate")[0].startswith("**Error:**")  # no sample drawn in this session
    client.predict(api_name="/next_sample")
    assert client.predict(4, 3, api_name="/rate")[0].startswith("Rating #")
    best = client.predict(api_name="/best_rated")[1]
    assert 3.5 in [row[2] for row in best["data"]]  # (4 + 3) / 2; the browser test's rating may be there too
    csv_path = client.predict(api_name="/export_csv")[1]
    assert Path(csv_path).read_text().splitlines()[0].startswith("id,kind,created,prompt,sample_id")
    assert proc.poll() is None


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg missing")
def test_a_model_that_does_not_load_leaves_the_page_up_saying_why(tmp_path):
    from gradio_client import Client
    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "manifest.json").write_text("{ not json")
    proc, url = start_app(tmp_path / "studio", "--model", str(broken))
    try:
        client = Client(url, **CLIENT)
        deadline = time.monotonic() + 120
        while "Loading" in (status := client.predict(api_name="/status")[0]) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert status.startswith("The model did not load")
        message = client.predict("trap beat", "", "", 1, 1, "", api_name="/generate")[0]
        assert message.startswith("**Error:** the model did not load") and "Traceback" not in message
        assert proc.poll() is None
    finally:
        stop_app(proc)
