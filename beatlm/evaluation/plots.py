"""The PNG plots of a model report (matplotlib, Agg backend): spectrograms, tempo asked vs measured, styles."""

from pathlib import Path
import typing as tp

import numpy as np

from ..metrics.music import TEMPO_TOLERANCE


def _pyplot() -> tp.Any:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig: tp.Any, path: Path, overwrite: bool) -> Path:
    from ..utils.files import atomic_path
    plt = _pyplot()
    fig.tight_layout()
    with atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path


def plot_spectrograms(clips: tp.Sequence[tp.Tuple[str, np.ndarray]], sample_rate: int, path: Path,
                      overwrite: bool = False) -> Path:
    """Log-mel spectrograms of a few (title, mono samples [T]) clips, one row each."""
    import librosa
    plt = _pyplot()
    fig, axes = plt.subplots(len(clips), 1, figsize=(10, 2.4 * len(clips)), squeeze=False)
    for ax, (title, wav) in zip(axes[:, 0], clips):
        mel = librosa.feature.melspectrogram(y=np.asarray(wav, np.float32), sr=sample_rate, n_mels=64, hop_length=512)
        db = librosa.power_to_db(mel + 1e-10, ref=max(float(mel.max()), 1e-10))
        extent = (0.0, len(wav) / sample_rate, 0, 64)
        image = ax.imshow(db, origin="lower", aspect="auto", extent=extent, vmin=-80, vmax=0, cmap="magma")
        ax.set_title(title if len(title) <= 90 else title[:87] + "...", fontsize=9)
        ax.set_ylabel("mel band")
        fig.colorbar(image, ax=ax, label="dB")
    axes[-1, 0].set_xlabel("time (s)")
    return _save(fig, path, overwrite)


def plot_tempo(samples: tp.Sequence[tp.Dict[str, tp.Any]], path: Path, overwrite: bool = False) -> Path:
    """Scatter of measured vs asked BPM (hits, octave errors, other misses), with the 4 % band and half/double."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    rows = [s for s in samples if s["bpm_asked"] is not None]
    asked = np.array([s["bpm_asked"] for s in rows], dtype=float)
    low, high = (60.0, 180.0) if not len(asked) else (max(20.0, asked.min() * 0.4), asked.max() * 2.2)
    line = np.linspace(low, high, 50)
    ax.fill_between(line, line * (1 - TEMPO_TOLERANCE), line * (1 + TEMPO_TOLERANCE), color="tab:green", alpha=0.2,
                    label=f"within {TEMPO_TOLERANCE:.0%}")
    ax.plot(line, line * 0.5, ":", color="grey", lw=1, label="half / double (octave errors)")
    ax.plot(line, line * 2.0, ":", color="grey", lw=1)
    groups = (("hit", "tab:green", lambda s: s["tempo_hit"]),
              ("octave error", "tab:orange", lambda s: not s["tempo_hit"] and s["tempo_octave_error"]),
              ("miss", "tab:red", lambda s: not s["tempo_hit"] and not s["tempo_octave_error"]))
    for label, color, keep in groups:
        chosen = [s for s in rows if keep(s)]
        ax.scatter([s["bpm_asked"] for s in chosen], [s["tempo_bpm"] for s in chosen], c=color, s=24,
                   label=f"{label} ({len(chosen)})")
    ax.set_xlim(low, high)
    ax.set_ylim(0, high * 1.1)
    ax.set_xlabel("BPM asked")
    ax.set_ylabel("BPM measured (librosa)")
    ax.set_title("tempo: asked vs measured" if rows else "tempo: no prompt names a BPM")
    ax.legend(fontsize=8)
    return _save(fig, path, overwrite)


def plot_styles(by_style: tp.Dict[str, tp.Dict[str, tp.Any]], path: Path, overwrite: bool = False) -> Path:
    """Grouped bars per style: tempo and key adherence, MuLaN consistency, share of speech-free samples."""
    plt = _pyplot()
    names = list(by_style)
    metrics = (("tempo", "tempo adherence"), ("key", "key adherence"), ("mulan", "MuLaN cosine"),
               ("speech_free", "speech-free share"))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(names) + 2), 4.5))
    width = 0.8 / len(metrics)
    x = np.arange(len(names))
    for k, (field, label) in enumerate(metrics):
        values = [by_style[n][field] for n in names]
        ax.bar(x + (k - (len(metrics) - 1) / 2) * width, [np.nan if v is None else v for v in values], width,
               label=label)
    ax.set_xticks(x, [f"{n}\n({by_style[n]['samples']})" for n in names], fontsize=8)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylim(min(-0.1, *[by_style[n]["mulan"] or 0 for n in names]), 1.05)
    ax.set_title("per style (samples)")
    ax.legend(fontsize=8, ncol=2)
    return _save(fig, path, overwrite)
