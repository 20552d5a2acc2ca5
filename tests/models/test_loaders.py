"""Loading codecs from exports, checkpoints and hub names."""

import pytest
import torch

from beatlm.models.loaders import load_compression_model
from beatlm.utils.errors import BeatLMError
from beatlm.utils.export import export_codec


@pytest.fixture(scope="module")
def codec_file(codec_xp, tmp_path_factory):
    _, xp = codec_xp
    return export_codec(f"//sig/{xp.sig}", tmp_path_factory.mktemp("export") / "codec.th")


def test_export_and_checkpoint_give_same_codec(codec_xp, codec_file):
    _, xp = codec_xp
    exported = load_compression_model(codec_file)
    from_xp = load_compression_model(xp.folder)
    wav = torch.randn(1, 1, 32000)
    with torch.no_grad():
        assert torch.equal(exported.encode(wav)[0], from_xp.encode(wav)[0])


def test_folder_holding_codec_file(codec_file):
    assert load_compression_model(codec_file.parent).frame_rate == 50


def test_missing_path_and_offline_hub_name(tmp_path, monkeypatch):
    with pytest.raises(BeatLMError, match="does not exist"):
        load_compression_model(tmp_path / "nope.th")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BeatLMError, match="hub did not provide it"):
        load_compression_model("someone/some-codec")
