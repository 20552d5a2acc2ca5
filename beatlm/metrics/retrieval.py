"""Text-to-audio retrieval and zero-shot classification metrics over joint embeddings."""

import typing as tp

import torch
import torch.nn.functional as F


def text_to_audio_ranks(audio: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Rank (0 = first) of audio i among all audio for text i, by cosine similarity; [N]."""
    sims = F.normalize(text, dim=-1) @ F.normalize(audio, dim=-1).t()
    positive = sims.diagonal()[:, None]
    return (sims > positive).sum(dim=1)


def retrieval_metrics(audio: torch.Tensor, text: torch.Tensor,
                      ks: tp.Sequence[int] = (1, 5, 10)) -> tp.Dict[str, float]:
    """Recall@k of text-to-audio retrieval (paired rows), median and mean rank, and chance levels.

    Args:
        audio: Audio embeddings [N, D].
        text: Text embeddings [N, D], row i describing audio i.
        ks: Cut-offs of recall@k.
    """
    ranks = text_to_audio_ranks(audio, text).float()
    n = len(ranks)
    out = {f"recall@{k}": float((ranks < k).float().mean()) for k in ks}
    out.update({f"recall@{k}_chance": min(1.0, k / n) for k in ks})
    out["median_rank"] = float(ranks.median()) + 1
    out["mean_rank"] = float(ranks.mean()) + 1
    out["retrieval_pool"] = float(n)
    return out


def zero_shot_accuracy(audio: torch.Tensor, labels: tp.Sequence[str], prompt_embeddings: torch.Tensor,
                       classes: tp.Sequence[str]) -> tp.Dict[str, float]:
    """Accuracy of labelling each audio with the class whose prompt embedding is closest.

    Args:
        audio: Audio embeddings [N, D].
        labels: True class of each audio.
        prompt_embeddings: Text embedding of each class prompt [C, D].
        classes: Class names, in the order of `prompt_embeddings`.
    """
    sims = F.normalize(audio, dim=-1) @ F.normalize(prompt_embeddings, dim=-1).t()
    predicted = [classes[i] for i in sims.argmax(dim=1).tolist()]
    correct = sum(p == t for p, t in zip(predicted, labels))
    return {"zero_shot_accuracy": correct / max(1, len(labels)), "zero_shot_chance": 1 / max(1, len(classes)),
            "zero_shot_classes": float(len(classes))}
