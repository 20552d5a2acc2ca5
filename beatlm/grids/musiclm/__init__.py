"""Sweeps of the MusicLM models (the plan's tuning): `dora grid musiclm.<name>`, `beatlm grid run musiclm.<name>`.

- `mulan_sweep`: MuLaN's learning rate and plateau factor.
- `semantic_sweep`: the semantic stage's learning rate (1e-3 to 3e-3), dropout (0.1 to 0.3) and layers (4 to 6).
- `coarse_sweep`, `fine_sweep`: start from the best semantic settings (saved by
  `beatlm grid best musiclm.semantic_sweep --metric valid/ce --save`) and adjust learning rate and dropout.
"""
