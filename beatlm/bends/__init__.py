"""The few places where audiocraft 1.3.0 (and musiclm-pytorch, Dora, torchaudio) have to be bent.

Each bend lives in its own module, says why in its docstring, and has a test under `tests/bends/`
that fails if the bend stops working. `apply()` installs them all; it is idempotent and is called
by every BeatLM entry point that uses audiocraft (the Dora main, solvers, loaders).
`musiclm_offline.apply()` is called where musiclm-pytorch is used (its import is slow).
"""

_applied = False


def apply() -> None:
    """Install every runtime bend (safe to call many times)."""
    global _applied
    if _applied:
        return
    _applied = True  # set first: installing the `audiocraft.train` alias imports beatlm.train, which calls apply()
    from . import quiet_imports
    quiet_imports.apply()
    from . import audiocraft_env, audiocraft_train, cfg_joint_embed, fast_lfilter, fast_wav_read, keep_last, secure_load
    audiocraft_env.apply()
    cfg_joint_embed.apply()
    fast_lfilter.apply()
    fast_wav_read.apply()
    audiocraft_train.apply()
    keep_last.apply()
    secure_load.apply()
    from . import balancer_world_size, mrstft_scalar, rvq_ema_sync
    balancer_world_size.apply()
    mrstft_scalar.apply()
    rvq_ema_sync.apply()
