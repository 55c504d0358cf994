"""Training batches of the MLCM-KD fit loop: which crops a step takes and how each is augmented are drawn in the
training process from the run's seed (`StepPlan`); reading them from the crop store, warping them and encoding their
SimCC targets happen in DataLoader worker processes (`loader`). Since no draw happens in a worker, the sample order
and every augmentation depend on the seed only, and a run is the same with any number of workers.

Under torchrun every rank draws the whole batch, as one process would, and keeps its share (every world-size-th crop
of it), so the step over all ranks is the one-process step. torch's DistributedSampler would instead give each rank
its own part of the epoch's order, so a rank's batch would not be a share of the one-process batch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from thermbench.datasets.crop_store import Split
from thermbench.mlcmkd.augment import AugmentConfig, apply, draw
from thermbench.models import simcc


def make_batch(split: Split, index: np.ndarray, flip_idx: np.ndarray, target_size: tuple[int, int],
               draws: np.ndarray | None = None) -> dict[str, torch.Tensor]:
    """The crops `index` of `split` as tensors: uint8 `images` (and `paired`, the RGB twins, where the split has
    them) and the SimCC targets `target_x`, `target_y`, `weight` of their points at `target_size` (w, h);
    augmented under `draws` (`augment.draw`, one row per crop) where given."""
    images, kpts, visible = split.images[index], split.kpts[index], split.visible[index]
    paired = None if split.paired is None else split.paired[index]
    if draws is not None:
        images, kpts, visible, paired = apply(images, kpts, visible, draws, flip_idx, paired)
    target_x, target_y, weight = simcc.encode(kpts, visible, target_size)
    batch = {"images": torch.from_numpy(images), "target_x": torch.from_numpy(target_x),
             "target_y": torch.from_numpy(target_y), "weight": torch.from_numpy(weight)}
    if paired is not None:
        batch["paired"] = torch.from_numpy(paired)
    return batch


class StepPlan(Sampler):
    """Each epoch: a permutation of the `n` crops from the run's generator, cut into `n // batch_size` batches (at
    least one), each batch sorted and given one augmentation draw per crop; yields this rank's share of each as
    (index, draws)."""

    def __init__(self, n: int, batch_size: int, seed: int, augment: AugmentConfig, image_size: tuple[int, int],
                 rank: int = 0, world_size: int = 1):
        self.n, self.batch_size, self.augment, self.image_size = n, batch_size, augment, image_size
        self.rank, self.world_size = rank, world_size
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return max(self.n // self.batch_size, 1)

    def __iter__(self):
        order = self.rng.permutation(self.n)
        for b in range(len(self)):
            index = np.sort(order[b * self.batch_size:(b + 1) * self.batch_size])
            draws = draw(self.rng, len(index), self.augment, self.image_size)
            share = slice(self.rank, None, self.world_size)
            yield index[share], draws[share]


class _Steps(Dataset):
    """A split read a step at a time: the item of a step is its (index, draws) from `StepPlan`."""

    def __init__(self, split: Split, flip_idx: np.ndarray, target_size: tuple[int, int]):
        self.split, self.flip_idx, self.target_size = split, flip_idx, target_size

    def __len__(self) -> int:
        return len(self.split)

    def __getitems__(self, step: tuple[np.ndarray, np.ndarray]) -> dict[str, torch.Tensor]:
        index, draws = step
        return make_batch(self.split, index, self.flip_idx, self.target_size, draws)


def _whole(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch  # a step's item is already its batch


def loader(split: Split, plan: StepPlan, flip_idx: np.ndarray, target_size: tuple[int, int], workers: int,
           pin_memory: bool = False) -> DataLoader:
    """Batches of `split` in `plan`'s order, made by `workers` processes (0: in this one); `pin_memory` for CUDA."""
    return DataLoader(_Steps(split, flip_idx, target_size), batch_sampler=plan, num_workers=workers,
                      collate_fn=_whole, pin_memory=pin_memory, persistent_workers=workers > 0)
