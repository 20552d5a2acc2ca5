"""Music theory for the beat renderer: keys, scales, diatonic chords and voicings."""

from dataclasses import dataclass
import typing as tp

PITCH_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_NAME_ALIASES = {"Db": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10}

# Semitone offsets of each scale ("flavour") relative to its tonic. The label mode of a beat is
# `major` or `minor` (what a chroma key estimator and a user can tell apart); the flavour is kept
# in the render parameters.
SCALES: tp.Dict[str, tp.Tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic": (0, 2, 3, 5, 7, 8, 11),
}
SCALE_MODE = {"ionian": "major", "mixolydian": "major", "aeolian": "minor", "dorian": "minor",
              "phrygian": "minor", "harmonic": "minor"}
_ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII"]


def pitch_class(name: str) -> int:
    """Pitch class (0-11) of a note name such as `F#` or `Bb`."""
    if name in PITCH_NAMES:
        return PITCH_NAMES.index(name)
    if name in _NAME_ALIASES:
        return _NAME_ALIASES[name]
    raise ValueError(f"unknown note name {name!r}")


def key_name(tonic: int, mode: str) -> str:
    """`F# minor` style label of a key."""
    return f"{PITCH_NAMES[tonic % 12]} {mode}"


@dataclass(frozen=True)
class Key:
    """A tonic (pitch class) and a scale flavour."""
    tonic: int
    scale: str

    @property
    def mode(self) -> str:
        return SCALE_MODE[self.scale]

    @property
    def name(self) -> str:
        return key_name(self.tonic, self.mode)

    def degree_pitch(self, degree: int, octave: int) -> int:
        """MIDI pitch of a scale degree (0-based, may exceed 6 or be negative) with C-octave `octave`."""
        steps = SCALES[self.scale]
        octave_shift, idx = divmod(degree, 7)
        return 12 * (octave + 1 + octave_shift) + self.tonic + steps[idx]

    def scale_pitches(self, low: int, high: int) -> tp.List[int]:
        """Every MIDI pitch of the scale within [low, high]."""
        pcs = {(self.tonic + s) % 12 for s in SCALES[self.scale]}
        return [p for p in range(low, high + 1) if p % 12 in pcs]


def chord_degrees(root_degree: int, size: int) -> tp.List[int]:
    """Scale degrees (0-based) of a diatonic chord stacked in thirds (size 3: triad, 4: seventh)."""
    return [root_degree + 2 * i for i in range(size)]


def chord_pitch_classes(key: Key, root_degree: int, size: int) -> tp.List[int]:
    """Pitch classes of a diatonic chord, root first."""
    return [key.degree_pitch(d, 0) % 12 for d in chord_degrees(root_degree, size)]


def roman(key: Key, root_degree: int, size: int) -> str:
    """Roman numeral of a diatonic chord (`i`, `VI`, `V7`, `iiø7`...), for the ground-truth record."""
    pcs = [key.degree_pitch(d, 0) for d in chord_degrees(root_degree, 3)]
    third, fifth = (pcs[1] - pcs[0]) % 12, (pcs[2] - pcs[0]) % 12
    numeral = _ROMAN[root_degree % 7]
    if third == 3:
        numeral = numeral.lower()
    suffix = "°" if (third, fifth) == (3, 6) else ""
    if size >= 4:
        suffix = "ø7" if suffix == "°" else "7"
        seventh = (key.degree_pitch(root_degree + 6, 0) - pcs[0]) % 12
        if seventh == 11:
            suffix = "maj7"
    return numeral + suffix


def voice_chord(pitch_classes: tp.Sequence[int], center: int, previous: tp.Optional[tp.Sequence[int]] = None
                ) -> tp.List[int]:
    """Close voicing of a chord near MIDI pitch `center`, moving as little as possible from `previous`.

    Args:
        pitch_classes: Chord pitch classes, root first.
        center: Target MIDI pitch of the voicing's middle.
        previous: The previous voicing, for smooth voice leading.
    Returns:
        Sorted MIDI pitches.
    """
    candidates = []
    n = len(pitch_classes)
    for inversion in range(n):
        pcs = list(pitch_classes[inversion:]) + list(pitch_classes[:inversion])
        for base_octave in range(center // 12 - 2, center // 12 + 1):
            notes, last = [], None
            for pc in pcs:
                pitch = 12 * base_octave + pc
                while last is not None and pitch <= last:
                    pitch += 12
                notes.append(pitch)
                last = pitch
            mid = (notes[0] + notes[-1]) / 2
            if abs(mid - center) <= 7:
                candidates.append(notes)
    if not candidates:
        return sorted(12 * (center // 12) + pc for pc in pitch_classes)

    def cost(notes: tp.List[int]) -> float:
        if previous is None:
            return abs((notes[0] + notes[-1]) / 2 - center)
        return sum(min(abs(p - q) for q in previous) for p in notes) + 0.1 * abs((notes[0] + notes[-1]) / 2 - center)

    return min(candidates, key=cost)
