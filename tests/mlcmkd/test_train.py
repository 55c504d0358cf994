"""Training loops and data handling on tiny synthetic tensors (CPU, a few seconds)."""

import json

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from split_builders import dot_split
from thermbench.core.io import InputError
from thermbench.datasets.crop_store import load_split, load_splits, save_splits
from thermbench.mlcmkd.augment import AugmentConfig, apply, draw, flip_index
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.optim import OptimConfig, lr_factor, param_groups
from thermbench.mlcmkd.train import FitConfig, fit_ktl, fit_supervised, plain_layout, step_layout
from thermbench.models.rtmpose import build_rtmpose

SIZE = 64


def _cfg(**kw) -> FitConfig:
    optim = OptimConfig(lr=1e-5, weight_decay=0.0, min_lr_ratio=1.0, clip_grad=None)
    base = dict(epochs=2, batch_size=4, seed=0, optim=optim, grad_norm_steps=2, progress=False)
    return FitConfig(**{**base, **kw})


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return build_rtmpose("t", input_size=(SIZE, SIZE))


def _layouts(task: torch.nn.Module, layout=torch.channels_last) -> dict[str, bool]:
    """Each 4-d weight's name -> whether it is in `layout` (a 1x1 conv's weight is in both)."""
    return {n: p.is_contiguous(memory_format=layout) for n, p in task.named_parameters() if p.dim() == 4}


@pytest.mark.parametrize("device, nchw", [("cpu", False), ("cuda", True)])
def test_the_step_layout_is_nhwc_but_on_cuda_the_heads_7x7_convolutions(device, nchw):
    """The layout follows only the device's type, so a CPU runs the CUDA one: NHWC weights; on CUDA each head's 7x7
    conv NCHW, weight and input (cuDNN runs NHWC when either is); all contiguous again after the step."""
    task = DistillTask(_model(0), _model(1), DistillConfig(fd=True, ld=True, ri=True))
    heads = {n for n in _layouts(task) if n.endswith("final_layer.weight")}
    assert len(heads) == 2  # the student's and the teacher's
    hooks = step_layout(task, torch.device(device))
    assert {n for n, nhwc in _layouts(task).items() if not nhwc} == (heads if nchw else set())
    seen = []
    final = task.student.head.final_layer
    final.register_forward_hook(lambda m, args, out: seen.append(args[0].is_contiguous()))
    final(torch.randn(1, final.in_channels, 4, 4).to(memory_format=torch.channels_last))
    assert seen == [nchw]
    plain_layout(task, hooks)
    assert all(_layouts(task, torch.contiguous_format).values())
    final(torch.randn(1, final.in_channels, 4, 4).to(memory_format=torch.channels_last))
    assert seen == [nchw, False]  # the hook is gone


def test_two_step_supervised_fit_decreases_loss():
    data = {"train": dot_split(4, 0, SIZE), "val": dot_split(2, 1, SIZE)}
    history = fit_supervised(_model(), data, _cfg())
    rows = history["epochs"]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["train_loss"] < rows[0]["train_loss"]
    assert len(history["grad_norms"]) == 2 and all(g > 0 for g in history["grad_norms"])
    assert np.isfinite(rows[-1]["val_nme"])


def test_same_seed_gives_same_weights():
    data = {"train": dot_split(8, 0, SIZE), "val": dot_split(2, 1, SIZE)}
    cfg = _cfg(epochs=1, augment=AugmentConfig(rotate_deg=10, scale=0.1, shift=0.05, flip_prob=0.5))
    a, b = _model(), _model()
    fit_supervised(a, data, cfg)
    fit_supervised(b, data, cfg)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_ktl_trains_student_and_leaves_teacher_untouched():
    data = {"train": dot_split(4, 0, SIZE, twin="same"), "val": dot_split(2, 1, SIZE)}
    student, teacher = _model(0), _model(1)
    before_teacher = {k: v.clone() for k, v in teacher.state_dict().items()}
    before_student = {k: v.clone() for k, v in student.state_dict().items()}
    task = DistillTask(student, teacher, DistillConfig(fd=True, ld=True, fi=True, ri=True))
    history = fit_ktl(student, teacher, task, data, _cfg(epochs=1))
    for k, v in teacher.state_dict().items():  # BN running statistics included
        assert torch.equal(v, before_teacher[k]), k
    assert not all(torch.equal(v, before_student[k]) for k, v in student.state_dict().items())
    assert {"train_loss", "train_loss_kp", "train_loss_fm", "train_loss_lg", "train_loss_fi",
            "train_loss_ri"} <= set(history["epochs"][0])


def test_ktl_needs_paired_data():
    data = {"train": dot_split(4, 0, SIZE), "val": dot_split(2, 1, SIZE)}
    student, teacher = _model(0), _model(1)
    with pytest.raises(Exception, match="paired"):
        fit_ktl(student, teacher, DistillTask(student, teacher), data, _cfg())


