from dataclasses import replace

import cv2
import numpy as np
import torch

from split_builders import dot_split
from thermbench.datasets.crop_store import load_splits, save_splits
from thermbench.mlcmkd.augment import AugmentConfig, draw, flip_index, warp
from thermbench.mlcmkd.loader import StepPlan, finish, loader, make_batch
from thermbench.mlcmkd.optim import OptimConfig
from thermbench.mlcmkd.train import FitConfig, fit_supervised
from thermbench.models.rtmpose import build_rtmpose

SIZE = 32
AUG = AugmentConfig(rotate_deg=10, scale=0.1, shift=0.05, flip_prob=0.5)


def test_the_plan_draws_order_and_augmentation_from_the_seed_and_ranks_share_each_batch():
    whole = list(StepPlan(10, 4, seed=3, augment=AUG, image_size=(SIZE, SIZE)))
    rng = np.random.default_rng(3)  # the same draws by hand: permutation, then one draw per crop of each batch
    order = rng.permutation(10)
    assert len(whole) == 2
    for b, (index, draws) in enumerate(whole):
        assert np.array_equal(index, np.sort(order[4 * b:4 * b + 4]))
        assert np.array_equal(draws, draw(rng, 4, AUG, (SIZE, SIZE)))
    shares = [list(StepPlan(10, 4, 3, AUG, (SIZE, SIZE), rank=r, world_size=2)) for r in (0, 1)]
    for b, (index, draws) in enumerate(whole):
        assert np.array_equal(shares[0][b][0], index[0::2]) and np.array_equal(shares[1][b][0], index[1::2])
        assert np.array_equal(shares[1][b][1], draws[1::2])


def test_batches_and_training_do_not_depend_on_the_number_of_workers(tmp_path):
    save_splits(tmp_path / "store", {"train": dot_split(8, 0, SIZE, twin="same"), "val": dot_split(4, 1, SIZE)})
    data = load_splits(tmp_path / "store", ("train", "val"))

    def batches(workers):
        plan = StepPlan(8, 4, 0, AUG, (SIZE, SIZE))
        return [b for _ in range(2) for b in loader(data["train"], plan, flip_index(), (SIZE, SIZE), workers)]

    alone, two = batches(0), batches(2)
    assert len(alone) == 4 and set(alone[0]) == {"images", "paired", "target_x", "target_y", "weight"}
    for a, b in zip(alone, two):
        assert all(torch.equal(a[k], b[k]) for k in a)

    def fit(workers):
        torch.manual_seed(0)
        cfg = FitConfig(epochs=2, batch_size=4, seed=0, optim=OptimConfig(lr=1e-3), augment=AUG,
                        loader_workers=workers, grad_norm_steps=4, progress=False)
        return fit_supervised(build_rtmpose("t", input_size=(SIZE, SIZE)), data, cfg)

    one, many = fit(0), fit(2)
    assert one["grad_norms"] == many["grad_norms"] and one["epochs"] == many["epochs"]


def test_device_warp_by_hand():
    img = np.arange(4 * 6, dtype=np.uint8).reshape(1, 4, 6) * 10  # pixel (x, y) = 10 * (6y + x)
    shift = torch.tensor([[[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]]])  # half a pixel right, one down
    out = warp(torch.from_numpy(img), shift)[0].numpy()
    assert out[0].tolist() == [0] * 6  # from above the image: the zero border
    assert out[1, 0] == 0 and out[1, 1] == (0 + 10) // 2 and out[1, 5] == (40 + 50) // 2
    mirror = torch.tensor([[[-1.0, 0.0, 5.0], [0.0, 1.0, 0.0]]])  # x -> (w-1) - x
    assert np.array_equal(warp(torch.from_numpy(img), mirror)[0].numpy(), img[0, :, ::-1])


def test_batches_augmented_on_the_device_are_the_worker_batches():
    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (6, SIZE, SIZE)).astype(np.float32).transpose(1, 2, 0), (0, 0), 3)
    split = dot_split(6, 0, SIZE, twin="same")
    split = replace(split, images=np.clip(smooth.transpose(2, 0, 1) * 3 - 255, 0, 255).astype(np.uint8))
    index, draws = np.arange(6), draw(rng, 6, AUG, (SIZE, SIZE))
    here = make_batch(split, index, flip_index(), (SIZE, SIZE), draws)
    there = finish(make_batch(split, index, flip_index(), (SIZE, SIZE), draws, on_device=True), torch.device("cpu"),
                   (SIZE, SIZE))
    assert set(there) == set(here)
    assert all(torch.equal(here[k], there[k]) for k in ("target_x", "target_y", "weight"))
    for key in ("images", "paired"):
        diff = (here[key].int() - there[key].int()).abs()
        assert diff.float().mean() < 0.5 and diff.max() <= 8, (key, diff.float().mean(), diff.max())
