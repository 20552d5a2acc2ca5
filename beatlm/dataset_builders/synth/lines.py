"""Bass lines and melodic layers that follow a chord progression.

Everything is in 16th-note steps counted from the song start; `arrangement` turns steps into seconds.
"""

from dataclasses import dataclass
import typing as tp

import numpy as np

from .theory import Key, chord_degrees, chord_pitch_classes, voice_chord


@dataclass
class Note:
    """A pitched note. `glide_to` (808 only) is the pitch the note slides to at its end."""
    step: float
    length: float
    pitch: int
    velocity: float
    glide_to: tp.Optional[int] = None


@dataclass
class ChordSpan:
    """A chord held from `start` to `end` (steps); `degree` is its 0-based root scale degree."""
    start: int
    end: int
    degree: int
    size: int


def chord_at(chords: tp.Sequence[ChordSpan], step: float) -> ChordSpan:
    """The chord sounding at `step`."""
    for span in chords:
        if span.start <= step < span.end:
            return span
    return chords[-1]


def bass_register(key: Key, pc: int, octave: int) -> int:
    """MIDI pitch of pitch class `pc` in a bass register (808s: E1-D#2, basses: A1-G#2 region)."""
    low = 28 if octave <= 1 else 33
    pitch = 12 * (octave + 1) + pc
    while pitch < low:
        pitch += 12
    while pitch >= low + 12:
        pitch -= 12
    return pitch


# ---------------------------------------------------------------- bass

