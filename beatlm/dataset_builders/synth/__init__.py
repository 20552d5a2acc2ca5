"""Procedural rap-beat corpus: captioned, labelled instrumentals rendered from style definitions.

Modules, one job each: `theory` (keys, chords), `styles` (styles.yaml), `patterns` (drum grammar),
`lines` (bass and melodic layers), `arrangement` (sections and the clip plan), `instruments` (samples,
808, FluidSynth), `mixing` (mix and master), `captions` (free-text captions), `render` (one clip),
`corpus` (many clips, manifests, dset YAML), `analysis` (file checks), `stats` (with the tempo and key
estimates of `beatlm.metrics.music`).
"""
