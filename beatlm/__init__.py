"""BeatLM: text to rap instrumentals with the MusicLM hierarchy, built as Dora solvers in audiocraft.

Importing the package is cheap; the audiocraft integration (solvers, models, training) lives in
the sub-packages and applies the few bends audiocraft needs on first use (see `beatlm.bends`).
"""

__version__ = "0.1.0"
