"""Arrangement: from a style and a seed, the full plan of one clip (no audio yet).

A song is laid out in 4- and 8-bar sections (intro, verse, hook, break, outro) over one chord
progression; drums, bass and 1-3 melodic layers are generated per section, with a fill closing each
section. The clip is a `duration`-second window of that song starting on a random bar. Every choice
is drawn from one `numpy.random.Generator`, so a seed fixes the plan exactly.
"""

from dataclasses import dataclass, field
import math
import typing as tp

import numpy as np

from . import lines, patterns
from .styles import HARMONIC_ROLES, Style, instrument_table
from .theory import SCALE_MODE, Key, roman

SECTION_BARS = {"intro": 4, "verse": 8, "hook": 8, "break": 4, "outro": 4}


@dataclass
class Hit:
    """A sample hit in clip time (seconds)."""
    time: float
    sample: str
    gain: float
    role: str
    pitch: float = 0.0


@dataclass
class TimedNote:
    """A note in clip time (seconds)."""
    time: float
    duration: float
    pitch: int
    velocity: float
    glide_to: tp.Optional[int] = None


@dataclass
class Layer:
    """A melodic layer: General MIDI `program` (None: rendered from a sample, e.g. the phonk cowbell)."""
    role: str
    program: tp.Optional[int]
    notes: tp.List[TimedNote]
    sample: tp.Optional[str] = None


@dataclass
class ClipPlan:
    """Everything needed to render a clip, and the ground truth it carries."""
    style: Style
    bpm: int
    key: Key
    progression: tp.List[int]
    chord_size: int
    bars_per_chord: int
    swing: float
    duration: float
    start_bar: int
    sections: tp.List[tp.Dict[str, tp.Any]]
    kit: tp.Dict[str, tp.List[str]]
    hits: tp.List[Hit]
    bass_kind: str
    bass_program: tp.Optional[int]
    bass: tp.List[TimedNote]
    layers: tp.List[Layer]
    mix: tp.Dict[str, float]
    fx: tp.Dict[str, float]
    bass_fx: tp.Dict[str, float]
    tags: tp.Set[str] = field(default_factory=set)

    @property
    def bar_seconds(self) -> float:
        return 240.0 / self.bpm

    def romans(self) -> tp.List[str]:
        return [roman(self.key, d - 1, self.chord_size) for d in self.progression]


def step_time(step: float, bpm: float, swing: float) -> float:
    """Seconds from the song start to a (fractional) 16th step; odd 16ths are delayed by the swing."""
    sixteenth = 15.0 / bpm
    pair, frac = divmod(step, 2.0)
    if frac < 1.0:
        within = frac * 2 * swing
    else:
        within = 2 * swing + (frac - 1.0) * (2 - 2 * swing)
    return (2 * pair + within) * sixteenth


def song_form(min_bars: int, rng: np.random.Generator) -> tp.List[tp.Tuple[str, int]]:
    """Section list (kind, bars) of at least `min_bars` bars."""
    form = [("intro", 4)]
    while sum(b for _, b in form) < min_bars + 4:
        form += [("verse", int(rng.choice([8, 8, 4]))), ("hook", 8)]
        if rng.random() < 0.35:
            form.append(("break", 4))
    return form + [("outro", 4)]


def _weighted(table: tp.Dict[str, float], rng: np.random.Generator) -> str:
    names = list(table)
    weights = np.array([table[n] for n in names], dtype=float)
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


def _pick(options: tp.Sequence[tp.Any], rng: np.random.Generator) -> tp.Any:
    return options[int(rng.integers(len(options)))]


