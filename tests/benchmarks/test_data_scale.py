"""`beatlm bench data` on a small N: every figure reported, the manifest loads, the cache reads within its bound."""

import json

import torch

from beatlm.benchmarks.data_scale import write_token_cache
from beatlm.cli.main import main
from beatlm.data.token_cache import TokenCache


def test_bench_data_report(tmp_path, capsys):
    out = tmp_path / "data.json"
    assert main(["bench", "data", "--entries", "300", "--workdir", str(tmp_path / "work"),
                 "--max-shards-in-memory", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    manifest, cache = report["manifest"], report["token_cache"]
    assert manifest["entries"] == 300 and cache["clips"] == 300
    for key in ("load_audio_meta_s", "manifest_entries_s", "audio_dataset_s", "music_dataset_s", "check_files_s",
                "check_files_again_s", "manifest_digest_s", "open_s", "random_read_ms"):
        assert 0 < (manifest.get(key) or cache.get(key)) < 60, key
    assert cache["shards_in_memory"] == 1  # 300 clips are 2 shards; one held at a time
    assert "random_read_ms" in capsys.readouterr().out


def test_synthetic_cache_reads_like_a_built_one(tmp_path):
    cache = TokenCache.open(write_token_cache(tmp_path / "cache", clips=5, seconds=2.0, shard_size=2))
    assert len(cache) == 5 and cache.codes_length(4) == 100 and cache.semantic_length(4) == 50
    item = cache[4]
    assert item["codes"].shape == (4, 100) and item["semantic"].shape == (50,) and item["mulan"].shape == (12,)
    assert item["codes"].dtype == torch.long and item["meta"]["index"] == 4
