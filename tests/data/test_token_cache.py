"""TokenCache: built once per manifest and tokenizers, reused, rebuilt on change, resumable, checked."""

import json
import logging
import shutil

import pytest
import torch

from beatlm.data.token_cache import TokenCache, codec_info
from beatlm.utils.errors import BeatLMError


@pytest.fixture(scope="module")
def micro_codec(dora_dir):
    """The untrained micro codec (4 codebooks x 1024 at 50 Hz, 32 kHz mono)."""
    from beatlm import train
    from beatlm.models.builders import get_compression_model
    torch.manual_seed(0)
    return get_compression_model(train.main.get_xp(["solver=compression/beats", "model_scale=micro"]).cfg).eval()


@pytest.fixture(scope="module")
def two_clips(beat_corpus, tmp_path_factory):
    """A manifest of the corpus's valid and test clips (2 x 4 s)."""
    from beatlm.data.manifest import write_manifest
    root = tmp_path_factory.mktemp("two_clips")
    for split in ("valid", "test"):
        shutil.copytree(beat_corpus / "audio" / split, root / "audio" / split)
    return write_manifest(root / "audio", root / "egs")


def _count_calls(monkeypatch, model, method: str) -> list:
    """Record the calls to `model.<method>` (restored after the test) in the returned list."""
    calls, inner = [], getattr(model, method)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return inner(*args, **kwargs)
    monkeypatch.setattr(model, method, wrapper)
    return calls


def test_build_then_reuse_with_real_codec_and_mulan(two_clips, tmp_path, micro_codec, tiny_mulan,
                                                    fake_tokenizers, caplog, monkeypatch):
    semantic = fake_tokenizers["semantic"]()
    cache = TokenCache.build_or_load(two_clips, tmp_path, micro_codec, semantic, tiny_mulan, progress=False)
    assert len(cache) == 2 and cache.path.parent == tmp_path
    assert cache.codec_frame_rate == 50 and cache.semantic_frame_rate == 25 and cache.sample_rate == 32000
    assert (cache.num_codebooks, cache.codec_cardinality, cache.semantic_cardinality) == (4, 1024, 500)
    assert (cache.mulan_levels, cache.mulan_bins) == (tiny_mulan.quantizer.levels, tiny_mulan.quantizer.bins)
    item = cache[0]
    assert item["codes"].shape == (4, 200) and item["codes"].dtype == torch.long
    assert item["semantic"].shape == (100,) and item["mulan"].shape == (tiny_mulan.quantizer.levels,)
    assert item["meta"]["duration"] == pytest.approx(4.0) and item["meta"]["path"].endswith(".wav")
    assert cache._shard(0)["codes"].dtype == torch.int16 and cache._shard(0)["semantic"].dtype == torch.int16
    with torch.no_grad():  # the cached tokens are the tokenizers' (both clips were encoded in one batch)
        wav = torch.stack([_read(cache[i]["meta"]["path"]) for i in (0, 1)])
        assert torch.equal(micro_codec.encode(wav)[0], torch.stack([cache[0]["codes"], cache[1]["codes"]]))
        assert torch.equal(tiny_mulan.tokens(tiny_mulan.embed_audio(wav, 32000)),
                           torch.stack([cache[0]["mulan"], cache[1]["mulan"]]))
    meta = json.loads((cache.path / "meta.json").read_text())
    assert meta["codec"]["signature"] and meta["mulan"]["signature"] and meta["semantic"]["signature"]
    assert meta["num_clips"] == 2 and meta["num_skipped"] == 0

    codec_calls = _count_calls(monkeypatch, micro_codec, "encode")
    mulan_calls = _count_calls(monkeypatch, tiny_mulan, "embed_audio")
    with caplog.at_level(logging.INFO, logger="beatlm.data.token_cache"):
        again = TokenCache.build_or_load(two_clips, tmp_path, micro_codec, semantic, tiny_mulan, progress=False)
    assert codec_calls == [] and mulan_calls == [] and semantic.calls == 1
    assert again.path == cache.path and "reusing" in caplog.text
    assert torch.equal(again[1]["codes"], cache[1]["codes"])
    cache.check_compatible(codec=micro_codec, semantic=semantic, mulan=tiny_mulan)


