"""MuLaN evaluation: embed (audio, description) pairs, then retrieval and zero-shot style metrics."""

import typing as tp

import torch

from .retrieval import retrieval_metrics, text_to_audio_ranks, zero_shot_accuracy

if tp.TYPE_CHECKING:
    from ..models.mulan import MuLaNModel


@torch.no_grad()
def embed_pairs(model: "MuLaNModel", batches: tp.Iterable[tp.Tuple[torch.Tensor, tp.List[tp.Any]]],
                sample_rate: int) -> tp.Tuple[torch.Tensor, torch.Tensor, tp.List[tp.Optional[str]], tp.List[str]]:
    """Embed whole clips and their descriptions from batches of (wav [B, C, T], MusicInfo list).

    Returns:
        (audio embeddings [N, D], text embeddings [N, D], genre of each clip, its description). Clips
        without a description are left out.
    """
    from ..data.captions import CaptionSampler
    describe = CaptionSampler(sample=False)
    audio, text, genres, described = [], [], [], []
    for wav, infos in batches:
        texts = [describe(info.meta.path, info.description) for info in infos]
        keep = [i for i, t in enumerate(texts) if t]
        if not keep:
            continue
        lengths = [infos[i].n_frames for i in keep]
        if len(set(lengths)) == 1:
            audio.append(model.embed_audio(wav[keep, :, :lengths[0]], sample_rate))
        else:  # clips of different lengths are padded in a batch: embed each on its own
            for i, n in zip(keep, lengths):
                audio.append(model.embed_audio(wav[i:i + 1, :, :n], sample_rate))
        text.append(model.embed_text([texts[i] for i in keep]))
        genres += [infos[i].genre for i in keep]
        described += [texts[i] for i in keep]
    if not audio:
        raise ValueError("no clip with a description to evaluate on")
    return torch.cat(audio).cpu(), torch.cat(text).cpu(), genres, described


def caption_groups(texts: tp.Sequence[str]) -> tp.Dict[str, torch.Tensor]:
    """Which captions name a tempo, a key, or neither ([N] bool each), read as `beatlm eval` reads prompts."""
    from ..evaluation.prompts import parse_bpm, parse_key
    tempo = torch.tensor([parse_bpm(t) is not None for t in texts], dtype=torch.bool)
    key = torch.tensor([parse_key(t) is not None for t in texts], dtype=torch.bool)
    return {"tempo": tempo, "key": key, "neither": ~tempo & ~key}


@torch.no_grad()
def mulan_metrics(model: "MuLaNModel", audio: torch.Tensor, text: torch.Tensor, genres: tp.Sequence[tp.Optional[str]],
                  template: str = "a {} beat", ks: tp.Sequence[int] = (1, 5, 10),
                  texts: tp.Optional[tp.Sequence[str]] = None) -> tp.Dict[str, float]:
    """Text-to-audio recall@k, median rank, and zero-shot style accuracy (each style's prompt), with chance.

    With the captions (`texts`), also the largest recall@k of the captions that name a tempo, a key, or
    neither (`recall@10_names_tempo`, ...; their counts as `captions_naming_tempo`, ...): a caption that
    names only a style and instruments fits many clips of a corpus.
    """
    metrics = retrieval_metrics(audio, text, ks)
    if texts is not None:
        ranks, k = text_to_audio_ranks(audio, text), max(ks)
        for name, mask in caption_groups(texts).items():
            metrics[f"captions_naming_{name}"] = float(mask.sum())
            if mask.any():
                metrics[f"recall@{k}_names_{name}"] = float((ranks[mask] < k).float().mean())
    labelled = [i for i, g in enumerate(genres) if g]
    classes = sorted({genres[i] for i in labelled})
    if len(classes) > 1:
        prompts = model.embed_text([template.format(c) for c in classes]).cpu()
        metrics.update(zero_shot_accuracy(audio[labelled], [genres[i] for i in labelled], prompts, classes))
    return metrics
