"""Drum grammar: one bar of drums from a style's patterns, with variations, rolls and fills.

Positions are in 16th-note steps from the bar start (floats: rolls and triplets fall between steps).
Swing is applied later, when steps become seconds (see `arrangement.step_time`).
"""

from dataclasses import dataclass
import typing as tp

import numpy as np

from .styles import Style

SOFT = 0.45  # velocity of an `o` in a pattern string
GHOST_STEPS = (3, 7, 9, 11, 15)


@dataclass
class DrumHit:
    """One drum hit: `role` is a kit slot (kick, snare, hat...), `variant` picks among toms/fx."""
    role: str
    step: float
    velocity: float
    variant: int = 0
    pitch: float = 0.0  # semitones, for rolls that rise


@dataclass
class BarGrammar:
    """The patterns a song keeps for a section (chosen once, varied per bar)."""
    kick: str
    snare: str
    hat: str
    open_hat: str
    perc: str


def parse(pattern: str) -> tp.List[tp.Tuple[int, float]]:
    """(step, velocity) of each hit of a 16-step pattern string."""
    return [(i, 1.0 if c == "x" else SOFT) for i, c in enumerate(pattern) if c != "."]


def choose_grammar(style: Style, rng: np.random.Generator, busy: bool) -> BarGrammar:
    """Pick the patterns of a section; `busy` sections (hooks) favour the later, denser entries."""
    g = style["grammar"]

    def pick(options: tp.Sequence[str]) -> str:
        if busy and len(options) > 1 and rng.random() < 0.5:
            return options[int(rng.integers(len(options) // 2, len(options)))]
        return options[int(rng.integers(len(options)))]

    return BarGrammar(pick(g["kick"]), pick(g["snare"]), pick(g["hat"]), pick(g["open_hat"]), pick(g["perc"]))


def _vary_kick(hits: tp.List[tp.Tuple[int, float]], rng: np.random.Generator) -> tp.List[tp.Tuple[int, float]]:
    steps = {s for s, _ in hits}
    if rng.random() < 0.5 and len(hits) > 2:
        removable = [h for h in hits if h[0] != 0]
        drop = removable[int(rng.integers(len(removable)))]
        return [h for h in hits if h != drop]
    free = [s for s in (2, 3, 6, 7, 9, 11, 13, 14, 15) if s not in steps]
    if free:
        hits = hits + [(int(rng.choice(free)), 0.8)]
    return sorted(hits)


def _hat_hits(pattern: str, style: Style, rng: np.random.Generator, roll: bool, triplets: bool
              ) -> tp.Tuple[tp.List[DrumHit], tp.Set[str]]:
    """Hi-hats of a bar, with at most one roll (32nds) and one triplet beat replacing straight hits."""
    tags: tp.Set[str] = set()
    replaced: tp.Dict[int, tp.List[DrumHit]] = {}
    beats = [1, 2, 3]
    if roll:
        beat = int(rng.choice(beats))
        beats.remove(beat)
        div = int(rng.choice([8, 6, 12])) if rng.random() < 0.4 else 8  # 32nds, triplet 16ths, 48ths
        rise = float(rng.choice([0.0, 0.0, 3.0, 7.0]))
        replaced[beat] = [DrumHit("hat", 4 * beat + 4 * k / div, 0.5 + 0.5 * k / div, pitch=rise * k / div)
                          for k in range(div)]
        tags.add("hat_rolls")
    if triplets:
        beat = int(rng.choice(beats))
        replaced[beat] = [DrumHit("hat", 4 * beat + 4 * k / 6, 0.9 if k % 3 == 0 else 0.6) for k in range(6)]
        tags.add("triplet_hats")
    hits: tp.List[DrumHit] = []
    for step, vel in parse(pattern):
        if step // 4 not in replaced:
            accent = 1.0 if step % 4 == 0 else (0.7 if step % 2 == 0 else 0.5)  # the beat stays audible
            hits.append(DrumHit("hat", step, vel * accent))
    for beat_hits in replaced.values():
        hits.extend(beat_hits)
    return hits, tags


def _fill(kind: str, hits: tp.List[DrumHit], rng: np.random.Generator) -> tp.List[DrumHit]:
    """Replace the end of a bar with a fill."""
    start = 12 if rng.random() < 0.7 else 8
    if kind == "kick_drop":
        return [h for h in hits if not (h.role == "kick" and h.step >= start)]
    if kind == "scratch":
        return hits + [DrumHit("fx", 12, 0.9, variant=0)]
    if kind == "riser":
        return hits + [DrumHit("fx", 8, 0.7, variant=int(rng.integers(0, 8)))]
    keep = [h for h in hits if h.step < start or h.role not in ("snare", "kick", "hat")]
    if kind == "snare_roll":
        div = 2 if rng.random() < 0.5 else 1  # 32nds or 16ths
        n = (16 - start) * div
        return keep + [DrumHit("snare", start + k / div, 0.35 + 0.6 * k / n) for k in range(n)]
    if kind == "tom_fill":
        steps = list(range(start, 16, 1 if rng.random() < 0.5 else 2))
        return keep + [DrumHit("toms", s, 0.9, variant=min(2, 3 * i // len(steps))) for i, s in enumerate(steps)]
    if kind == "hat_roll":
        n = (16 - start) * 2
        return [h for h in hits if not (h.role == "hat" and h.step >= start)] + [
            DrumHit("hat", start + k / 2, 0.4 + 0.6 * k / n, pitch=5.0 * k / n) for k in range(n)]
    raise ValueError(f"unknown fill {kind}")


def drum_bar(style: Style, grammar: BarGrammar, rng: np.random.Generator, *, section: str,
             first: bool, last: bool, fill: tp.Optional[str]) -> tp.Tuple[tp.List[DrumHit], tp.Set[str]]:
    """The drum hits of one bar.

    Args:
        style: The style (its grammar probabilities).
        grammar: The section's patterns.
        rng: Random generator of the clip.
        section: Section kind: intro, verse, hook, break or outro (intros and breaks thin the kit out).
        first: First bar of its section (a crash may mark it).
        last: Last bar of its section (gets `fill` if one is given).
        fill: Fill name (styles.FILLS) or None.
    Returns:
        The hits and the set of fact tags they show (hat_rolls, triplet_hats, ghost_snares, fill...).
    """
    g = style["grammar"]
    tags: tp.Set[str] = set()
    kick = parse(grammar.kick)
    if not first and rng.random() < g["kick_variation_p"]:
        kick = _vary_kick(kick, rng)
    hits = [DrumHit("kick", s, v) for s, v in kick]
    hits += [DrumHit("snare", s, v) for s, v in parse(grammar.snare)]
    if rng.random() < g["ghost_p"]:
        taken = {int(h.step) for h in hits if h.role == "snare"}
        free = [s for s in GHOST_STEPS if s not in taken]
        for s in rng.choice(free, size=min(len(free), int(rng.integers(1, 3))), replace=False):
            hits.append(DrumHit("snare", int(s), 0.3))
        tags.add("ghost_snares")
    hat_hits, hat_tags = _hat_hits(grammar.hat, style, rng, rng.random() < g["roll_p"], rng.random() < g["triplet_p"])
    hits += hat_hits
    tags |= hat_tags
    hits += [DrumHit("open_hat", s, v * 0.8) for s, v in parse(grammar.open_hat)]
    hits += [DrumHit("perc", s, v * 0.8) for s, v in parse(grammar.perc)]
    if section in ("intro", "break"):
        hits = [h for h in hits if h.role in ("hat", "perc", "open_hat")]
    if first and section in ("verse", "hook") and rng.random() < 0.6:
        hits.append(DrumHit("crash", 0, 0.8))
        tags.add("crash")
    if last and fill is not None:
        hits = _fill(fill, hits, rng)
        tags.add("fill")
        tags.add(f"fill_{fill}")
    if any(h.role == "snare" and h.velocity > 0.5 and int(h.step) % 4 != 0 for h in hits if h.step < 12):
        tags.add("syncopated_snare")
    return sorted(hits, key=lambda h: h.step), tags
