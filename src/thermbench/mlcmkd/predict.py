"""An RTMPose on in-memory crops: network input, SimCC keypoints in input px, and the validation NME."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from thermbench.core import metrics
from thermbench.datasets.crop_store import Split
from thermbench.models import simcc
from thermbench.models.rtmpose import normalize_input


def to_input(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N,H,W) gray or (N,H,W,3) RGB -> normalised float (N,3,H,W) on `device`; gray is repeated to 3 channels."""
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    x = x.to(device, non_blocking=True)
    return normalize_input(x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2))


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Keypoints (N,K,2) in input px from SimCC argmax decoding; the model is put in eval mode."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        simcc_x, simcc_y = model(to_input(images[start:start + batch_size], device_of(model)))
        out.append(simcc.decode(simcc_x, simcc_y)[0])
    return np.concatenate(out).astype(np.float64)


def val_nme(model: nn.Module, split: Split, batch_size: int = 64) -> float:
    """Mean NME-IO (outer eye corners) over a split, in input px (ratios are scale-free for square crops)."""
    pred = predict(model, split.images, batch_size)
    return float(np.nanmean(metrics.nme(pred, split.kpts, split.visible, metrics.interocular_distance(split.kpts))))