def _uniform(bounds: tp.Sequence[float], rng: np.random.Generator) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def plan_clip(style: Style, duration: float, rng: np.random.Generator) -> ClipPlan:
    """Draw a complete clip plan.

    Args:
        style: The sub-style.
        duration: Clip length in seconds.
        rng: The clip's random generator (derived from the corpus seed and the clip index).
    """
    bpm = int(rng.integers(style["bpm"][0], style["bpm"][1] + 1))
    scale = _weighted(style["scales"], rng)
    key = Key(int(rng.integers(12)), scale)
    progression = list(_pick(style["progressions"][SCALE_MODE[scale]], rng))
    chord_size = int(rng.integers(style["chord_size"][0], style["chord_size"][1] + 1))
    bars_per_chord = int(_pick(style["harmonic_rhythm"], rng))
    swing = _uniform(style["swing"], rng)
    bar_s = 240.0 / bpm
    clip_bars = math.ceil(duration / bar_s) + 1

    form = song_form(clip_bars, rng)
    total_bars = sum(b for _, b in form)
    # Clips start where the progression starts (a phrase boundary), so that every clip hears the tonic chord.
    phrase = len(progression) * bars_per_chord
    start_bar = phrase * int(rng.integers(0, (total_bars - clip_bars) // phrase + 1))
    clip_range = range(start_bar, start_bar + clip_bars)
    kit = {role: [_pick(samples, rng)] for role, samples in style["drums"].items()}
    kit["toms"] = list(style["drums"]["toms"])
    kit["fx"] = list(style["drums"]["fx"])

    # Layers: the style's first layer always plays (it carries the harmony or the hook), plus extras.
    n_layers = int(rng.integers(style["n_layers"][0], style["n_layers"][1] + 1))
    specs = [style["layers"][0]]
    extra = list(rng.permutation(len(style["layers"]) - 1) + 1)[: n_layers - 1]
    specs += [style["layers"][int(i)] for i in extra]
    if not any(s["role"] in HARMONIC_ROLES for s in specs):
        specs.append(next(s for s in style["layers"] if s["role"] in HARMONIC_ROLES))
    chords = lines.chord_timeline(progression, chord_size, bars_per_chord, total_bars)

    # Drums and the bars each layer plays in, section by section.
    drum_hits: tp.List[tp.Tuple[float, patterns.DrumHit]] = []
    tags: tp.Set[str] = set()
    sections = []
    layer_bars: tp.List[tp.List[int]] = [[] for _ in specs]
    bass_bars: tp.List[int] = []
    bar = 0
    for kind, n_bars in form:
        grammar = patterns.choose_grammar(style, rng, busy=kind == "hook")
        active = [True] + [kind == "hook" or (kind == "verse" and rng.random() < 0.6)
                           or (kind == "break" and rng.random() < 0.3) for _ in specs[1:]]
        for i, bar_i in enumerate(range(bar, bar + n_bars)):
            last = i == n_bars - 1
            fill = _pick(style["grammar"]["fills"], rng) if last and rng.random() < 0.8 else None
            hits, bar_tags = patterns.drum_bar(style, grammar, rng, section=kind, first=i == 0, last=last, fill=fill)
            drum_hits += [(16 * bar_i + h.step, h) for h in hits]
            if bar_i in clip_range:
                tags |= bar_tags
            for li, on in enumerate(active):
                if on:
                    layer_bars[li].append(bar_i)
            if kind not in ("intro", "break"):
                bass_bars.append(bar_i)
        if set(range(bar, bar + n_bars)) & set(clip_range):
            sections.append({"section": kind, "bars": n_bars, "start_bar": bar})
        bar += n_bars

    # Bass and melodic lines, generated for the whole song so that motifs repeat coherently.
    bass_spec = style["bass"]
    kicks = [s for s, h in drum_hits if h.role == "kick"]
    bass_kind = str(bass_spec["kind"])
    bass_program = int(_pick(bass_spec["programs"], rng)) if bass_kind == "gm" else None
    bass_notes = lines.bass_line(bass_kind, bass_spec["rhythm"], key, chords, kicks, bass_bars,
                                 int(bass_spec["octave"]), float(bass_spec.get("glide_p", 0.0)), rng)
    layer_notes = []
    table = instrument_table()
    for spec, lbars in zip(specs, layer_bars):
        octave, role = int(spec["octave"]), spec["role"]
        program = int(_pick(spec["programs"], rng)) if spec["programs"] else None
        if role == "chords":
            rhythm = _pick(spec["rhythm"], rng)
            if program is not None and table[program].get("slow"):
                rhythm = "sustain"
            notes = lines.chord_layer(key, chords, lbars, octave, rhythm, rng)
        elif role == "pad":
            notes = lines.chord_layer(key, chords, lbars, octave, "sustain", rng, spread=True)
        elif role == "arp":
            notes = lines.arp_layer(key, chords, lbars, octave, rng)
        else:
            notes = lines.melody_layer(key, chords, lbars, octave, rng, sparse=role == "counter")
        layer_notes.append((role, program, notes))

    # To clip time.
    origin = step_time(16 * start_bar, bpm, swing)
    jitter_s = style["humanize_ms"] / 1000.0

    def clip_time(step: float) -> float:
        return step_time(step, bpm, swing) - origin

    def jitter() -> float:
        return float(np.clip(rng.normal(0, jitter_s), -2 * jitter_s, 2 * jitter_s)) if jitter_s else 0.0

    hits_out = []
    for step, h in drum_hits:
        t = clip_time(step)
        if -0.05 <= t < duration:
            names = kit[h.role]
            sample = names[min(h.variant, len(names) - 1)]
            gain = float(h.velocity ** 1.5 * rng.uniform(0.9, 1.0))
            hits_out.append(Hit(max(0.0, t + (jitter() if h.role != "kick" else 0.0)), sample, gain, h.role, h.pitch))

    def timed(notes: tp.Sequence[lines.Note]) -> tp.List[TimedNote]:
        out = []
        for n in notes:
            t0, t1 = clip_time(n.step), clip_time(n.step + n.length)
            if t1 <= 0 or t0 >= duration:
                continue
            t0j = t0 + jitter()
            out.append(TimedNote(max(0.0, t0j), min(t1, duration + 0.5) - max(0.0, t0j), n.pitch,
                                 float(np.clip(n.velocity * rng.uniform(0.85, 1.0), 0.1, 1.0)), n.glide_to))
        return [n for n in out if n.duration > 0.01]

    layers = []
    for role, program, notes in layer_notes:
        sample = "drum_cowbell" if role == "cowbell" else None
        layers.append(Layer(role, program, timed(notes), sample))
    bass = timed(bass_notes)
    if bass_kind == "808" and any(n.glide_to is not None for n in bass):
        tags.add("glide_808")

    mix = {k: float(v + rng.uniform(-1.5, 1.5)) for k, v in style["mix"].items()}
    fx_spec = style["fx"]
    fx = {"reverb": _uniform(fx_spec["reverb"], rng), "saturation": _uniform(fx_spec["saturation"], rng),
          "lowpass_hz": _uniform(fx_spec["lowpass_hz"], rng), "vinyl": float(rng.random() < fx_spec["vinyl_p"]),
          "sidechain": _uniform(fx_spec["sidechain"], rng), "loudness_lufs": float(rng.uniform(-16, -11))}
    bass_fx = {}
    if bass_kind == "808":
        bass_fx = {"distortion": _uniform(bass_spec["distortion"], rng), "decay": _uniform(bass_spec["decay"], rng)}
        if bass_fx["distortion"] > 0.45:
            tags.add("distorted_808")
    if fx["vinyl"]:
        tags.add("vinyl")
    if swing >= 0.54:
        tags.add("swing")
    if style["half_time"]:
        tags.add("half_time")
    if any(layer.role == "cowbell" for layer in layers):
        tags.add("cowbell")
    if fx["reverb"] >= 0.3:
        tags.add("big_reverb")
    if fx["lowpass_hz"] <= 5000:
        tags.add("lowpass")
    if any(s["section"] in ("intro", "break") for s in sections):
        tags.add("drum_dropout")
    return ClipPlan(style=style, bpm=bpm, key=key, progression=progression, chord_size=chord_size,
                    bars_per_chord=bars_per_chord, swing=swing, duration=duration, start_bar=start_bar,
                    sections=sections, kit=kit, hits=sorted(hits_out, key=lambda h: h.time), bass_kind=bass_kind,
                    bass_program=bass_program, bass=bass, layers=layers, mix=mix, fx=fx, bass_fx=bass_fx, tags=tags)


def instruments_of(plan: ClipPlan) -> tp.List[str]:
    """Instrument tags heard in a clip (drums, bass, then each melodic layer), without repeats."""
    table = instrument_table()
    names = ["drums", "808" if plan.bass_kind == "808" else table[plan.bass_program]["tag"]]
    for layer in plan.layers:
        if not layer.notes:
            continue
        names.append("cowbell" if layer.program is None else table[layer.program]["tag"])
    return list(dict.fromkeys(names))