def bass_line(kind: str, rhythm: str, key: Key, chords: tp.Sequence[ChordSpan], kicks: tp.Sequence[float],
              bars: tp.Sequence[int], octave: int, glide_p: float, rng: np.random.Generator) -> tp.List[Note]:
    """Bass notes for the bars in `bars`.

    Args:
        kind: `808` or `gm`.
        rhythm: styles.BASS_RHYTHMS entry: kick (on every kick), drill (kicks plus slides), sustain (a note per
            chord), lofi (beats 1 and 3), funk (syncopated 16ths), walking (quarter notes).
        key: The key.
        chords: Chord timeline of the song.
        kicks: Kick positions (steps) of the song; bass rests where the section has no kick.
        bars: Bars where the bass plays.
        octave: Register.
        glide_p: Probability that an 808 note glides into the next different pitch.
        rng: Random generator.
    """
    onsets: tp.List[tp.Tuple[float, float]] = []  # (step, velocity)
    bar_set = set(bars)
    if rhythm in ("kick", "drill"):
        onsets = [(k, 1.0) for k in kicks if int(k // 16) in bar_set]
        if rhythm == "drill":
            for bar in bars:
                for s in rng.choice([6, 7, 10, 13, 14], size=int(rng.integers(0, 3)), replace=False):
                    onsets.append((16 * bar + float(s), 0.85))
    elif rhythm == "sustain":
        onsets = [(float(c.start), 1.0) for c in chords if int(c.start // 16) in bar_set]
        onsets += [(16.0 * b, 1.0) for b in bars if not any(c.start == 16 * b for c in chords)]
    elif rhythm == "lofi":
        for bar in bars:
            onsets += [(16.0 * bar, 1.0), (16.0 * bar + 8 + (2 if rng.random() < 0.4 else 0), 0.8)]
            if rng.random() < 0.5:
                onsets.append((16.0 * bar + 14, 0.6))
    elif rhythm == "funk":
        groove = sorted(set([0, 3] + list(rng.choice([6, 7, 8, 10, 11, 13, 14], size=4, replace=False))))
        for bar in bars:
            onsets += [(16.0 * bar + s, 1.0 if s in (0, 8) else 0.75) for s in groove]
    elif rhythm == "walking":
        onsets = [(16.0 * bar + 4 * q, 0.9 if q == 0 else 0.75) for bar in bars for q in range(4)]
    else:
        raise ValueError(f"unknown bass rhythm {rhythm}")
    onsets = sorted(set(onsets))
    notes: tp.List[Note] = []
    for i, (step, vel) in enumerate(onsets):
        nxt = onsets[i + 1][0] if i + 1 < len(onsets) else (max(bars) + 1) * 16
        chord = chord_at(chords, step)
        pcs = chord_pitch_classes(key, chord.degree, 3)
        pc = pcs[0]
        if rhythm == "funk" and step % 16 not in (0, 8) and rng.random() < 0.4:
            pc = pcs[int(rng.integers(1, 3))]
        if rhythm == "walking" and step % 16 != 0:
            q = int(step % 16) // 4
            if q == 3:  # approach the next chord's root from a scale step above or below
                target = chord_at(chords, step + 4)
                pc = key.degree_pitch(target.degree + int(rng.choice([-1, 1])), 0) % 12
            else:
                pc = pcs[int(rng.integers(0, 3))]
        if rhythm == "drill" and vel < 1.0:
            pc = key.degree_pitch(chord.degree + int(rng.choice([4, 6, 7, -1])), 0) % 12
        pitch = bass_register(key, pc, octave)
        if kind == "808" and rng.random() < 0.15:
            pitch += 12
        length = min(nxt - step, 16.0) if kind == "808" or rhythm == "sustain" else min(nxt - step, 3.0)
        if rhythm == "walking":
            length = 3.5
        notes.append(Note(step, max(0.5, length), pitch, vel))
    if kind == "808":
        for a, b in zip(notes, notes[1:]):
            if b.pitch != a.pitch and abs(b.step - (a.step + a.length)) < 1e-6 and rng.random() < glide_p:
                a.glide_to = b.pitch
    return notes


# ---------------------------------------------------------------- melodic layers

CHORD_RHYTHMS = {
    "stabs": [[0, 3, 6, 10], [0, 6, 10], [0, 3, 8, 11], [0, 7, 10, 14]],
    "chop": [[0, 2, 4, 6, 8, 10, 12, 14], [0, 3, 4, 8, 11, 12], [0, 2, 6, 8, 10, 14]],
}
LEAD_RHYTHMS = [
    [0, 3, 6, 8, 10, 12], [0, 2, 4, 7, 10], [0, 4, 6, 8, 12, 14], [0, 3, 6, 10, 12], [0, 1, 2, 8, 9, 10, 12],
    [0, 6, 8, 11, 14], [0, 4, 8, 10, 11], [2, 4, 6, 10, 12, 14],
]
ARP_ORDERS = {"up": [0, 1, 2, 3], "updown": [0, 1, 2, 3, 2, 1], "down": [3, 2, 1, 0], "broken": [0, 2, 1, 3]}


def chord_layer(key: Key, chords: tp.Sequence[ChordSpan], bars: tp.Sequence[int], octave: int, rhythm: str,
                rng: np.random.Generator, spread: bool = False) -> tp.List[Note]:
    """Block chords: held (`sustain`) or played on a one-bar rhythm (`stabs`, `chop`); pads add the bass octave."""
    center = 12 * (octave + 1) + 7
    pattern = None if rhythm == "sustain" else CHORD_RHYTHMS[rhythm][int(rng.integers(len(CHORD_RHYTHMS[rhythm])))]
    notes: tp.List[Note] = []
    previous = None
    bar_set = set(bars)
    for span in chords:
        pcs = chord_pitch_classes(key, span.degree, span.size)
        voicing = voice_chord(pcs, center, previous)
        previous = voicing
        if spread:
            voicing = [voicing[0] - 12] + voicing
        if pattern is None:
            for bar in range(span.start // 16, (span.end - 1) // 16 + 1):
                if bar in bar_set:
                    start, end = max(span.start, 16 * bar), min(span.end, 16 * bar + 16)
                    notes += [Note(float(start), end - start - 0.2, p, 0.7) for p in voicing]
            continue
        for step in range(span.start, span.end):
            if step // 16 in bar_set and step % 16 in pattern:
                nxt = [s for s in pattern if s > step % 16]
                length = min(3.0, (nxt[0] if nxt else 16) - step % 16) * (0.9 if rhythm == "chop" else 0.7)
                vel = 0.75 if step % 4 == 0 else 0.6
                notes += [Note(float(step), length, p, vel) for p in voicing]
    return notes


def arp_layer(key: Key, chords: tp.Sequence[ChordSpan], bars: tp.Sequence[int], octave: int,
              rng: np.random.Generator) -> tp.List[Note]:
    """Arpeggiated chord tones in 8ths, 16ths or 8th triplets."""
    div = float(rng.choice([2.0, 1.0, 4 / 3]))
    order = ARP_ORDERS[str(rng.choice(list(ARP_ORDERS)))]
    notes: tp.List[Note] = []
    base = 12 * (octave + 1)
    for bar in bars:
        k = 0
        pos = 0.0
        while pos < 16 - 1e-6:
            step = 16 * bar + pos
            span = chord_at(chords, step)
            pcs = chord_pitch_classes(key, span.degree, 4 if span.size >= 4 else 3)
            tones = sorted((base + pc) if pc >= pcs[0] else (base + pc + 12) for pc in pcs)
            if len(tones) == 3:
                tones.append(tones[0] + 12)
            pitch = tones[order[k % len(order)] % len(tones)]
            notes.append(Note(step, div * 0.9, pitch, 0.65 if k % len(order) else 0.8))
            k += 1
            pos += div
    return notes


def melody_layer(key: Key, chords: tp.Sequence[ChordSpan], bars: tp.Sequence[int], octave: int,
                 rng: np.random.Generator, sparse: bool = False) -> tp.List[Note]:
    """A repeated one- or two-bar motif whose notes are scale degrees relative to the current chord root.

    Strong steps land on chord tones, so the motif follows the harmony; every fourth repetition varies.
    """
    motif_bars = int(rng.choice([1, 2]))
    motif: tp.List[tp.Tuple[int, int, float]] = []  # (step in motif, degree offset from chord root, length)
    for b in range(motif_bars):
        rhythm = [0, 8] if sparse else LEAD_RHYTHMS[int(rng.integers(len(LEAD_RHYTHMS)))]
        if sparse and rng.random() < 0.5:
            rhythm = [0, 6, 12]
        degree = int(rng.choice([0, 2, 4]))
        for i, s in enumerate(rhythm):
            nxt = rhythm[i + 1] if i + 1 < len(rhythm) else 16
            if s % 4 == 0:
                degree = min((0, 2, 4, 7), key=lambda d: abs(d - degree) + rng.random())
            else:
                degree += int(rng.choice([-1, 1, 1, 2, -2]))
            degree = int(np.clip(degree, -2, 9))
            motif.append((16 * b + s, degree, float(nxt - s)))
    notes: tp.List[Note] = []
    for bar in bars:
        offset = (bar % motif_bars) * 16
        for s, degree, length in motif:
            if not offset <= s < offset + 16:
                continue
            step = 16 * bar + s - offset
            span = chord_at(chords, step)
            d = degree + (int(rng.choice([-1, 1])) if bar % 4 == 3 and s % 4 else 0)
            pitch = key.degree_pitch(span.degree + d, octave)
            notes.append(Note(float(step), min(length, 4.0) * 0.9, pitch, 0.8 if s % 4 == 0 else 0.65))
    return notes


def root_degrees(progression: tp.Sequence[int]) -> tp.List[int]:
    """0-based root degrees of a 1-based progression."""
    return [d - 1 for d in progression]


def chord_timeline(progression: tp.Sequence[int], size: int, bars_per_chord: int, total_bars: int
                   ) -> tp.List[ChordSpan]:
    """The progression repeated over the song, `bars_per_chord` bars per chord."""
    spans = []
    degrees = root_degrees(progression)
    length = 16 * bars_per_chord
    for i in range((total_bars + bars_per_chord - 1) // bars_per_chord):
        spans.append(ChordSpan(i * length, (i + 1) * length, degrees[i % len(degrees)], size))
    return spans


__all__ = ["Note", "ChordSpan", "bass_line", "chord_layer", "arp_layer", "melody_layer", "chord_timeline",
           "chord_degrees"]
