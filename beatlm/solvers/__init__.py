"""Solvers: one training recipe per file, looked up by name in `builders.get_solver`."""

from .builders import get_solver, known_solvers, register_solver

__all__ = ["get_solver", "known_solvers", "register_solver"]
