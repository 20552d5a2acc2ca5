"""The `audiocraft.train` bend: audiocraft's `//sig/` resolution uses BeatLM's Dora folder."""

import importlib


def test_audiocraft_train_is_beatlm_train():
    from beatlm import bends, train
    bends.apply()
    assert importlib.import_module("audiocraft.train") is train
    from audiocraft import train as ac_train
    assert ac_train.main is train.main


def test_sig_resolves_in_beatlm_dora_dir(codec_xp, dora_dir):
    from audiocraft.utils.checkpoint import resolve_checkpoint_path
    _, xp = codec_xp
    path = resolve_checkpoint_path(f"//sig/{xp.sig}")
    assert path == dora_dir / "xps" / xp.sig / "checkpoint.th"
    assert resolve_checkpoint_path("//sig/00000000") is None