def test_flip_moves_points_to_mirror_and_swaps_labels():
    kpts = np.zeros((1, 68, 2), np.float32)
    kpts[0, 36] = (10.5, 20.5)  # outer corner of the image-left eye
    img = np.zeros((1, SIZE, SIZE), np.uint8)
    img[0, 20, 10] = 255
    draws = draw(np.random.default_rng(0), 1, AugmentConfig(flip_prob=1.0), (SIZE, SIZE))
    out_img, out_kpts, out_vis, _ = apply(img, kpts, np.ones((1, 68), np.float32), draws, flip_index())
    np.testing.assert_allclose(out_kpts[0, 45], (SIZE - 10.5, 20.5), atol=1e-4)  # x -> W - x, relabelled 36 -> 45
    assert out_img[0, 20, SIZE - 1 - 10] == 255  # the pixel moved with it
    assert out_vis[0, 45] == 1


def test_load_split_resizes_and_scales_points(tmp_path):
    (tmp_path / "crops").mkdir()
    rows = []
    for i, split in enumerate(["train", "train", "val"]):
        cv2.imwrite(str(tmp_path / "crops" / f"{i}.png"), np.full((32, 32), 10 * i, np.uint8))
        pts = [[8.0, 16.0, 1]] * 67 + [[0.0, 0.0, 0]]
        rows.append({"sample_id": i, "split": split, "image_file": f"{i}.png", "crop_path": f"crops/{i}.png",
                     "kpts": json.dumps(pts)})
    pd.DataFrame(rows).to_csv(tmp_path / "samples.csv", index=False)
    split = load_split(tmp_path, "train", 16)
    assert split.images.shape == (2, 16, 16)
    np.testing.assert_allclose(split.kpts[:, 0], [[4.0, 8.0]] * 2)
    np.testing.assert_allclose(split.scale, [[2.0, 2.0]] * 2)
    assert split.visible[0, :67].all() and split.visible[0, 67] == 0
    assert load_split(tmp_path, "train", 16, all_labelled=True).visible.all()
    with pytest.raises(Exception, match="no samples"):
        load_split(tmp_path, "test", 16)


def test_param_groups_exclude_norm_and_bias_from_weight_decay():
    net = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3), torch.nn.Linear(3, 4, bias=False))
    decay, no_decay = param_groups(net, 0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    assert [tuple(p.shape) for p in decay["params"]] == [(3, 2, 1, 1), (4, 3)]       # conv and linear weights
    assert [tuple(p.shape) for p in no_decay["params"]] == [(3,), (3,), (3,)]        # conv bias, BN weight, BN bias
    flat, empty = param_groups(net, 0.05, paramwise=False)
    assert len(flat["params"]) == 5 and not empty["params"]
    # RTMPose: every BN weight/bias and the conv biases are exempt, ScaleNorm g and GAU gamma/beta are not
    model = build_rtmpose("t", input_size=(SIZE, SIZE))
    names = {id(p): n for n, p in model.named_parameters()}
    exempt = {names[id(p)] for p in param_groups(model, 0.05)[1]["params"]}
    assert "head.final_layer.bias" in exempt and "backbone.stem.0.bn.weight" in exempt
    assert "head.gau.gamma" not in exempt and "head.mlp.0.g" not in exempt


def test_lr_factor_warmup_flat_cosine():
    f = lr_factor(OptimConfig(warmup_steps=2, cosine_start=0.5, min_lr_ratio=0.1), total_steps=10)
    # warm-up 1/2, 2/2; flat to step 5; half cosine over steps 5..9 ending at the floor
    expected = [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi / 4)), 0.55,
                0.1 + 0.9 * 0.5 * (1 + np.cos(3 * np.pi / 4)), 0.1]
    np.testing.assert_allclose([f(s) for s in range(10)], expected, atol=1e-12)


def test_gradient_clipping_logs_the_unclipped_norm():
    data = {"train": dot_split(4, 0, SIZE), "val": dot_split(2, 1, SIZE)}
    free = fit_supervised(_model(), data, _cfg(epochs=1))
    clipped_model = _model()
    clipped = fit_supervised(clipped_model, data, _cfg(epochs=1, optim=OptimConfig(lr=1e-5, clip_grad=1e-6)))
    assert clipped["grad_norms"][0] == pytest.approx(free["grad_norms"][0], rel=1e-5)
    assert free["grad_norms"][0] > 1e-3


def test_validation_every_n_epochs():
    data = {"train": dot_split(4, 0, SIZE), "val": dot_split(2, 1, SIZE)}
    rows = fit_supervised(_model(), data, _cfg(epochs=3, val_every=2))["epochs"]
    assert ["val_nme" in r for r in rows] == [False, True, True]  # every 2nd epoch and the last


def test_crop_cache_round_trip(tmp_path):
    a = dot_split(3, 0, SIZE, twin="same")
    a.meta = pd.DataFrame({"view": ["front", "side", "front"], "width_group": ["high", "low", "mean"]})
    save_splits(tmp_path / "c", {"train": a, "val": dot_split(2, 1, SIZE)})
    back = load_splits(tmp_path / "c", ("train", "val"))
    assert np.array_equal(back["train"].images, a.images) and np.array_equal(back["train"].paired, a.paired)
    assert back["val"].paired is None and list(back["val"].meta.columns) == ["sample_id"]
    assert list(back["train"].meta["view"]) == ["front", "side", "front"]
    with pytest.raises(Exception, match="no split 'test'"):
        load_splits(tmp_path / "c", ("test",))


