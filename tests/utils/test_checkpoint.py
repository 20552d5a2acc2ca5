"""Secure checkpoint loading: real audiocraft checkpoints load, code-running pickles are refused."""

import argparse
import pickle

import pytest
import torch

from beatlm.utils.checkpoint import load_checkpoint
from beatlm.utils.errors import BeatLMError, UnsafeCheckpointError


def test_real_audiocraft_checkpoint_loads(codec_xp):
    _, xp = codec_xp
    state = load_checkpoint(xp.folder / "checkpoint.th")
    cfg = state["xp.cfg"]
    assert cfg.solver == "compression" and cfg.mel.sample_rate == 32000  # interpolations still resolve
    assert len(state["history"]) == 2
    assert any(isinstance(v, torch.Tensor) for v in state["best_state"]["model"].values())


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_code_running_pickle_is_refused(evil_pickle, protocol):
    path, marker = evil_pickle(protocol)
    with pytest.raises(UnsafeCheckpointError, match="allow-list") as info:
        load_checkpoint(path)
    assert not marker.exists()
    if protocol == 2:  # the unpickler reaches the global and names it
        assert "mkdir" in str(info.value)


def test_torch_saved_unknown_class_is_refused(tmp_path):
    path = tmp_path / "ns.th"
    torch.save({"args": argparse.Namespace(lr=1)}, path)
    with pytest.raises(UnsafeCheckpointError, match="Namespace"):
        load_checkpoint(path)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(BeatLMError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.th")
    garbage = tmp_path / "garbage.th"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(BeatLMError):
        load_checkpoint(garbage)
