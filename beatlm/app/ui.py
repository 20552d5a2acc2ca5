"""The studio's Gradio page: Generate, Listening test and Best rated tabs over a `Studio`.

Only wiring lives here; the logic is in presets.py, form.py, queue.py, ratings.py, midi.py and studio.py.
Every handler returns a message for the page as its first output: a bad input or a failure becomes that
message (never a stack trace), and the other outputs are left as they were.
"""

import functools
import logging
from pathlib import Path
import time
import typing as tp

import gradio as gr

from ..models.musiclm import MIN_DURATION
from ..utils.errors import BeatLMError
from .form import MAX_CANDIDATES, make_request
from .presets import PRESETS
from .ratings import PREFERENCES, Sample
from .studio import Studio

logger = logging.getLogger(__name__)
TITLE = "BeatLM studio"
EXPORTS = "exports"


def _warning(text: str) -> str:
    return f"**Error:** {text}"


def _page_errors(outputs: int) -> tp.Callable[[tp.Callable[..., tp.Any]], tp.Callable[..., tp.Any]]:
    """Turn a handler's BeatLMError (or any failure) into its message output; its other outputs are skipped."""
    def wrap(fn: tp.Callable[..., tp.Any]) -> tp.Callable[..., tp.Any]:
        @functools.wraps(fn)
        def run(*args: tp.Any, **kwargs: tp.Any) -> tp.Any:
            try:
                return fn(*args, **kwargs)
            except BeatLMError as exc:
                text = _warning(str(exc))
            except Exception as exc:  # the server keeps serving; the log has the traceback
                logger.exception("%s failed", fn.__name__)
                text = _warning(f"something went wrong ({type(exc).__name__}); the server log has the details")
            return (text,) + (gr.skip(),) * (outputs - 1) if outputs > 1 else text
        return run
    return wrap


def _label(sample: Sample) -> str:
    score = "" if sample.mulan_score is None else f" · MuLaN {sample.mulan_score:.3f}"
    prompt = sample.prompt if len(sample.prompt) <= 60 else sample.prompt[:57] + "..."
    return f"{sample.created[11:19]} · {prompt}{score}"


def _info(sample: Sample) -> str:
    scores = ", ".join(f"{s:.3f}" for s in sample.candidate_scores)
    score = "n/a" if sample.mulan_score is None else f"{sample.mulan_score:.3f}"
    return (f"**{sample.prompt}**  \nMuLaN score {score} (best of {len(sample.candidate_scores)}: {scores}) · "
            f"{sample.duration:g} s · seed {sample.seed} · model {sample.model_id} · sample `{sample.id}`")


