"""MLCM-KD losses: hand-computed values, zero at student == teacher, gradient routing, ablation flag sets, Table V."""

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch

from thermbench.mlcmkd.losses import (
    DistillConfig,
    DistillTask,
    decay_gamma,
    feature_mse,
    near_identity_conv,
    simcc_kd_loss,
    simcc_kl_loss,
)
from thermbench.mlcmkd.settings import DIKD, FD, FD_LD, FD_LD_FI, FD_LD_RI, LD
from thermbench.mlcmkd.stability import early_late_ratio, grad_norm_stats
from thermbench.models.rtmpose import build_rtmpose
from thermbench.models.simcc import encode

ALL = dict(fd=True, ld=True, fi=True, ri=True)


def test_kl_loss_hand_computed():
    # p = softmax([0, ln 3]) = [1/4, 3/4], q = softmax([0, 0]) = [1/2, 1/2]
    # mean over 2 bins of q log(q/p) = (0.5 ln 2 + 0.5 ln(2/3)) / 2 = 0.25 ln(4/3) per axis; x + y; / K=1.
    pred = torch.tensor([[[0.0, math.log(3.0)]]])
    target = torch.zeros(1, 1, 2)
    loss = simcc_kl_loss(pred, pred, target, target, torch.ones(1, 1), beta=1.0, label_beta=1.0)
    assert loss.item() == pytest.approx(0.5 * math.log(4 / 3))
    assert simcc_kl_loss(pred, pred, target, target, torch.zeros(1, 1), beta=1.0, label_beta=1.0).item() == 0.0
    # a SUM over the batch (mmpose), a mean over keypoints
    pred2, target2 = pred.repeat(2, 2, 1), target.repeat(2, 2, 1)
    loss2 = simcc_kl_loss(pred2, pred2, target2, target2, torch.tensor([[1.0, 0.0], [1.0, 1.0]]), 1.0, 1.0)
    assert loss2.item() == pytest.approx(3 / 2 * 0.5 * math.log(4 / 3))


def test_kd_loss_hand_computed_and_zero_at_agreement():
    # KL([1/2,1/2] || [1/4,3/4]) = 0.5 ln 2 + 0.5 ln(2/3) = 0.5 ln(4/3) per axis, summed over 2 axes, mean over (n,k).
    student = torch.tensor([[[0.0, math.log(3.0)]]]).repeat(2, 3, 1)
    teacher = torch.zeros(2, 3, 2)
    assert simcc_kd_loss(student, student, teacher, teacher, beta=1.0).item() == pytest.approx(math.log(4 / 3))
    assert simcc_kd_loss(student, student, student, student).item() == pytest.approx(0.0, abs=1e-7)


def test_feature_mse_hand_computed():
    s, t = torch.zeros(2, 2, 1, 1), torch.tensor([1.0, 3.0, 0.0, 0.0]).view(2, 2, 1, 1)
    assert feature_mse(s, t).item() == pytest.approx((1 + 9) / 4)


@pytest.mark.parametrize("epoch,total,warmup,expected", [
    (1, 10, 2, 1.0), (2, 10, 2, 1.0), (3, 10, 2, 0.9), (10, 10, 2, 0.2),   # gamma(T) = alpha / T
    (10, 10, 0, 0.0), (12, 10, 0, 0.0),                                     # clamped past T
    (1, 10, 1, 1.0), (2, 10, 1, 0.9),                                       # alpha = 1 is DWPose 1 - epoch0 / T
])
def test_decay_gamma(epoch, total, warmup, expected):
    assert decay_gamma(epoch, total, warmup) == pytest.approx(expected)


def test_decay_gamma_rejects_bad_arguments():
    with pytest.raises(ValueError):
        decay_gamma(0, 10)


def _targets(batch, size=64, seed=0):
    rng = np.random.default_rng(seed)
    tx, ty, w = encode(rng.uniform(8, 56, size=(batch, 68, 2)), np.ones((batch, 68)), (size, size))
    return {"target_x": torch.from_numpy(tx), "target_y": torch.from_numpy(ty), "weight": torch.from_numpy(w)}


