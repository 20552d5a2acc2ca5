"""Style definitions of the beat corpus, loaded from `styles.yaml` and checked once."""

from dataclasses import dataclass
import functools
from pathlib import Path
import typing as tp

import yaml

from ...utils.errors import BeatLMError
from .theory import SCALE_MODE, SCALES

STYLES_FILE = Path(__file__).with_name("styles.yaml")
INSTRUMENTS_FILE = Path(__file__).with_name("instruments.yaml")
DRUM_ROLES = ("kick", "snare", "hat", "open_hat", "perc", "crash", "toms", "fx")
LAYER_ROLES = ("chords", "pad", "arp", "lead", "counter", "cowbell")
HARMONIC_ROLES = ("chords", "pad", "arp")
FILLS = ("snare_roll", "tom_fill", "kick_drop", "scratch", "hat_roll", "riser")
BASS_RHYTHMS = ("kick", "drill", "sustain", "lofi", "funk", "walking")


@dataclass(frozen=True)
class Style:
    """One sub-style: its name and the raw table from styles.yaml (see the comments there)."""
    name: str
    spec: tp.Dict[str, tp.Any]

    @property
    def label(self) -> str:
        return self.spec["label"]

    def __getitem__(self, key: str) -> tp.Any:
        return self.spec[key]


def _check_pattern(style: str, role: str, pattern: str) -> None:
    if len(pattern) != 16 or set(pattern) - set("xo."):
        raise ValueError(f"style {style}: {role} pattern {pattern!r} must be 16 characters of 'x', 'o', '.'")


def _check_style(name: str, spec: tp.Dict[str, tp.Any], programs: tp.Dict[int, tp.Any]) -> None:
    low, high = spec["bpm"]
    if not 40 <= low <= high <= 200:
        raise ValueError(f"style {name}: bpm range {spec['bpm']} outside 40-200")
    for scale in spec["scales"]:
        if scale not in SCALES:
            raise ValueError(f"style {name}: unknown scale {scale}")
    modes = {SCALE_MODE[s] for s in spec["scales"]}
    for mode in modes:
        if not spec["progressions"].get(mode):
            raise ValueError(f"style {name}: no {mode} progression")
    for role in DRUM_ROLES:
        if not spec["drums"].get(role):
            raise ValueError(f"style {name}: no {role} samples")
    for role in ("kick", "snare", "hat", "open_hat", "perc"):
        for pattern in spec["grammar"][role]:
            _check_pattern(name, role, pattern)
    for fill in spec["grammar"]["fills"]:
        if fill not in FILLS:
            raise ValueError(f"style {name}: unknown fill {fill}")
    if spec["bass"]["rhythm"] not in BASS_RHYTHMS:
        raise ValueError(f"style {name}: unknown bass rhythm {spec['bass']['rhythm']}")
    for layer in spec["layers"]:
        if layer["role"] not in LAYER_ROLES:
            raise ValueError(f"style {name}: unknown layer role {layer['role']}")
        for program in layer["programs"]:
            if program not in programs:
                raise ValueError(f"style {name}: program {program} missing from instruments.yaml")
    for program in spec["bass"].get("programs", []):
        if program not in programs:
            raise ValueError(f"style {name}: bass program {program} missing from instruments.yaml")


@functools.lru_cache(maxsize=None)
def instrument_table() -> tp.Dict[int, tp.Dict[str, tp.Any]]:
    """General MIDI program -> {tag, words} (instruments.yaml)."""
    with open(INSTRUMENTS_FILE) as f:
        return {int(k): v for k, v in yaml.safe_load(f).items()}


@functools.lru_cache(maxsize=None)
def all_styles() -> tp.Dict[str, Style]:
    """Every style of styles.yaml, validated, by name."""
    with open(STYLES_FILE) as f:
        table = yaml.safe_load(f)
    programs = instrument_table()
    styles = {}
    for name, spec in table.items():
        _check_style(name, spec, programs)
        styles[name] = Style(name, spec)
    return styles


def required_samples(styles: tp.Iterable[Style]) -> tp.List[str]:
    """Names (without extension) of every drum sample the styles use, plus the vinyl noise bed."""
    names = {"vinyl_hiss", "drum_cowbell"}
    for style in styles:
        for samples in style["drums"].values():
            names.update(samples)
    return sorted(names)


def resolve_styles(names: tp.Optional[tp.Sequence[str]]) -> tp.List[Style]:
    """The styles named (all of them when `names` is empty), in styles.yaml order.

    Raises:
        BeatLMError: for an unknown name, listing the known ones.
    """
    styles = all_styles()
    if not names:
        return list(styles.values())
    unknown = [n for n in names if n not in styles]
    if unknown:
        raise BeatLMError(f"unknown style(s) {', '.join(unknown)}; choose from {', '.join(styles)}")
    return [styles[n] for n in styles if n in set(names)]