def test_a_plateau_drops_the_lr_and_the_next_one_stops_the_run_converged(monkeypatch):
    # Scripted validation NMEs. Patience 2, min_delta 2%: epochs 2-3 improve <2% on 1.0 (plateau at 3: lr x0.1);
    # after the drop epoch 4 opens a new window, 5-6 stay within 2% of it (plateau at 6: stop, converged).
    values = iter([1.0, 0.99, 0.985, 0.5, 0.495, 0.49, 0.1, 0.1])
    monkeypatch.setattr("thermbench.mlcmkd.train.val_nme", lambda *a, **k: next(values))
    data = {"train": dot_split(4, 0, SIZE), "val": dot_split(2, 1, SIZE)}
    model = _model()
    history = fit_supervised(model, data, _cfg(epochs=8, patience=2, min_delta=0.02, lr_drops=1, lr_drop_factor=0.1))
    rows = history["epochs"]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["lr"] for r in rows[2:4]] == pytest.approx([1e-5, 1e-6])  # the drop applies from epoch 4 on
    conv = history["convergence"]
    assert conv["converged"] and conv["lr_drop_epochs"] == [3] and conv["best_epoch"] == 6
    assert conv["epochs_run"] == 6 and conv["epoch_cap"] == 8
    # min_epochs: no plateau counts before it, so the cap ends the run, not converged
    values = iter([1.0] * 4)
    capped = fit_supervised(_model(), data, _cfg(epochs=4, patience=2, min_epochs=5))
    assert len(capped["epochs"]) == 4 and not capped["convergence"]["converged"]


def test_the_best_validation_epoch_is_restored(monkeypatch):
    values = iter([0.5, 0.4, 0.6, 0.7])
    monkeypatch.setattr("thermbench.mlcmkd.train.val_nme", lambda *a, **k: next(values))
    data = {"train": dot_split(4, 0, SIZE), "val": dot_split(2, 1, SIZE)}
    snapshots = {}
    model = _model()
    real_step = torch.optim.AdamW.step

    def spy(self, *a, **k):  # the weights after each epoch's single step (4 crops, batch 4)
        out = real_step(self, *a, **k)
        snapshots[len(snapshots) + 1] = {n: p.detach().clone() for n, p in model.state_dict().items()}
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    history = fit_supervised(model, data, _cfg(epochs=4, patience=2, lr_drops=0))
    assert history["best_epoch"] == 2 and len(history["epochs"]) == 4 and history["convergence"]["converged"]
    for name, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][name]), name


def test_gradient_shares_sum_to_one_and_supervised_is_all_kp():
    data = {"train": dot_split(8, 0, SIZE, twin="same"), "val": dot_split(2, 1, SIZE)}
    sup = fit_supervised(_model(), data, _cfg(epochs=1, share_batches=2))
    assert sup["gradient_shares"] == {"start": {"kp": 1.0}, "end": {"kp": 1.0}}
    student, teacher = _model(0), _model(1)
    task = DistillTask(student, teacher, DistillConfig(fd=True, ld=True, fi=True, ri=True))
    # gamma(1) = 1 with alpha = 1; at the end (epoch 2 of 2) gamma = 0.5: every term pulls
    ktl = fit_ktl(student, teacher, task, data, _cfg(epochs=2, gamma_warmup=1, share_batches=2))
    for when in ("start", "end"):
        shares = ktl["gradient_shares"][when]
        assert set(shares) == {"kp", "fm", "lg", "fi", "ri"}
        assert sum(shares.values()) == pytest.approx(1.0) and all(v >= 0 for v in shares.values())
    # by the end every term pulls (at the start FI can be exactly 0: both fresh heads give the same logits)
    assert all(v > 0 for v in ktl["gradient_shares"]["end"].values())


def test_bf16_precision_trains_under_autocast_with_float32_weights():
    data = {"train": dot_split(4, 0, SIZE), "val": dot_split(2, 1, SIZE)}
    model = _model()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    seen = []
    hook = conv.register_forward_hook(lambda _m, _i, out: seen.append((torch.is_grad_enabled(), out.dtype)))
    fit_supervised(model, data, _cfg(epochs=1, precision="bf16"))
    hook.remove()
    assert (True, torch.bfloat16) in seen  # the training step ran in bf16 (mmengine #1515: autocast silently off)
    assert (False, torch.bfloat16) in seen  # validation in the training precision too
    assert (False, torch.float32) not in seen
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_a_validation_batch_below_one_is_refused():
    with pytest.raises(InputError, match="'train.fit.val_batch_size' must be at least 1, not 0"):
        _cfg(val_batch_size=0)


def test_unknown_precision_is_refused():
    with pytest.raises(InputError, match="train.fit.precision"):
        _cfg(precision="fp16")