def build_ui(studio: Studio) -> gr.Blocks:
    """The page (call `.queue(...)` and `.launch(...)` on it, as `beatlm app` does)."""
    path = studio.path

    def show(sample: Sample) -> tp.Tuple[tp.Any, ...]:
        """Audio, image, info, WAV and MP3 buttons, current id and a hidden MIDI button for a sample."""
        return (str(path(sample.wav)), str(path(sample.image)),
                _info(sample), gr.DownloadButton(value=str(path(sample.wav)), interactive=True),
                gr.DownloadButton(value=str(path(sample.mp3)), interactive=True), sample.id,
                gr.DownloadButton(value=None, visible=False))

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(f"# {TITLE}\nRap instrumentals from text, generated on this machine.")
        status = gr.Markdown(studio.status(), elem_id="model-status")
        timer = gr.Timer(1.0, active=not studio.loaded)
        history = gr.State([])  # ids of this session's samples, oldest first
        current = gr.State(None)  # id of the sample shown on the Generate tab

        with gr.Tab("Generate", id="generate", elem_id="generate-tab"):
            with gr.Row():
                with gr.Column():
                    preset = gr.Radio(list(PRESETS), label="Style preset (fills the prompt and BPM)",
                                      elem_id="preset")
                    prompt = gr.Textbox(label="Prompt", lines=2, elem_id="prompt",
                                        placeholder="boom bap beat with dusty piano")
                    with gr.Row():
                        bpm = gr.Textbox(label="BPM (optional)", elem_id="bpm", placeholder="90")
                        key = gr.Textbox(label="Key (optional)", elem_id="key", placeholder="A minor")
                    duration = gr.Slider(MIN_DURATION, studio.max_duration, value=min(5.0, studio.max_duration),
                                         step=0.5, label="Duration (seconds)", elem_id="duration")
                    candidates = gr.Slider(1, MAX_CANDIDATES, value=1, step=1, elem_id="candidates",
                                           label="Candidates (the one MuLaN finds closest to the prompt is kept)")
                    seed = gr.Textbox(label="Seed (empty: random)", elem_id="seed")
                    generate = gr.Button("Generate", variant="primary", elem_id="generate")
                    message = gr.Markdown(elem_id="generate-message")
                with gr.Column():
                    audio = gr.Audio(label="Beat", type="filepath", interactive=False, elem_id="beat-audio")
                    image = gr.Image(label="Spectrogram", type="filepath", interactive=False, elem_id="spectrogram")
                    info = gr.Markdown(elem_id="sample-info")
                    with gr.Row():
                        wav = gr.DownloadButton("Download WAV", interactive=False, elem_id="download-wav")
                        mp3 = gr.DownloadButton("Download MP3", interactive=False, elem_id="download-mp3")
                        midi = gr.Button("Export MIDI", elem_id="export-midi")
                    midi_file = gr.DownloadButton("Download MIDI", visible=False, elem_id="download-midi")
            past = gr.Dropdown([], label="This session's beats (pick one to play it again)", elem_id="history")

        with gr.Tab("Listening test", id="listen", elem_id="listen-tab"):
            gr.Markdown("Judge samples without knowing which model or setting made them.")
            with gr.Tab("Rate 1-5", id="rate"):
                rate_message = gr.Markdown(elem_id="rate-message")
                rate_next = gr.Button("Next sample", elem_id="rate-next")
                rate_prompt = gr.Markdown(elem_id="rate-prompt")
                rate_audio = gr.Audio(label="Sample", type="filepath", interactive=False, elem_id="rate-audio")
                rate_id = gr.State(None)
                quality = gr.Radio([1, 2, 3, 4, 5], label="Sound quality (1 bad - 5 excellent)", elem_id="quality")
                match = gr.Radio([1, 2, 3, 4, 5], label="Match to the prompt (1 none - 5 exact)",
                                 elem_id="match")
                rate_submit = gr.Button("Submit rating", variant="primary", elem_id="rate-submit")
            with gr.Tab("A/B", id="ab"):
                ab_message = gr.Markdown(elem_id="ab-message")
                ab_next = gr.Button("Next pair", elem_id="ab-next")
                ab_prompt = gr.Markdown(elem_id="ab-prompt")
                with gr.Row():
                    audio_a = gr.Audio(label="A", type="filepath", interactive=False, elem_id="audio-a")
                    audio_b = gr.Audio(label="B", type="filepath", interactive=False, elem_id="audio-b")
                ab_ids = gr.State(None)
                preferred = gr.Radio(list(PREFERENCES), label="Which one is the better beat for the prompt?",
                                     elem_id="preferred")
                ab_submit = gr.Button("Submit choice", variant="primary", elem_id="ab-submit")
            with gr.Row():
                export = gr.Button("Export all judgements as CSV", elem_id="export-csv")
                csv_file = gr.File(label="CSV", interactive=False, elem_id="csv-file")
            export_message = gr.Markdown(elem_id="export-message")

        with gr.Tab("Best rated", id="best", elem_id="best-tab"):
            best_message = gr.Markdown(elem_id="best-message")
            best_refresh = gr.Button("Refresh", elem_id="best-refresh")
            best_table = gr.Dataframe(headers=["rank", "prompt", "score", "quality", "match", "ratings", "A/B wins",
                                               "sample"], interactive=False, elem_id="best-table")
            best_audio = gr.Audio(label="Pick a row to play it", type="filepath", interactive=False,
                                  elem_id="best-audio")

        # --- status ------------------------------------------------------------------------------
        def on_tick() -> tp.Tuple[str, gr.Timer]:
            return studio.status(), gr.Timer(active=not studio.loaded)

        timer.tick(on_tick, outputs=[status, timer], queue=False, show_progress="hidden", api_name="status")
        demo.load(on_tick, outputs=[status, timer], queue=False, show_progress="hidden", api_visibility="private")

        # --- generate ----------------------------------------------------------------------------
        def on_preset(name: tp.Optional[str]) -> tp.Tuple[tp.Any, tp.Any]:
            chosen = PRESETS.get(name or "")
            return (chosen.prompt, str(chosen.bpm)) if chosen else (gr.skip(), gr.skip())

        preset.change(on_preset, inputs=preset, outputs=[prompt, bpm], queue=False, show_progress="hidden",
                      api_visibility="private")

        shown = [audio, image, info, wav, mp3, current, midi_file]

        @_page_errors(1 + len(shown) + 2)
        def on_generate(text: tp.Any, tempo: tp.Any, tonality: tp.Any, seconds: tp.Any, count: tp.Any,
                        seed_value: tp.Any, ids: tp.List[str], progress: gr.Progress = gr.Progress(track_tqdm=True)
                        ) -> tp.Tuple[tp.Any, ...]:
            request = make_request(text, tempo, tonality, seconds, count, seed_value, studio.max_duration)
            progress(0.0, desc="waiting for the model")
            begin = time.perf_counter()
            sample = studio.generate(request, progress=True,
                                     on_wait=lambda ahead: progress(0.0, desc=f"in the queue: {ahead} ahead of you"))
            ids = list(ids or []) + [sample.id]
            choices = [(_label(studio.store.get_sample(i)), i) for i in reversed(ids)]
            done = f"Generated in {time.perf_counter() - begin:.1f} s: {request.prompt}"
            return (done, *show(sample), ids, gr.Dropdown(choices=choices, value=sample.id))

        generate.click(on_generate, inputs=[prompt, bpm, key, duration, candidates, seed, history],
                       outputs=[message, *shown, history, past], concurrency_limit=None, api_name="generate")

        @_page_errors(1 + len(shown))
        def on_past(sample_id: tp.Any) -> tp.Tuple[tp.Any, ...]:
            if not sample_id:
                return (gr.skip(),) * (1 + len(shown))
            return ("", *show(studio.store.get_sample(sample_id)))

        past.input(on_past, inputs=past, outputs=[message, *shown], queue=False, api_visibility="private")

        @_page_errors(2)
        def on_midi(sample_id: tp.Any) -> tp.Tuple[str, tp.Any]:
            if not sample_id:
                raise BeatLMError("generate a beat first, then export its MIDI")
            mid = studio.export_midi(sample_id)
            return (f"MIDI ready: {mid.name}", gr.DownloadButton(value=str(mid), visible=True))

        midi.click(on_midi, inputs=current, outputs=[message, midi_file], concurrency_limit=1, api_name="midi")

        # --- listening test ----------------------------------------------------------------------
        @_page_errors(4)
        def on_rate_next() -> tp.Tuple[tp.Any, ...]:
            sample = studio.store.random_sample()
            if sample is None:
                raise BeatLMError("no sample to rate yet: generate some beats first")
            return ("", f"Prompt: **{sample.prompt}**", str(path(sample.wav)), sample.id)

        rate_next.click(on_rate_next, outputs=[rate_message, rate_prompt, rate_audio, rate_id], queue=False,
                        api_name="next_sample")

        @_page_errors(3)
        def on_rate(sample_id: tp.Any, q: tp.Any, m: tp.Any) -> tp.Tuple[tp.Any, ...]:
            if not sample_id:
                raise BeatLMError("press 'Next sample' to get a sample to rate")
            row = studio.store.add_score(sample_id, q, m)
            return (f"Rating #{row} saved: quality {q}, match {m}.", None, None)

        rate_submit.click(on_rate, inputs=[rate_id, quality, match], outputs=[rate_message, quality, match],
                          queue=False, api_name="rate")

        @_page_errors(5)
        def on_ab_next() -> tp.Tuple[tp.Any, ...]:
            pair = studio.store.random_pair()
            if pair is None:
                raise BeatLMError("an A/B test needs two samples of the same prompt: generate one prompt twice")
            a, b = pair
            return ("", f"Prompt: **{a.prompt}**", str(path(a.wav)), str(path(b.wav)), [a.id, b.id])

        ab_next.click(on_ab_next, outputs=[ab_message, ab_prompt, audio_a, audio_b, ab_ids], queue=False,
                      api_name="next_pair")

        @_page_errors(2)
        def on_ab(ids: tp.Any, choice: tp.Any) -> tp.Tuple[tp.Any, ...]:
            if not ids or len(ids) != 2:
                raise BeatLMError("press 'Next pair' to get two samples to compare")
            row = studio.store.add_comparison(ids[0], ids[1], choice)
            return (f"Choice #{row} saved: {choice}.", None)

        ab_submit.click(on_ab, inputs=[ab_ids, preferred], outputs=[ab_message, preferred], queue=False,
                        api_name="compare")

        @_page_errors(2)
        def on_export() -> tp.Tuple[str, str]:
            from ..utils.files import atomic_path
            from .ratings import now
            out = path(Path(EXPORTS) / f"ratings-{now().replace(':', '')[:17]}.csv")
            with atomic_path(out, overwrite=True) as tmp:
                tmp.write_text(studio.store.export_csv(), encoding="utf-8")
            return (f"{len(studio.store.ratings())} judgements exported.", str(out))

        export.click(on_export, outputs=[export_message, csv_file], queue=False, api_name="export_csv")

        # --- best rated --------------------------------------------------------------------------
        @_page_errors(2)
        def on_best() -> tp.Tuple[str, tp.List[tp.List[tp.Any]]]:
            rows = studio.store.best_rated()
            table = [[i + 1, r["prompt"], round(r["score"], 2), round(r["quality"], 2), round(r["prompt_match"], 2),
                      r["ratings"], r["ab_wins"], r["id"]] for i, r in enumerate(rows)]
            return ("" if rows else "Nothing rated yet: rate samples on the Listening test tab.", table)

        best_refresh.click(on_best, outputs=[best_message, best_table], queue=False, api_name="best_rated")
        demo.load(on_best, outputs=[best_message, best_table], queue=False, api_visibility="private")

        @_page_errors(2)
        def on_best_pick(event: gr.SelectData) -> tp.Tuple[str, str]:
            sample_id = event.row_value[-1] if event.row_value else None
            return ("", str(path(studio.store.get_sample(sample_id).wav)))

        best_table.select(on_best_pick, outputs=[best_message, best_audio], queue=False,
                          api_visibility="private")
    return demo
