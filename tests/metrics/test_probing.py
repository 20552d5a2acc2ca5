"""Token probing: beats chance when tokens carry the label, about chance when they are random."""

import numpy as np
import torch

from beatlm.metrics.probing import probe_tokens, split_indices, tempo_buckets, token_histograms


def _corpus(informative: bool, clips: int = 120, frames: int = 100, cardinality: int = 32):
    gen = torch.Generator().manual_seed(0)
    styles = ["trap", "drill", "lofi", "boom bap"]
    infos, tokens = [], []
    for i in range(clips):
        style, bpm = styles[i % 4], 70 + (i * 37) % 90
        seq = torch.randint(0, cardinality, (frames,), generator=gen)
        if informative:  # a third of the frames are the style's token, a third the tempo's
            seq[: frames // 3] = styles.index(style)
            seq[frames // 3: 2 * frames // 3] = 4 + (bpm - 70) // 18
        infos.append({"genre": style, "bpm": bpm})
        tokens.append(seq)
    return tokens, infos


def test_histograms_and_helpers():
    rows = token_histograms([torch.tensor([0, 0, 1, 2])], 4, bigrams=True, bigram_buckets=8)
    assert rows.shape == (1, 12) and np.allclose(rows[0, :4], [0.5, 0.25, 0.25, 0])
    assert np.isclose(rows[0, 4:].sum(), 1.0)
    assert sorted(set(tempo_buckets(list(range(60, 160)), 5))) == [0, 1, 2, 3, 4]
    train, test = split_indices(10, 0.6, seed=1)
    assert len(train) == 6 and len(test) == 4 and not set(train) & set(test)
    assert np.array_equal(split_indices(10, 0.6, seed=1)[0], train)


def test_informative_tokens_beat_chance():
    tokens, infos = _corpus(informative=True)
    results = probe_tokens(tokens, 32, infos, bigrams=True)
    assert results["style"]["accuracy"] > 0.9 > results["style"]["chance"] + 0.4
    assert results["tempo"]["accuracy"] > results["tempo"]["chance"] + 0.3
    assert results["style"]["classes"] == 4 and results["tempo"]["classes"] == 5


def test_random_tokens_are_about_chance():
    tokens, infos = _corpus(informative=False)
    results = probe_tokens(tokens, 32, infos)
    for name in ("style", "tempo"):
        assert results[name]["accuracy"] < results[name]["chance"] + 0.2


def test_missing_labels_skip_a_probe():
    tokens, infos = _corpus(informative=True, clips=12)
    results = probe_tokens(tokens, 32, [{"genre": info["genre"]} for info in infos])
    assert set(results) == {"style"}
