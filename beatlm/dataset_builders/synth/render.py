"""One clip: plan it, render its buses, mix and master it, and describe it (MusicInfo sidecar)."""

from dataclasses import dataclass
from pathlib import Path
import typing as tp

import numpy as np

from . import captions, instruments, mixing
from .arrangement import ClipPlan, instruments_of, plan_clip
from .styles import Style

RENDER_VERSION = 1  # bump when a change alters the audio rendered for a given seed
ARTIST = "BeatLM synth"
STYLE_STREAM = 1_000_003  # random stream of the style order of each block of clips


@dataclass(frozen=True)
class RenderConfig:
    """What every clip of a corpus shares."""
    sample_rate: int
    duration: float
    seed: int
    soundfont: Path
    samples: Path


def clip_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """The random generator of clip `index`: depends on the corpus seed and the index only."""
    return np.random.default_rng([seed, index, stream])


def clip_style(styles: tp.Sequence[Style], seed: int, index: int, stream: int = STYLE_STREAM) -> Style:
    """Style of clip `index`: each block of len(styles) consecutive clips holds every style once.

    Args:
        styles: The corpus's styles.
        seed: Corpus seed.
        index: Clip index.
        stream: Random stream of the block orders (another one gives another order, e.g. for held-out prompts).
    """
    block, slot = divmod(index, len(styles))
    order = np.random.default_rng([seed, block, stream]).permutation(len(styles))
    return styles[int(order[slot])]


def clip_name(index: int) -> str:
    return f"beat_{index:06d}"


def render_audio(plan: ClipPlan, config: RenderConfig, bank: instruments.SampleBank,
                 rng: np.random.Generator) -> np.ndarray:
    """Render and master a plan; returns float32 mono in [-1, 1] (peaks at most -1 dBFS)."""
    sr = config.sample_rate
    length = int(round(plan.duration * sr))
    mix, fx = plan.mix, plan.fx

    tracks = instruments.render_hits(plan.hits, bank, length, tonic=plan.key.tonic)
    drums = np.zeros(length, np.float32)
    for role, track in tracks.items():
        drums += mixing.db(mix[role]) * track
    drums = mixing.saturate(drums, 0.5 * fx["saturation"])
    drums = mixing.lowpass(drums, sr, min(2.5 * fx["lowpass_hz"], 0.45 * sr))

    # FluidSynth renders the General MIDI bass and layers in one run; levels go in as channel volumes.
    gm_tracks = [(layer.program, layer.notes, 0.0) for layer in plan.layers if layer.program is not None]
    if plan.bass_kind == "gm":
        gm_tracks.append((plan.bass_program, plan.bass, mix["bass"] - mix["music"]))
    music = instruments.render_fluidsynth(gm_tracks, config.soundfont, sr, length)
    music = _to_rms(music, 0.1 * mixing.db(mix["music"]))
    for layer in plan.layers:
        if layer.program is None:
            music += _to_rms(instruments.render_sampler(layer, bank, length), 0.1 * mixing.db(mix.get(layer.role, -6)))
    music = mixing.lowpass(music, sr, fx["lowpass_hz"])

    kicks = [h.time for h in plan.hits if h.role == "kick"]
    music *= mixing.sidechain(length, sr, kicks, fx["sidechain"])
    send = music + 0.5 * tracks.get("snare", np.zeros(length, np.float32)) * mixing.db(mix["snare"])
    music += mixing.reverb(send, sr, 1.0, rng) * fx["reverb"]

    bass = np.zeros(length, np.float32)
    if plan.bass_kind == "808":
        bass = instruments.render_808(plan.bass, sr, length, plan.bass_fx["decay"], plan.bass_fx["distortion"])
        bass = _to_rms(bass, 0.12 * mixing.db(mix["bass"]))

    out = drums + music + bass
    if fx["vinyl"]:
        hiss = bank.get("vinyl_hiss")
        offset = int(rng.integers(0, len(hiss)))
        out += mixing.db(mix["vinyl"]) * np.resize(np.roll(hiss, -offset), length)
    out = mixing.saturate(out, 0.3 * fx["saturation"])
    return mixing.master(out, sr, fx["loudness_lufs"])


