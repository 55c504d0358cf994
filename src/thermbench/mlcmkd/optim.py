"""The optimiser of every MLCM-KD run: AdamW parameter groups and the per-step lr schedule, as RTMPose/DWPose."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from torch import nn

from thermbench.core.io import InputError


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

    def __post_init__(self):
        # params train.fit.optim, refused in one line where they are read (and by `make profile`)
        rules = (("lr", self.lr > 0, "a number above 0"),
                 ("weight_decay", self.weight_decay >= 0, "a number of at least 0"),
                 ("warmup_steps", isinstance(self.warmup_steps, int) and self.warmup_steps >= 0,
                  "a whole number of at least 0"),
                 ("cosine_start", 0 <= self.cosine_start <= 1, "a number in [0, 1] (a fraction of the steps)"),
                 ("min_lr_ratio", 0 <= self.min_lr_ratio <= 1, "a number in [0, 1] (a fraction of lr)"),
                 ("clip_grad", self.clip_grad is None or self.clip_grad > 0, "a number above 0 or null (off)"))
        for key, ok, rule in rules:
            if not ok:
                raise InputError(f"params.yaml: 'train.fit.optim.{key}' must be {rule}, not {getattr(self, key)!r}")


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
