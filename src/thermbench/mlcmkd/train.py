"""Training for the MLCM-KD reproduction: seeded augmentation and plain fit loops over in-memory splits
(`thermbench.datasets.crop_store`, whose pixel conventions hold here).

The loops return a history (per-epoch rows + early gradient norms) and never write anything; stages decide what to
save.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
from dataclasses import dataclass, field, replace
from typing import Callable

import cv2
import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from thermbench.core import convergence, metrics
from thermbench.core.convergence import Plateau, StopConfig
from thermbench.core.io import InputError
from thermbench.core.keypoints import load_schema
from thermbench.core.progress import progress
from thermbench.datasets.crop_store import Split
from thermbench.mlcmkd.losses import DistillTask, decay_gamma, simcc_kl_loss
from thermbench.models import simcc
from thermbench.models.rtmpose import RTMPose, normalize_input

# ------------------------------------------------------------------------------------------------ augmentation


def flip_index(num_keypoints: int = 68) -> np.ndarray:
    """Permutation that relabels keypoints after a horizontal flip, from the iBUG-68 schema's flip pairs."""
    return np.asarray(simcc.flip_index(load_schema("ibug68")["flip_pairs"], num_keypoints))


@dataclass(frozen=True)
class AugmentConfig:
    """Small random affine about the image centre + horizontal flip (paired images get the same transform)."""

    rotate_deg: float = 0.0
    scale: float = 0.0
    shift: float = 0.0
    flip_prob: float = 0.0


def augment(images: np.ndarray, kpts: np.ndarray, visible: np.ndarray, rng: np.random.Generator,
            cfg: AugmentConfig, flip_idx: np.ndarray, paired: np.ndarray | None = None):
    """Return augmented copies of a batch. Points pushed outside the image become invisible."""
    n, h, w = images.shape[:3]
    out_img, out_pair = np.empty_like(images), None if paired is None else np.empty_like(paired)
    out_kpts, out_vis = kpts.copy(), visible.copy()
    for i in range(n):
        angle = rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)
        scale = 1.0 + rng.uniform(-cfg.scale, cfg.scale)
        shift = rng.uniform(-cfg.shift, cfg.shift, size=2) * (w, h)
        flip = rng.random() < cfg.flip_prob
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, scale)
        m[:, 2] += shift
        if flip:  # mirror after the affine: x -> (w-1) - x
            m = np.array([[-1.0, 0.0, w - 1], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0.0, 0.0, 1.0]])
        warp = lambda img: cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)  # noqa: E731
        out_img[i] = warp(images[i])
        if paired is not None:
            out_pair[i] = warp(paired[i])
        # cv2 puts pixel centres at integers; our points are continuous, hence the half-pixel shifts.
        pts = (kpts[i] - 0.5) @ m[:, :2].T + m[:, 2] + 0.5
        vis = visible[i].copy()
        if flip:
            pts, vis = pts[flip_idx], vis[flip_idx]
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        out_kpts[i], out_vis[i] = pts, vis * inside
    return out_img, out_kpts, out_vis, out_pair


def to_input(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N,H,W) gray or (N,H,W,3) RGB -> normalised float (N,3,H,W) on `device`; gray is repeated to 3 channels."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return normalize_input(x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2))


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device