def _to_rms(x: np.ndarray, target: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return x if rms < 1e-6 else (x * (target / rms)).astype(np.float32)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float audio to 16-bit PCM samples."""
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def draw_moods(plan: ClipPlan, rng: np.random.Generator) -> tp.List[str]:
    """Two or three moods of the clip's style (the sidecar's `moods`, the only ones its captions use)."""
    n_moods = int(rng.integers(2, 4))
    return [str(m) for m in rng.choice(plan.style["words"]["moods"], size=n_moods, replace=False)]


def describe(plan: ClipPlan, index: int, config: RenderConfig, rng: np.random.Generator) -> tp.Dict[str, tp.Any]:
    """The sidecar: audiocraft MusicInfo fields holding the truth, extra captions, and the render parameters."""
    moods = draw_moods(plan, rng)
    texts = [captions.make_caption(plan, moods, rng) for _ in range(3)]
    inst = instruments_of(plan)
    keywords = [plan.style.label, *inst, *moods, "instrumental", "rap beat"]
    tags = sorted(plan.tags)
    layers = [{"role": layer.role, "program": layer.program,
               "instrument": "cowbell" if layer.program is None else instruments_of_program(layer.program),
               "notes": len(layer.notes)} for layer in plan.layers]
    sections = []
    for s in plan.sections:
        start = (s["start_bar"] - plan.start_bar) * plan.bar_seconds
        sections.append({"section": s["section"], "bars": s["bars"], "start": round(start, 4)})
    return {
        "title": captions.make_title(rng),
        "artist": ARTIST,
        "key": plan.key.name,
        "bpm": plan.bpm,
        "genre": plan.style.label,
        "moods": moods,
        "keywords": list(dict.fromkeys(keywords)),
        "description": texts[0],
        "name": clip_name(index),
        "instrument": ", ".join(inst),
        "captions": texts,
        "beatlm": {
            "render_version": RENDER_VERSION, "seed": config.seed, "index": index, "style": plan.style.name,
            "sample_rate": config.sample_rate, "duration": config.duration,
            "tonic": plan.key.tonic, "mode": plan.key.mode, "scale": plan.key.scale,
            "progression": plan.progression, "roman": plan.romans(), "chord_size": plan.chord_size,
            "bars_per_chord": plan.bars_per_chord, "swing": round(plan.swing, 4),
            "half_time": bool(plan.style["half_time"]), "start_bar": plan.start_bar, "sections": sections,
            "kit": {role: names for role, names in plan.kit.items()},
            "bass": {"kind": plan.bass_kind, "program": plan.bass_program, "notes": len(plan.bass),
                     **{k: round(v, 4) for k, v in plan.bass_fx.items()}},
            "layers": layers, "drum_hits": len(plan.hits),
            "mix_db": {k: round(v, 2) for k, v in plan.mix.items()},
            "fx": {k: round(v, 4) for k, v in plan.fx.items()}, "tags": tags,
            "soundfont": config.soundfont.name,
        },
    }


def instruments_of_program(program: int) -> str:
    from .styles import instrument_table
    return instrument_table()[program]["tag"]


def render_clip(styles: tp.Sequence[Style], index: int, config: RenderConfig, bank: instruments.SampleBank
                ) -> tp.Tuple[np.ndarray, tp.Dict[str, tp.Any]]:
    """Render clip `index` of a corpus.

    Returns:
        (16-bit PCM samples, sidecar dict). The same (seed, index, config) always gives the same bytes.
    """
    style = clip_style(styles, config.seed, index)
    plan = plan_clip(style, config.duration, clip_rng(config.seed, index, 0))
    audio = render_audio(plan, config, bank, clip_rng(config.seed, index, 1))
    info = describe(plan, index, config, clip_rng(config.seed, index, 2))
    return to_pcm16(audio), info
