"""Dora grids (sweeps): `dora grid <module>` runs the explorer defined in `beatlm/grids/<module>.py`."""