def _lively(model, size=64):
    """A fresh model in eval mode outputs ~0 features and ~uniform SimCC (BN stats 0/1 under a shrinking default init,
    head std 0.01), which would make "zero at agreement" trivial: calibrate BN on a batch and enlarge head weights."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average: one pass gives that batch's statistics
        elif isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, std=0.3)
    with torch.no_grad():
        model.train()(torch.randn(4, 3, size, size))
    return model.eval()


def _twin_task(mode):
    torch.manual_seed(0)
    teacher = _lively(build_rtmpose("t", input_size=(64, 64)))
    task = DistillTask(copy.deepcopy(teacher), teacher, DistillConfig(**ALL, dikd_mode=mode))
    assert task.aligner is None and task.fi_adapter is None  # equal widths: raw features, as DWPose
    return task.eval()


@pytest.mark.parametrize("mode", ["text", "equations"])
def test_distillation_terms_vanish_when_student_is_teacher(mode):
    task = _twin_task(mode)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        same = task(x, x, _targets(2))
        other = task(x, torch.randn(2, 3, 64, 64), _targets(2))
    for name in ("loss_fm", "loss_lg", "loss_fi", "loss_ri"):
        assert same[name].item() == pytest.approx(0.0, abs=1e-6), name
    # text-mode FI compares the two heads on the same teacher features: zero whenever the heads agree, any inputs
    for name in ("loss_fm", "loss_lg", "loss_ri") + (("loss_fi",) if mode == "equations" else ()):
        assert other[name].item() > 1e-3, name


def _grads(term, params):
    grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
    return any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("mode,head_term,backbone_term", [("text", "loss_fi", "loss_ri"),
                                                          ("equations", "loss_ri", "loss_fi")])
def test_gradient_routing(mode, head_term, backbone_term):
    torch.manual_seed(0)
    task = DistillTask(_lively(build_rtmpose("t", input_size=(64, 64))),
                       _lively(build_rtmpose("t", input_size=(64, 64))), DistillConfig(**ALL, dikd_mode=mode)).train()
    out = task(torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64), _targets(2))
    head = list(task.student.head.parameters())
    backbone = list(task.student.backbone.parameters())
    # the term built from teacher features through the student head trains the student head only
    assert _grads(out[head_term], head) and not _grads(out[head_term], backbone)
    # the term built from student features through the frozen teacher head trains the backbone only
    assert _grads(out[backbone_term], backbone) and not _grads(out[backbone_term], head)
    assert _grads(out["loss_fm"], backbone) and not _grads(out["loss_fm"], head)

    out["loss"].backward()
    assert all(p.grad is None for p in task.teacher.parameters())
    assert all(p.grad is not None for p in task.trainable_parameters())
    assert not any(p.requires_grad for p in task.teacher.parameters())
    assert not task.teacher.training  # frozen teacher keeps eval-mode BN inside a training task


def test_total_is_weighted_sum():
    torch.manual_seed(0)
    task = DistillTask(build_rtmpose("t", input_size=(64, 64)), build_rtmpose("t", input_size=(64, 64)),
                       DistillConfig(**ALL))
    with torch.no_grad():
        out = task(torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64), _targets(1), gamma=0.5)
    expected = 0.1 * out["loss_kp"] + 0.5 * 1e-3 * (out["loss_fm"] + out["loss_lg"] + out["loss_fi"] + out["loss_ri"])
    assert out["loss"].item() == pytest.approx(expected.item())
    assert out["output"][0].shape == (1, 68, 128)


@pytest.mark.parametrize("flags,terms", [
    (FD, {"loss_fm"}), (LD, {"loss_lg"}), (FD_LD, {"loss_fm", "loss_lg"}),
    (DIKD, {"loss_fm", "loss_lg", "loss_fi", "loss_ri"}), (FD_LD_RI, {"loss_fm", "loss_lg", "loss_ri"}),
    (FD_LD_FI, {"loss_fm", "loss_lg", "loss_fi"}),
])
def test_ablation_flag_sets(flags, terms):
    task = DistillTask(build_rtmpose("t", input_size=(64, 64)), build_rtmpose("t", input_size=(64, 64)),
                       DistillConfig(**dataclasses.asdict(flags)))
    with torch.no_grad():
        out = task(torch.randn(1, 3, 64, 64), torch.randn(1, 3, 64, 64), _targets(1))
    assert set(out) == terms | {"loss", "loss_kp", "output", "weighted"}
    # the total is the sum of the terms as weighted (kp 0.1, every distillation term 1e-3 at gamma 1)
    assert set(out["weighted"]) == {t[5:] for t in terms} | {"kp"}
    expected = 0.1 * out["loss_kp"] + sum(1e-3 * out[t] for t in terms)
    assert torch.allclose(out["loss"], expected)
    assert task.aligner is None and task.fi_adapter is None  # equal widths never get an adapter


def test_mcl_smaller_student_with_other_width():
    # student t (384 ch) <- teacher s (512 ch): the aligner maps 384 -> 512, the FI adapter 512 -> 384
    task = DistillTask(_lively(build_rtmpose("t", input_size=(64, 64))),
                       _lively(build_rtmpose("s", input_size=(64, 64))), DistillConfig(**ALL))
    x = torch.randn(2, 3, 64, 64)
    out = task(x, x, _targets(2))
    assert all(out[k].item() > 0 for k in ("loss_fm", "loss_lg", "loss_fi", "loss_ri"))
    out["loss"].backward()
    assert task.fi_adapter.weight.grad is not None and task.aligner.weight.grad is not None
    only_fd = DistillTask(build_rtmpose("t", input_size=(64, 64)), build_rtmpose("s", input_size=(64, 64)),
                          DistillConfig(fd=True, ld=True))
    assert only_fd.aligner is not None and only_fd.fi_adapter is None  # FI off: no adapter


def test_near_identity_aligner_hand_computed():
    # 2 -> 3 channels: output = (x0, x1, 0); 3 -> 2 channels: output = (x0, x1)
    x = torch.tensor([1.5, -2.0]).view(1, 2, 1, 1)
    np.testing.assert_allclose(near_identity_conv(2, 3)(x).detach().flatten().numpy(), [1.5, -2.0, 0.0])
    x3 = torch.tensor([1.5, -2.0, 7.0]).view(1, 3, 1, 1)
    np.testing.assert_allclose(near_identity_conv(3, 2)(x3).detach().flatten().numpy(), [1.5, -2.0])
    # t (384) -> s (512): at init RI hands the teacher head the student's own channels on the first 384
    task = DistillTask(build_rtmpose("t", input_size=(64, 64)), build_rtmpose("s", input_size=(64, 64)),
                       DistillConfig(**ALL))
    f = torch.randn(1, 384, 2, 2)
    aligned = task.aligner(f)
    assert torch.equal(aligned[:, :384], f) and not aligned[:, 384:].any()


def test_kp_scale_multiplies_only_the_summed_term():
    torch.manual_seed(0)
    task = DistillTask(build_rtmpose("t", input_size=(64, 64)), build_rtmpose("t", input_size=(64, 64)),
                       DistillConfig(**ALL))
    x, y = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        one, two = task(x, y, _targets(2)), task(x, y, _targets(2), kp_scale=2.0)
    assert (two["loss"] - one["loss"]).item() == pytest.approx(0.1 * one["loss_kp"].item(), rel=1e-5)


def _dot_batch(n, seed, size=64):
    """Dark images with a bright 3x3 dot under each of 68 keypoints jittered about a fixed layout."""
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(99).uniform(12, size - 12, size=(68, 2))
    kpts = base + rng.normal(0, 3, size=(n, 68, 2))
    images = torch.full((n, 3, size, size), -1.5)
    for i in range(n):
        for xx, yy in kpts[i].astype(int):
            images[i, :, yy - 1:yy + 2, xx - 1:xx + 2] = 2.0
    tx, ty, w = encode(kpts, np.ones((n, 68)), (size, size))
    return images, {"target_x": torch.from_numpy(tx), "target_y": torch.from_numpy(ty), "weight": torch.from_numpy(w)}


def _trained_tiny_teacher():
    torch.manual_seed(0)
    teacher = build_rtmpose("t", input_size=(64, 64))
    opt = torch.optim.AdamW(teacher.parameters(), lr=2e-3)
    for step in range(TEACHER_STEPS):
        images, targets = _dot_batch(8, step)
        loss = simcc_kl_loss(*teacher(images), targets["target_x"], targets["target_y"], targets["weight"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return teacher.eval()


TEACHER_STEPS = 40


def _weighted_grad_norms(task, batch=8):
    """Gradient L2 norms on the student backbone of the weighted RI term and of the weighted L_kp term."""
    images, targets = _dot_batch(batch, 1000)
    out = task.train()(images, images, targets)
    backbone = list(task.student.backbone.parameters())

    def norm(term):
        grads = torch.autograd.grad(term, backbone, retain_graph=True, allow_unused=True)
        return float(torch.sqrt(sum((g ** 2).sum() for g in grads if g is not None)))

    return norm(task.cfg.ri_weight * out["loss_ri"]), norm(task.cfg.kp_weight * out["loss_kp"])


def test_reverse_injection_gradient_is_balanced_at_init_and_a_random_aligner_is_not():
    """At initialisation on a trained teacher, |grad of lambda_ri L_ri| on the student backbone lies within
    10x of |grad of lambda_kp L_kp|. The old construction (a default-initialised Conv2d(c, c, 1) on the RI path even
    at equal widths) feeds the teacher head a random projection of the student features and fails the bound."""
    teacher = _trained_tiny_teacher()
    torch.manual_seed(1)
    student = build_rtmpose("t", input_size=(64, 64))
    cfg = DistillConfig(fd=True, ld=True, fi=False, ri=True)
    task = DistillTask(copy.deepcopy(student), teacher, cfg)
    ri, kp = _weighted_grad_norms(task)
    assert 0.1 <= ri / kp <= 10.0, (ri, kp)

    old = DistillTask(copy.deepcopy(student), teacher, cfg)
    torch.manual_seed(2)
    c = student.feature_channels
    old.aligner = torch.nn.Conv2d(c, c, 1)  # the pre-fix construction
    ri_old, kp_old = _weighted_grad_norms(old)
    assert kp_old == pytest.approx(kp, rel=1e-5)  # same student, same L_kp
    assert ri_old / kp_old > 10.0, (ri_old, kp_old)


def test_mismatched_input_sizes_rejected():
    with pytest.raises(ValueError, match="input_size"):
        DistillTask(build_rtmpose("t", input_size=(64, 64)), build_rtmpose("s", input_size=(96, 96)))


def test_bad_dikd_mode():
    with pytest.raises(ValueError, match="dikd_mode"):
        DistillTask(build_rtmpose("t", input_size=(64, 64)), build_rtmpose("t", input_size=(64, 64)),
                    DistillConfig(dikd_mode="both"))


def test_grad_norm_stats_hand_computed():
    s = grad_norm_stats([1.0, 2.0, 3.0, 4.0])
    assert s["std"] == pytest.approx(math.sqrt(1.25))
    assert s["cv_percent"] == pytest.approx(100 * math.sqrt(1.25) / 2.5)
    assert s["mean_abs_step_change"] == pytest.approx(1.0)
    assert s["r2"] == pytest.approx(1.0)
    # zig-zag: slope 2/5 = 0.4, SS_tot 4, SS_res = 4 - 0.4^2 * 5 = 3.2 -> r2 0.2
    s = grad_norm_stats([1.0, 3.0, 1.0, 3.0])
    assert (s["std"], s["cv_percent"], s["mean_abs_step_change"]) == pytest.approx((1.0, 50.0, 2.0))
    assert s["r2"] == pytest.approx(0.2)
    assert grad_norm_stats([2.0, 2.0, 2.0])["r2"] == 1.0
    with pytest.raises(ValueError):
        grad_norm_stats([1.0])


def test_early_late_ratio_hand_computed():
    # 10 steps, 20% = 2 at each end: (5 + 3) / 2 over (1 + 1) / 2 = 4
    assert early_late_ratio([5.0, 3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) == pytest.approx(4.0)
    # the zig-zag has a 50% CV but no early transient: ratio 1
    assert early_late_ratio([1.0, 3.0, 1.0, 3.0, 1.0, 3.0, 1.0, 3.0, 1.0, 3.0]) == pytest.approx(1.0)
    assert early_late_ratio([2.0, 1.0]) == pytest.approx(2.0)  # at least one step at each end
    with pytest.raises(ValueError):
        early_late_ratio([1.0])
