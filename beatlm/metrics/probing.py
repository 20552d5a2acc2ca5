"""Linear probing of token sequences: how well a clip's bag of tokens predicts its ground truth (style, tempo).

Each clip becomes a normalised token histogram (optionally with a hashed histogram of bigrams),
and a scikit-learn logistic regression on its square root (the Hellinger embedding of a histogram:
on beat tokens it probed better than standardised histograms, which blow up rare bins) is trained on
a fixed split of the clips and scored on the rest, beside chance (always predicting the majority
class of the training clips).
"""

import typing as tp

import numpy as np
import torch


def token_histograms(tokens: tp.Sequence[torch.Tensor], cardinality: int, bigrams: bool = False,
                     bigram_buckets: int = 4096) -> np.ndarray:
    """Bag-of-tokens features [N, cardinality (+ bigram_buckets)] of token sequences (each [frames]).

    Args:
        tokens: One 1-D sequence of token ids per clip.
        cardinality: Vocabulary size.
        bigrams: Append a histogram of consecutive token pairs, hashed into `bigram_buckets` bins.
        bigram_buckets: Bins of the bigram histogram.
    Returns:
        Rows that each sum to 1 per part (unigrams, bigrams).
    """
    rows = []
    for seq in tokens:
        seq = torch.as_tensor(seq).long().view(-1)
        row = [torch.bincount(seq, minlength=cardinality).double() / max(1, seq.numel())]
        if bigrams:
            pairs = (seq[:-1] * cardinality + seq[1:]) % bigram_buckets
            row.append(torch.bincount(pairs, minlength=bigram_buckets).double() / max(1, pairs.numel()))
        rows.append(torch.cat(row))
    return torch.stack(rows).numpy()


def tempo_buckets(bpms: tp.Sequence[float], buckets: int = 5) -> tp.List[int]:
    """Bucket index of each tempo, with edges at the quantiles of `bpms` (about equal-sized buckets)."""
    values = np.asarray(bpms, dtype=np.float64)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, buckets + 1)[1:-1]))
    return [int(b) for b in np.searchsorted(edges, values, side="right")]


def split_indices(count: int, train_fraction: float = 0.6, seed: int = 0) -> tp.Tuple[np.ndarray, np.ndarray]:
    """A fixed random split of `count` clips into (train indices, test indices)."""
    order = np.random.default_rng(seed).permutation(count)
    cut = min(count - 1, max(1, int(round(count * train_fraction))))
    return np.sort(order[:cut]), np.sort(order[cut:])


def probe(features: np.ndarray, labels: tp.Sequence[tp.Any], train: np.ndarray, test: np.ndarray,
          c: float = 10.0, seed: int = 0) -> tp.Dict[str, float]:
    """Accuracy of a logistic regression on `features` predicting `labels`, trained on `train`, scored on `test`.

    Histogram features are mapped to their square root first. Returns `accuracy`, `chance` (the
    training majority class's share of the test clips), `classes`, `train` and `test` counts.
    """
    from sklearn.linear_model import LogisticRegression
    labels = np.asarray(labels)
    values, counts = np.unique(labels[train], return_counts=True)
    majority = values[counts.argmax()]
    chance = float(np.mean(labels[test] == majority))
    if len(values) < 2:
        accuracy = chance
    else:
        features = np.sqrt(np.clip(features, 0, None))
        model = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(features[train], labels[train])
        accuracy = float(np.mean(model.predict(features[test]) == labels[test]))
    return {"accuracy": accuracy, "chance": chance, "classes": float(len(np.unique(labels))),
            "train": float(len(train)), "test": float(len(test))}


def probe_tokens(tokens: tp.Sequence[torch.Tensor], cardinality: int, infos: tp.Sequence[tp.Mapping[str, tp.Any]],
                 train_fraction: float = 0.6, tempo_classes: int = 5, bigrams: bool = False,
                 seed: int = 0) -> tp.Dict[str, tp.Dict[str, float]]:
    """Style and tempo-bucket probing of per-clip token sequences against their MusicInfo sidecars.

    Args:
        tokens: Token sequence [frames] of each clip.
        cardinality: Vocabulary size.
        infos: Sidecar of each clip (`genre`, `bpm`); clips missing a field are left out of that probe.
        train_fraction: Share of clips the probe is trained on (a fixed split by `seed`).
        tempo_classes: Tempo buckets (quantiles of the clips' bpm).
        bigrams: Add hashed bigram histograms to the features.
        seed: Seed of the split and of the classifier.
    Returns:
        {"style": metrics, "tempo": metrics} (see `probe`), for the probes with labels.
    """
    features = token_histograms(tokens, cardinality, bigrams=bigrams)
    results: tp.Dict[str, tp.Dict[str, float]] = {}
    styled = [i for i, info in enumerate(infos) if info.get("genre")]
    timed = [i for i, info in enumerate(infos) if isinstance(info.get("bpm"), (int, float))]
    for name, keep, labels in (
            ("style", styled, [infos[i]["genre"] for i in styled]),
            ("tempo", timed, tempo_buckets([infos[i]["bpm"] for i in timed], tempo_classes) if timed else [])):
        if len(keep) < 4:
            continue
        train, test = split_indices(len(keep), train_fraction, seed)
        results[name] = probe(features[keep], labels, train, test, seed=seed)
    return results
