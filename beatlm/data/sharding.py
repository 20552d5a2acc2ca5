"""Items drawn the same way by any number of processes and data workers.

BeatLM's datasets (`TokenDataset`, `MelWindowDataset`) draw item i from a generator seeded by the
seed, the epoch and i only. A loader that gives process r of N the items r, r + N, r + 2N, ...
(flashy's `distrib.loader` without shuffling) then hands the N processes, batch after batch, exactly
the items one process reads in one batch of N times the size: the global batch is the same, whatever
the number of processes or of data workers.
"""

import typing as tp

import flashy
import torch

from ..utils.errors import BeatLMError


def item_generator(seed: int, epoch: tp.Optional[int], index: int) -> torch.Generator:
    """The random generator of item `index` for `seed` and `epoch` (None: the same at every epoch)."""
    rng = torch.Generator()
    key = seed * 1_000_003 + index if epoch is None else (seed * 1_000_003 + epoch + 1) * 1_000_000_007 + index
    rng.manual_seed(key % (1 << 63))
    return rng


def rank_loader(dataset: torch.utils.data.Dataset, batch_size: int, num_workers: int = 0, lockstep: str = "",
                **kwargs: tp.Any) -> torch.utils.data.DataLoader:
    """A loader of this process's share of `dataset`, in index order (every item once per epoch overall).

    Args:
        dataset: Map-style dataset whose items depend on their index only (see the module docstring).
        batch_size: Items per batch in this process (the global batch divided by the number of processes).
        num_workers: Data-loader worker processes (`dataset.num_workers`).
        lockstep: If set, the name of the split, whose steps talk across processes (gradients, gathered
            negatives): every process must then get as many batches, so its size must divide evenly.
        **kwargs: Passed to `torch.utils.data.DataLoader` (e.g. `collate_fn`).
    Raises:
        BeatLMError: a `lockstep` split whose items do not split evenly over the processes.
    """
    world, size = flashy.distrib.world_size(), len(dataset)  # type: ignore[arg-type]
    if lockstep and size % world:
        raise BeatLMError(f"the {lockstep} split has {size} items, which do not split evenly over "
                          f"{world} processes (each would stop at another batch): make dataset.{lockstep}.num_samples "
                          f"a multiple of {world}")
    return flashy.distrib.loader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, **kwargs)


def set_epoch(loader: torch.utils.data.DataLoader, epoch: int) -> None:
    """Make the dataset behind `loader` (a `Subset` of it on several processes) draw the items of `epoch`."""
    dataset = loader.dataset
    while isinstance(dataset, torch.utils.data.Subset):
        dataset = dataset.dataset
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
