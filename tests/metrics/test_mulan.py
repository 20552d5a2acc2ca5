import torch

from beatlm.metrics.mulan import caption_groups, mulan_metrics


def test_caption_groups_read_tempo_and_key_like_prompts():
    groups = caption_groups(["trap beat, 140 bpm", "lo-fi in A minor", "boom bap at 90 BPM in F# major",
                             "a dark drill beat with strings"])
    assert groups["tempo"].tolist() == [True, False, True, False]
    assert groups["key"].tolist() == [False, True, True, False]
    assert groups["neither"].tolist() == [False, False, False, True]


def test_recall_by_caption_group():
    audio = torch.eye(4)
    text = torch.eye(4)
    text[3] = audio[0]  # the fourth caption retrieves the first clip, above its own
    texts = ["trap beat, 140 bpm", "lo-fi, 80 bpm", "in A minor", "a dark drill beat"]
    metrics = mulan_metrics(None, audio, text, [None] * 4, ks=(1,), texts=texts)
    assert metrics["recall@1"] == 0.75
    assert metrics["recall@1_names_tempo"] == 1.0 and metrics["captions_naming_tempo"] == 2
    assert metrics["recall@1_names_key"] == 1.0 and metrics["captions_naming_key"] == 1
    assert metrics["recall@1_names_neither"] == 0.0 and metrics["captions_naming_neither"] == 1
