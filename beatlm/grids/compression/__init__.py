"""Codec grids (`solver=compression/beats`)."""
