"""The validation NME of an RTMPose on in-memory crops (the network input and SimCC decoding are
`thermbench.models.rtmpose`'s `to_input` and `predict`)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from thermbench.core.nme import interocular_distance, nme
from thermbench.datasets.crop_store import Split
from thermbench.models.rtmpose import predict


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def val_nme(model: nn.Module, split: Split, batch_size: int = 64) -> float:
    """Mean NME-IO (outer eye corners) over a split, in input px (ratios are scale-free for square crops)."""
    pred = predict(model, split.images, batch_size)
    return float(np.nanmean(nme(pred, split.kpts, split.visible, interocular_distance(split.kpts))))