def _read(path):
    from audiocraft.data.audio import audio_read
    return audio_read(path)[0]


def test_changed_tokenizer_builds_new_cache(beat_corpus, tmp_path, fake_tokenizers):
    codec, semantic = fake_tokenizers["codec"], fake_tokenizers["semantic"]
    manifest = beat_corpus / "egs" / "valid"
    first = TokenCache.build_or_load(manifest, tmp_path, codec(), semantic(), progress=False)
    same = codec()
    assert TokenCache.build_or_load(manifest, tmp_path, same, semantic(), progress=False).path == first.path
    assert same.calls == 0
    paths = {first.path}
    for other_codec, other_semantic in [(codec(salt=1), semantic()), (codec(), semantic(salt=1)),
                                        (codec(num_codebooks=3), semantic()), (codec(), None)]:
        cache = TokenCache.build_or_load(manifest, tmp_path, other_codec, other_semantic, progress=False)
        assert other_codec.calls == 1 and cache.path not in paths
        paths.add(cache.path)
    assert not cache.has_semantic and "semantic" not in cache[0] and "mulan" not in cache[0]
    wide = TokenCache.build_or_load(manifest, tmp_path, codec(cardinality=40000), None, progress=False)
    assert wide._shard(0)["codes"].dtype == torch.int32


def test_interrupted_build_resumes(beat_corpus, tmp_path, fake_tokenizers):
    codec, semantic = fake_tokenizers["codec"], fake_tokenizers["semantic"]
    manifest = beat_corpus / "egs" / "train"  # 6 clips: 3 shards of 2
    with pytest.raises(RuntimeError, match="interrupted"):
        TokenCache.build_or_load(manifest, tmp_path, codec(fail_on_call=2), semantic(), shard_size=2, progress=False)
    folder = tmp_path / TokenCache.key(manifest, codec(), semantic())
    assert sorted(p.name for p in folder.glob("shard_*.th")) == ["shard_00000.th"]
    assert not (folder / "meta.json").exists()
    with pytest.raises(BeatLMError, match="not a complete token cache"):
        TokenCache.open(folder)
    resumed = codec()
    cache = TokenCache.build_or_load(manifest, tmp_path, resumed, semantic(), shard_size=4, progress=False)
    assert resumed.calls == 2 and cache.path == folder and len(cache) == 6  # the build's own shard size (2)
    from audiocraft.data.audio_dataset import load_audio_meta
    assert [m["path"] for m in cache.clip_metadata] == [e.path for e in load_audio_meta(manifest / "data.jsonl.gz")]


def test_check_compatible_names_both_sides(beat_corpus, tmp_path, fake_tokenizers):
    codec, semantic = fake_tokenizers["codec"], fake_tokenizers["semantic"]
    built_with = codec()
    cache = TokenCache.build_or_load(beat_corpus / "egs" / "valid", tmp_path, built_with, None, progress=False)
    cache.check_compatible(codec=codec())
    other = codec(salt=1, num_codebooks=4)
    with pytest.raises(BeatLMError) as info:
        cache.check_compatible(codec=other, semantic=semantic())
    message = str(info.value)
    assert str(cache.path) in message and cache.meta["codec"]["signature"] in message
    assert "2 codebooks x 1024" in message and "4 codebooks x 1024" in message
    assert codec_info(other)["signature"] in message
    assert "built without a semantic tokenizer" in message and "fake-semantic-0" in message


def test_unreadable_clip_is_skipped_and_counted(two_clips, tmp_path, fake_tokenizers, caplog):
    from beatlm.data.manifest import write_manifest
    audio = tmp_path / "audio"
    shutil.copytree(two_clips.parents[1] / "audio", audio)
    manifest = write_manifest(audio, tmp_path / "egs")
    wavs = sorted(audio.rglob("*.wav"))
    wavs[0].write_bytes(b"not audio")
    with caplog.at_level(logging.WARNING, logger="beatlm.data.token_cache"):
        cache = TokenCache.build_or_load(manifest, tmp_path / "cache", fake_tokenizers["codec"](), None,
                                         progress=False)
    assert len(cache) == len(wavs) - 1 and cache.meta["num_skipped"] == 1
    assert "skipped 1 of 2 clips" in caplog.text and str(wavs[0]) in caplog.text
