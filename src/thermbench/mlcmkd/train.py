"""Training for the MLCM-KD reproduction: in-memory landmark data, seeded augmentation, and plain fit loops.

Everything here is pure with respect to files except `load_split` (reads a prepared dataset once). The loops return
a history (per-epoch rows + early gradient norms) and never write anything; stages decide what to save.

Coordinates are continuous pixel coordinates as in `thermbench.core.crops` (pixel i covers [i, i+1)). Keypoints live in
*input* pixels (the crop resized to the model's input size), `x_in = x_crop * input_w / crop_w`; `Split.scale`
converts predictions back to crop pixels.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from thermbench.core import metrics
from thermbench.core.io import InputError
from thermbench.core.keypoints import load_schema
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import SAMPLES, read_samples
from thermbench.mlcmkd.losses import DistillTask, decay_gamma, simcc_kl_loss
from thermbench.mlcmkd.stability import total_grad_norm
from thermbench.models import simcc
from thermbench.models.rtmpose import RTMPose, normalize_input

# --------------------------------------------------------------------------------------------------- data


@dataclass
class Split:
    """One split held in memory. `images`: (N,H,W) gray or (N,H,W,3) RGB uint8; `paired`: the RGB twin or None;
    `kpts` (N,K,2) float32 input px; `visible` (N,K) float32; `scale` (N,2) crop px per input px (x, y)."""

    images: np.ndarray
    kpts: np.ndarray
    visible: np.ndarray
    scale: np.ndarray
    paired: np.ndarray | None = None
    meta: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.images)


def _read_image(path: Path, color: bool) -> np.ndarray:
    if not color:
        return read_image(path)
    return cv2.cvtColor(read_image(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def load_split(prepared: str | Path, split: str | None, input_size: int, *, modality: str = "thermal",
               paired: bool = False, all_labelled: bool = False, max_samples: int | None = None) -> Split:
    """Load the rows of `<prepared>/samples.csv` in `split` (None = all) into memory at `input_size` pixels.

    modality "thermal" reads `crop_path` (gray), "rgb" reads `rgb_crop_path`; `paired` also loads the RGB twin
    (for KTL). `all_labelled` treats every point as annotated (T-FAKE: every point has a rendered position and the flag
    only marks self-occlusion); otherwise the flag masks points without a label (CHARLOTTE's unmapped points).
    `max_samples` keeps the first rows.
    """
    prepared = Path(prepared)
    table = prepared / SAMPLES
    df = read_samples(prepared, ("split", "crop_path", "kpts")
                      + (("rgb_crop_path",) if modality == "rgb" or paired else ()))
    if split is not None:
        df = df[df["split"] == split]
    if max_samples is not None:
        df = df.iloc[:max_samples]
    if df.empty:
        raise InputError(f"{table}: no samples in split '{split}'")
    df = df.reset_index(drop=True)

    size = (input_size, input_size)
    images, twins, kpts, scales = [], [], [], []
    column = "rgb_crop_path" if modality == "rgb" else "crop_path"
    for row in tqdm(df.itertuples(index=False), total=len(df), desc=f"load {prepared.name}/{split}", leave=False):
        img = _read_image(prepared / getattr(row, column), color=modality == "rgb")
        h, w = img.shape[:2]
        images.append(_resize(img, size))
        if paired:
            twins.append(_resize(_read_image(prepared / row.rgb_crop_path, color=True), size))
        scale = np.array([w / input_size, h / input_size], dtype=np.float32)
        pts = np.asarray(json.loads(row.kpts), dtype=np.float32).reshape(-1, 3)
        pts[:, :2] /= scale
        kpts.append(pts)
        scales.append(scale)
    kpts = np.stack(kpts)
    visible = (all_labelled | (kpts[..., 2] > 0)).astype(np.float32)
    return Split(images=np.stack(images), kpts=kpts[..., :2].copy(), visible=visible, scale=np.stack(scales),
                 paired=np.stack(twins) if paired else None, meta=df)


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
class FitConfig:
    """One training run. `patience` None turns early stopping off; `grad_norm_steps` logs that many first steps;
    `gamma_warmup` is alpha of the distillation decay gamma(t) (eq. 7; KTL/MCL only)."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    seed: int
    warmup_steps: int = 0
    min_lr_ratio: float = 0.05
    patience: int | None = None
    grad_norm_steps: int = 0
    gamma_warmup: int = 0
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


def _world() -> tuple[int, int]:
    return (dist.get_rank(), dist.get_world_size()) if dist.is_available() and dist.is_initialized() else (0, 1)


def _schedule(cfg: FitConfig, total_steps: int) -> Callable[[int], float]:
    """Linear warm-up, then cosine from lr down to min_lr_ratio * lr (RTMPose's AdamW + cosine recipe)."""

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        span = max(total_steps - cfg.warmup_steps, 1)
        cos = 0.5 * (1 + math.cos(math.pi * min(step - cfg.warmup_steps, span) / span))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cos

    return factor


def _fit(model: nn.Module, params: list[nn.Parameter], step: Callable, train: Split, val: Split,
         cfg: FitConfig, train_modules: list[nn.Module], desc: str) -> dict:
    """Shared loop: shuffled batches, augmentation, AdamW + cosine, per-epoch val NME, optional early stopping.

    `step(images, kpts, visible, paired, epoch) -> {"loss": tensor, <term>: tensor, ...}`. With torch.distributed
    initialised, each rank takes its share of every batch and gradients are averaged by all-reduce (the student is
    called through forward_features/forward_head, which a DDP wrapper would not see).
    """
    rank, world = _world()
    rng = np.random.default_rng(cfg.seed)
    flip_idx = flip_index(train.kpts.shape[1])
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = max(len(train) // cfg.batch_size, 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(cfg, steps_per_epoch * cfg.epochs))
    rows, grad_norms, best, best_state, stale = [], [], math.inf, None, 0
    for epoch in range(1, cfg.epochs + 1):
        for module in train_modules:
            module.train()
        order = rng.permutation(len(train))
        sums: dict[str, float] = {}
        bar = tqdm(range(steps_per_epoch), desc=f"{desc} {epoch}/{cfg.epochs}", leave=False,
                   disable=not cfg.progress or rank != 0)
        for b in bar:
            idx = np.sort(order[b * cfg.batch_size:(b + 1) * cfg.batch_size])[rank::world]
            images, kpts, vis, paired = augment(train.images[idx], train.kpts[idx], train.visible[idx], rng,
                                                cfg.augment, flip_idx,
                                                None if train.paired is None else train.paired[idx])
            terms = step(images, kpts, vis, paired, epoch)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            if world > 1:
                for p in params:
                    if p.grad is not None:
                        dist.all_reduce(p.grad)
                        p.grad /= world
            if len(grad_norms) < cfg.grad_norm_steps:
                grad_norms.append(total_grad_norm(params))
            optimizer.step()
            scheduler.step()
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            bar.set_postfix(loss=f"{float(terms['loss'].detach()):.4f}")
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": v / steps_per_epoch for k, v in sums.items()})
        row["val_nme"] = val_nme(model, val, cfg.batch_size)
        if world > 1:  # BN statistics differ per rank: take rank 0's score so every rank stops at the same epoch
            score = torch.tensor([row["val_nme"]], device=_device(model))
            dist.broadcast(score, 0)
            row["val_nme"] = float(score)
        rows.append(row)
        if row["val_nme"] < best:
            best, stale = row["val_nme"], 0
            if cfg.patience is not None:
                best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        if cfg.patience is not None and stale >= cfg.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    best_epoch = min(rows, key=lambda r: r["val_nme"])["epoch"]
    return {"epochs": rows, "grad_norms": grad_norms, "best_epoch": best_epoch, "best_val_nme": best}


def _targets(kpts: np.ndarray, vis: np.ndarray, size: tuple[int, int], device: torch.device) -> dict[str, torch.Tensor]:
    target_x, target_y, weight = simcc.encode(kpts, vis, size)
    return {"target_x": torch.from_numpy(target_x).to(device), "target_y": torch.from_numpy(target_y).to(device),
            "weight": torch.from_numpy(weight).to(device)}


def fit_supervised(model: RTMPose, data: dict[str, Split], cfg: FitConfig) -> dict:
    """Train `model` on `data["train"]` against GT SimCC labels only (L_kp, mmpose KLDiscretLoss)."""

    def step(images, kpts, vis, _paired, _epoch):
        device = _device(model)
        targets = _targets(kpts, vis, model.cfg.input_size, device)
        simcc_x, simcc_y = model(to_input(images, device))
        return {"loss": simcc_kl_loss(simcc_x, simcc_y, targets["target_x"], targets["target_y"], targets["weight"])}

    params = [p for p in model.parameters() if p.requires_grad]
    return _fit(model, params, step, data["train"], data["val"], cfg, [model], "supervised")


def _distill(student: RTMPose, teacher: RTMPose, task: DistillTask, data: dict[str, Split], cfg: FitConfig,
             paired: bool, desc: str) -> dict:
    """KTL and MCL share one loop: `task` holds the frozen teacher, the student and the trainable aligners."""
    if task.student is not student or task.teacher is not teacher:
        raise ValueError("the task must wrap the given student and teacher")

    def step(images, kpts, vis, twin, epoch):
        gamma, device = decay_gamma(epoch, cfg.epochs, cfg.gamma_warmup), _device(student)
        out = task(to_input(images, device), to_input(twin if paired else images, device),
                   _targets(kpts, vis, student.cfg.input_size, device), gamma=gamma)
        return {k: v for k, v in out.items() if k != "output"}

    return _fit(student, task.trainable_parameters(), step, data["train"], data["val"], cfg, [task], desc)


def fit_ktl(student: RTMPose, teacher: RTMPose, task: DistillTask, data: dict[str, Split], cfg: FitConfig) -> dict:
    """Knowledge Transfer Level: the RGB teacher sees the RGB twin (`Split.paired`), the student the thermal crop."""
    if data["train"].paired is None:
        raise InputError("KTL needs paired RGB/thermal training data (load_split(..., paired=True))")
    return _distill(student, teacher, task, data, cfg, paired=True, desc="ktl")


def fit_mcl(student: RTMPose, teacher: RTMPose, task: DistillTask, data: dict[str, Split], cfg: FitConfig) -> dict:
    """Model Compression Level: a frozen thermal teacher and a smaller thermal student see the same crop."""
    return _distill(student, teacher, task, data, cfg, paired=False, desc="mcl")
