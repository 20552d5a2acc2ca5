"""`beatlm plan`: what a training run of each solver needs per GPU, from its real modules built at meta device."""

# `beatlm plan --solver` name -> the solver config it plans (here, not in models.py: the CLI reads it without torch).
SOLVERS = {"codec": "compression/beats", "mulan": "musiclm/mulan", "semantic": "musiclm/semantic",
           "coarse": "musiclm/coarse", "fine": "musiclm/fine"}
