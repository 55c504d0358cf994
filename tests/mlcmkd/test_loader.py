import numpy as np
import torch

from split_builders import dot_split
from thermbench.datasets.crop_store import load_splits, save_splits
from thermbench.mlcmkd.augment import AugmentConfig, draw, flip_index
from thermbench.mlcmkd.loader import StepPlan, loader
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
