"""Solvers: one training recipe per file, looked up by name in `builders.get_solver`."""

from .. import bends

bends.apply()

from .builders import get_solver, known_solvers, register_solver  # noqa: E402

__all__ = ["get_solver", "known_solvers", "register_solver"]
