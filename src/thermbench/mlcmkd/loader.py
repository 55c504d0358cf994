"""Training batches of the MLCM-KD fit loop: which crops a step takes and how each is augmented are drawn in the
training process from the run's seed (`StepPlan`); reading them from the crop store, warping them and encoding their
SimCC targets happen in DataLoader worker processes (`loader`), or, `on_device`, the workers only read and move the
points while the training device warps the images and encodes the targets (`finish`), so that a GPU does not wait on
CPU warps. Since no draw happens in a worker, the sample order and every augmentation depend on the seed only, and a
run is the same with any number of workers.

Under torchrun every rank draws the whole batch, as one process would, and keeps its share (every world-size-th crop
of it), so the step over all ranks is the one-process step. torch's DistributedSampler would instead give each rank
its own part of the epoch's order, so a rank's batch would not be a share of the one-process batch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from thermbench.datasets.crop_store import Split
from thermbench.mlcmkd.augment import AugmentConfig, apply, draw, matrices, points, warp
from thermbench.models import simcc


def make_batch(split: Split, index: np.ndarray, flip_idx: np.ndarray, target_size: tuple[int, int],
               draws: np.ndarray | None = None, on_device: bool = False) -> dict[str, torch.Tensor]:
    """The crops `index` of `split` as tensors: uint8 `images` (and `paired`, the RGB twins, where the split has
    them) and the SimCC targets `target_x`, `target_y`, `weight` of their points at `target_size` (w, h);
    augmented under `draws` (`augment.draw`, one row per crop) where given. `on_device` with `draws`: the images
    unwarped, their maps `affine` and the moved points `kpts`, `visible` instead of targets, for `finish`."""
    images, kpts, visible = split.images[index], split.kpts[index], split.visible[index]
    paired = None if split.paired is None else split.paired[index]
    if draws is not None and on_device:
        size = (images.shape[2], images.shape[1])
        kpts, visible = points(kpts, visible, draws, flip_idx, size)
        batch = {"affine": torch.from_numpy(matrices(draws, size)), "kpts": torch.from_numpy(kpts),
                 "visible": torch.from_numpy(visible)}
    else:
        if draws is not None:
            images, kpts, visible, paired = apply(images, kpts, visible, draws, flip_idx, paired)
        target_x, target_y, weight = simcc.encode(kpts, visible, target_size)
        batch = {"target_x": torch.from_numpy(target_x), "target_y": torch.from_numpy(target_y),
                 "weight": torch.from_numpy(weight)}
    batch["images"] = torch.from_numpy(images)
    if paired is not None:
        batch["paired"] = torch.from_numpy(paired)
    return batch


def finish(batch: dict[str, torch.Tensor], device: torch.device,
           target_size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """A `make_batch` batch on `device`, the images warped and the targets encoded there where the worker left them
    (`on_device`)."""
    batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    if "affine" in batch:
        affine = batch.pop("affine")
        for key in ("images", "paired"):
            if key in batch:
                batch[key] = warp(batch[key], affine)
        batch["target_x"], batch["target_y"], batch["weight"] = simcc.encode(batch.pop("kpts"), batch.pop("visible"),
                                                                            target_size)
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

    def __init__(self, split: Split, flip_idx: np.ndarray, target_size: tuple[int, int], on_device: bool):
        self.split, self.flip_idx, self.target_size, self.on_device = split, flip_idx, target_size, on_device

    def __len__(self) -> int:
        return len(self.split)

    def __getitems__(self, step: tuple[np.ndarray, np.ndarray]) -> dict[str, torch.Tensor]:
        index, draws = step
        return make_batch(self.split, index, self.flip_idx, self.target_size, draws, self.on_device)


def _whole(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch  # a step's item is already its batch


def loader(split: Split, plan: StepPlan, flip_idx: np.ndarray, target_size: tuple[int, int], workers: int,
           pin_memory: bool = False, on_device: bool = False) -> DataLoader:
    """Batches of `split` in `plan`'s order, made by `workers` processes (0: in this one); `pin_memory` for CUDA;
    `on_device`: warps and targets left to `finish`."""
    return DataLoader(_Steps(split, flip_idx, target_size, on_device), batch_sampler=plan, num_workers=workers,
                      collate_fn=_whole, pin_memory=pin_memory, persistent_workers=workers > 0)