# --------------------------------------------------------------------------------------------------- loops


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with the RTMPose/DWPose details. Defaults: wd 0.05 on conv/linear weights only (`paramwise`: no decay
    on norm-layer and bias parameters, mmpose's norm_decay_mult = bias_decay_mult = 0); linear warm-up over
    `warmup_steps`, flat lr until `cosine_start` (fraction of all steps; RTMPose face: epoch 30 of 60 = 0.5), then
    cosine down to `min_lr_ratio * lr` (RTMPose: 0.05); gradients clipped to L2 norm `clip_grad` (DWPose: 1.0;
    None = off)."""

    lr: float = 4e-3
    weight_decay: float = 0.05
    paramwise: bool = True
    warmup_steps: int = 0
    cosine_start: float = 0.5
    min_lr_ratio: float = 0.05
    clip_grad: float | None = 1.0


@dataclass(frozen=True)
class FitConfig:
    """One training run. `epochs` is the cap; `patience` (validations) and `min_delta` (relative) define a plateau of
    the validation NME (`thermbench.core.convergence`): with them the lr is warm-up then flat, drops by
    `lr_drop_factor` at each of the first `lr_drops` plateaus (ReduceLROnPlateau) and the run stops, converged, at the
    next; no plateau counts before epoch `min_epochs` (a run from random weights first sits on the mean-shape plateau);
    None turns this off for the optimiser's fixed flat-then-cosine schedule over `epochs`; `grad_norm_steps` logs
    that many first steps and `grad_norm_warmup` of them are left out of the after-warm-up statistics; `share_batches`
    fixed training batches measure each loss term's share of the gradient at the start and the end (0 = off);
    `gamma_warmup` is alpha of the distillation decay gamma(t) (eq. 7; KTL/MCL only); validation runs every
    `val_every` epochs and after the last; `norm_eval` keeps BN layers on their running statistics (mmpose's
    norm_eval; SyncBN is CUDA-only, so CPU multi-process runs match one process exactly only with it)."""

    epochs: int
    batch_size: int
    seed: int
    optim: OptimConfig = field(default_factory=OptimConfig)
    patience: int | None = None
    min_delta: float = 0.02
    lr_drops: int = 1
    lr_drop_factor: float = 0.1
    min_epochs: int = 0
    val_every: int = 1
    grad_norm_steps: int = 0
    grad_norm_warmup: int = 0
    share_batches: int = 0
    gamma_warmup: int = 0
    norm_eval: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    progress: bool = True


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Keypoints (N,K,2) in input px from SimCC argmax decoding; the model is put in eval mode."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        simcc_x, simcc_y = model(to_input(images[start:start + batch_size], _device(model)))
        out.append(simcc.decode(simcc_x, simcc_y)[0])
    return np.concatenate(out).astype(np.float64)


def val_nme(model: nn.Module, split: Split, batch_size: int = 64) -> float:
    """Mean NME-IO (outer eye corners) over a split, in input px (ratios are scale-free for square crops)."""
    pred = predict(model, split.images, batch_size)
    return float(np.nanmean(metrics.nme(pred, split.kpts, split.visible, metrics.interocular_distance(split.kpts))))


def world() -> tuple[int, int]:
    """(rank, world size) of the torch.distributed process group, (0, 1) without one."""
    return (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)


def init_distributed(device: str) -> torch.device:
    """Join the process group torchrun describes (WORLD_SIZE > 1): NCCL with one GPU per process on CUDA, else gloo.
    Without torchrun, nothing to join: the plain device."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
            torch.cuda.set_device(device)
    return torch.device(device)


def is_main_process() -> bool:
    return world()[0] == 0


@contextlib.contextmanager
def main_process_first():
    """Rank 0 runs the block before the other ranks do (as mmengine downloads checkpoints: the others then find the
    file in place); without a process group, just the block."""
    rank, size = world()
    if size > 1 and rank > 0:
        dist.barrier()
    yield
    if size > 1 and rank == 0:
        dist.barrier()


def param_groups(module: nn.Module, weight_decay: float, paramwise: bool = True) -> list[dict]:
    """Trainable parameters in two AdamW groups: decayed conv/linear weights, and (paramwise) norm-layer weights and
    every bias without decay, as mmengine's paramwise_cfg(norm_decay_mult=0, bias_decay_mult=0) classifies them:
    norm layers are BatchNorm/GroupNorm/LayerNorm/InstanceNorm; other 1-d tensors (ScaleNorm g, GAU gamma/beta,
    res_scale) keep their decay."""
    norms = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)
    decay, no_decay, seen = [], [], set()
    for mod in module.modules():
        for name, p in mod.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            (no_decay if paramwise and (isinstance(mod, norms) or name == "bias") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(cfg: OptimConfig, total_steps: int) -> Callable[[int], float]:
    """Step -> lr multiplier: linear warm-up to 1 over warmup_steps, flat until cosine_start * total_steps, then a
    half cosine from 1 to min_lr_ratio at the last step (RTMPose's LinearLR + flat + CosineAnnealingLR, per step)."""
    flat_end = max(int(round(cfg.cosine_start * total_steps)), cfg.warmup_steps)

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if step < flat_end:
            return 1.0
        span = max(total_steps - 1 - flat_end, 1)
        cos = 0.5 * (1 + math.cos(math.pi * min(step - flat_end, span) / span))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cos

    return factor


def _norm_eval(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def _fit(model: nn.Module, task: nn.Module, batch_inputs: Callable, train: Split, val: Split, cfg: FitConfig,
         desc: str) -> dict:
    """Shared loop: shuffled batches, augmentation, AdamW (param groups, flat-then-cosine lr, clipping), val NME.

    `task` holds every trainable parameter and its forward computes every loss term of a step from
    `batch_inputs(images, kpts, visible, paired, epoch)` (positional args, kwargs): {"loss": total, <term>: value}.
    Under torch.distributed the task is wrapped in DistributedDataParallel, which averages gradients over ranks;
    each rank takes an equal share of every batch (augmented identically on every rank, then sliced), and the
    batch-summed L_kp is scaled by the world size so the step equals one process on the whole batch. `model` is the
    network being trained (validated, and restored to its best epoch when early stopping is on).
    """
    rank, size = world()
    if cfg.batch_size % size:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {size} processes")
    device = _device(model)
    # NHWC weights (activations follow): oneDNN's depthwise-conv backward, most of a CPU step, runs faster on them;
    # with the fused AdamW a CPU step takes ~20% less time. The layout is restored on return.
    task.to(memory_format=torch.channels_last)
    runner = task
    if size > 1:
        if device.type == "cuda":  # the RTMPose configs' SyncBN (CUDA-only in torch)
            task = nn.SyncBatchNorm.convert_sync_batchnorm(task)
        runner = nn.parallel.DistributedDataParallel(task, device_ids=[device] if device.type == "cuda" else None)
    rng = np.random.default_rng(cfg.seed)
    flip_idx = flip_index(train.kpts.shape[1])
    groups = param_groups(task, cfg.optim.weight_decay, cfg.optim.paramwise)
    params = [p for g in groups for p in g["params"]]
    optimizer = torch.optim.AdamW(groups, lr=cfg.optim.lr, fused=True)
    steps_per_epoch = max(len(train) // cfg.batch_size, 1)
    stop = None if cfg.patience is None else StopConfig(cfg.patience, cfg.min_delta)
    plateau = None if stop is None else Plateau(stop)
    # On plateaus the lr drops instead of following a cosine laid over the cap: a cosine's decay phase, not the
    # data, would then decide when a run stops improving.
    base = lr_factor(cfg.optim if stop is None else replace(cfg.optim, cosine_start=1.0), steps_per_epoch * cfg.epochs)
    drop = {"scale": 1.0, "left": 0 if stop is None else cfg.lr_drops, "epochs": [], "stopped": False}
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: base(step) * drop["scale"])
    shares = {"start": gradient_shares(task, params, batch_inputs, train, cfg, 1, rank, size)}
    rows, grad_norms, best, best_state = [], [], math.inf, None
    for epoch in range(1, cfg.epochs + 1):
        task.train()
        if cfg.norm_eval:
            _norm_eval(task)
        order = rng.permutation(len(train))
        sums: dict[str, float] = {}
        steps = range(steps_per_epoch)
        for b in progress(steps, f"{desc} {epoch}/{cfg.epochs}") if cfg.progress and rank == 0 else steps:
            idx = np.sort(order[b * cfg.batch_size:(b + 1) * cfg.batch_size])
            images, kpts, vis, paired = augment(train.images[idx], train.kpts[idx], train.visible[idx], rng,
                                                cfg.augment, flip_idx,
                                                None if train.paired is None else train.paired[idx])
            share = slice(rank, None, size)
            args, kwargs = batch_inputs(images[share], kpts[share], vis[share],
                                        None if paired is None else paired[share], epoch)
            terms = runner(*args, kp_scale=float(size), **kwargs)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            clip = math.inf if cfg.optim.clip_grad is None else cfg.optim.clip_grad
            norm = float(nn.utils.clip_grad_norm_(params, clip))  # the norm before clipping (Table V)
            if len(grad_norms) < cfg.grad_norm_steps:
                grad_norms.append(norm)
            optimizer.step()
            scheduler.step()
            for key, value in terms.items():
                if key.startswith("loss"):
                    sums[key] = sums.get(key, 0.0) + float(value.detach())
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": v / steps_per_epoch for k, v in sums.items()})
        if epoch % cfg.val_every == 0 or epoch == cfg.epochs:
            row["val_nme"] = val_nme(model, val, 64)
            if size > 1:  # BN statistics may differ per rank: rank 0's score decides, so every rank stops together
                score = torch.tensor([row["val_nme"]], device=device)
                dist.broadcast(score, 0)
                row["val_nme"] = float(score)
            if row["val_nme"] < best:
                best = row["val_nme"]
                if stop is not None:
                    best_state = copy.deepcopy(model.state_dict())
            if plateau is not None:
                plateau.update(row["val_nme"])
        rows.append(row)
        if plateau is not None and plateau.converged and epoch >= cfg.min_epochs:
            if not drop["left"]:
                drop["stopped"] = True
                break
            drop.update(scale=drop["scale"] * cfg.lr_drop_factor, left=drop["left"] - 1,
                        epochs=drop["epochs"] + [epoch])
            plateau = Plateau(stop)
    if best_state is not None:
        model.load_state_dict(best_state)
    shares["end"] = gradient_shares(task, params, batch_inputs, train, cfg, rows[-1]["epoch"], rank, size)
    task.to(memory_format=torch.contiguous_format)
    scored = [r for r in rows if "val_nme" in r]
    best_epoch = min(scored, key=lambda r: r["val_nme"])["epoch"]
    return {"epochs": rows, "grad_norms": grad_norms, "best_epoch": best_epoch, "best_val_nme": best,
            "convergence": {**convergence.record(stop, drop["stopped"], len(rows), cfg.epochs, best_epoch),
                            "lr_drop_epochs": drop["epochs"]},
            "gradient_shares": {k: v for k, v in shares.items() if v}}


def gradient_shares(task: nn.Module, params: list[nn.Parameter], batch_inputs: Callable, train: Split,
                    cfg: FitConfig, epoch: int, rank: int, size: int) -> dict[str, float]:
    """Each weighted loss term's share of the gradient: the L2 norm of the gradient of that term alone (as it enters
    the total, weights and gamma(epoch) included) over the sum of those norms, averaged over the first
    `cfg.share_batches` training batches without augmentation. Units cancel, unlike a ratio of loss values (a
    batch-summed L_kp against batch-mean distillation terms). The task's state (BN statistics) is left untouched."""
    if cfg.share_batches <= 0 or len(train) < cfg.batch_size:
        return {}
    state = copy.deepcopy(task.state_dict())
    task.train()
    if cfg.norm_eval:
        _norm_eval(task)
    norms: dict[str, float] = {}
    for b in range(min(cfg.share_batches, len(train) // cfg.batch_size)):
        idx = np.arange(b * cfg.batch_size, (b + 1) * cfg.batch_size)[rank::size]
        args, kwargs = batch_inputs(train.images[idx], train.kpts[idx], train.visible[idx],
                                    None if train.paired is None else train.paired[idx], epoch)
        weighted = task(*args, kp_scale=float(size), **kwargs)["weighted"]
        for name, term in weighted.items():
            grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
            norm = float(torch.sqrt(sum(g.double().square().sum() for g in grads if g is not None)))
            norms[name] = norms.get(name, 0.0) + norm
    task.load_state_dict(state)
    total = sum(norms.values())
    return {name: v / total for name, v in sorted(norms.items())} if total > 0 else {}


def _targets(kpts: np.ndarray, vis: np.ndarray, size: tuple[int, int], device: torch.device) -> dict[str, torch.Tensor]:
    target_x, target_y, weight = simcc.encode(kpts, vis, size)
    return {"target_x": torch.from_numpy(target_x).to(device), "target_y": torch.from_numpy(target_y).to(device),
            "weight": torch.from_numpy(weight).to(device)}


class SupervisedTask(nn.Module):
    """The supervised step as one module (what DDP wraps): `kp_weight` x L_kp (mmpose KLDiscretLoss, summed over the
    batch) of the model's SimCC logits against GT labels; `kp_scale` as in `DistillTask`. A supervised student takes
    the KTL students' lambda_kp, so under the same optimiser and clipping the distillation terms are the only
    difference between them."""

    def __init__(self, model: RTMPose, kp_weight: float = 1.0):
        super().__init__()
        self.model = model
        self.kp_weight = kp_weight

    def forward(self, images: torch.Tensor, targets: dict[str, torch.Tensor],
                kp_scale: float = 1.0) -> dict[str, torch.Tensor]:
        simcc_x, simcc_y = self.model(images)
        loss = simcc_kl_loss(simcc_x, simcc_y, targets["target_x"], targets["target_y"], targets["weight"])
        weighted = self.kp_weight * kp_scale * loss
        return {"loss": weighted, "loss_kp": loss, "weighted": {"kp": weighted}}


def fit_supervised(model: RTMPose, data: dict[str, Split], cfg: FitConfig, desc: str = "supervised",
                   kp_weight: float = 1.0) -> dict:
    """Train `model` on `data["train"]` against GT SimCC labels only (`kp_weight` x L_kp, mmpose KLDiscretLoss)."""
    device = _device(model)

    def inputs(images, kpts, vis, _paired, _epoch):
        return (to_input(images, device), _targets(kpts, vis, model.cfg.input_size, device)), {}

    return _fit(model, SupervisedTask(model, kp_weight), inputs, data["train"], data["val"], cfg, desc)


def _distill(student: RTMPose, teacher: RTMPose, task: DistillTask, data: dict[str, Split], cfg: FitConfig,
             paired: bool, desc: str) -> dict:
    """KTL and MCL share one loop: `task` holds the frozen teacher, the student and the trainable aligners."""
    if task.student is not student or task.teacher is not teacher:
        raise ValueError("the task must wrap the given student and teacher")
    device = _device(student)

    def inputs(images, kpts, vis, twin, epoch):
        return ((to_input(images, device), to_input(twin if paired else images, device),
                 _targets(kpts, vis, student.cfg.input_size, device)),
                {"gamma": decay_gamma(epoch, cfg.epochs, cfg.gamma_warmup)})

    return _fit(student, task, inputs, data["train"], data["val"], cfg, desc)


def fit_ktl(student: RTMPose, teacher: RTMPose, task: DistillTask, data: dict[str, Split], cfg: FitConfig,
            desc: str = "ktl") -> dict:
    """Knowledge Transfer Level: the RGB teacher sees the RGB twin (`Split.paired`), the student the thermal crop."""
    if data["train"].paired is None:
        raise InputError("KTL needs paired RGB/thermal training data (load_split(..., paired=True))")
    return _distill(student, teacher, task, data, cfg, paired=True, desc=desc)


def fit_mcl(student: RTMPose, teacher: RTMPose, task: DistillTask, data: dict[str, Split], cfg: FitConfig,
            desc: str = "mcl") -> dict:
    """Model Compression Level: a frozen thermal teacher and a smaller thermal student see the same crop."""
    return _distill(student, teacher, task, data, cfg, paired=False, desc=desc)
