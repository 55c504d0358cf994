"""The TinyHead's test scores (crop and frame px), end-to-end inference time and the phases of its training curve."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from thermbench.core import metrics
from thermbench.core.progress import progress
from thermbench.models.tinyhead import FrozenBackbone, TinyHead, decode_heatmap, predict
from thermbench.tinyhead.features import select_features, split_data
from thermbench.tinyhead.training import point_errors


def evaluate(head: TinyHead, maps: dict[str, torch.Tensor], index: pd.DataFrame, record: dict, crop_size: int,
             split: str = "test") -> tuple[pd.DataFrame, dict]:
    """Per-crop predictions and the blog's table entries, in crop px and in frame px; the head's `save_head`
    record gives the maps that feed it, its stride and decode.

    Frame px: the crop resized its window (box_w x box_h) to crop_size x crop_size, one scale per axis, so a crop
    error vector converts by (box_w, box_h) / crop_size whatever the offset convention.
    """
    rows = np.flatnonzero((index["split"] == split).to_numpy())
    feats, gt = split_data(select_features(maps, record["maps"]), index, split)
    pred = predict(head, feats, record["stride"], record["subpixel"])
    scale = index.iloc[rows][["box_w", "box_h"]].to_numpy(dtype=np.float64) / crop_size
    errors = {"crop_px": point_errors(pred, gt), "frame_px": point_errors(pred, gt, scale)}
    table = pd.DataFrame({"sample_id": index["sample_id"].iloc[rows].to_numpy(), "pred_x": pred[:, 0].numpy(),
                          "pred_y": pred[:, 1].numpy(), "nose_x": gt[:, 0].numpy(), "nose_y": gt[:, 1].numpy(),
                          "error_crop_px": errors["crop_px"], "error_frame_px": errors["frame_px"]})
    return table, {unit: metrics.nose_summary(err, record["pck_thresholds"]) for unit, err in errors.items()}


@torch.no_grad()
def time_inference(backbone: FrozenBackbone, head: TinyHead, crops: torch.Tensor, stride: float, subpixel: bool,
                   warmup: int = 2) -> np.ndarray:
    """Wall-clock ms per crop for the whole predictor (backbone + head + decode), batch 1, after `warmup` crops, with
    backbone and head on the backbone's device (the decode copies the heatmap back, which waits for the GPU)."""
    head = head.eval().to(backbone.device)
    times = []
    for i, crop in enumerate(progress(crops, desc="timing", unit="crop")):
        start = time.perf_counter()
        decode_heatmap(head(backbone(crop[None])).cpu(), stride, subpixel)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return np.asarray(times)


def descent_phases(loss: list[float], window: int = 5, rate: float = 2.0, min_share: float = 0.1) -> list[dict]:
    """Phases of fast descent in a curve (the blog reads its validation mean error), to test the blog's "two-stage
    convergence" on data, not by eye.

    The log of the curve is smoothed by a centred `window`-epoch moving average, then replaced by its running minimum
    (the best value so far), so spikes cannot create or split phases and the falls add up to the total fall. An
    epoch's fall is fast when it exceeds `rate` times the average fall per epoch. Runs of fast epochs are phases;
    phases holding less than `min_share` of the total fall are dropped. Each phase: first/last epoch counted from 0
    (the position in `loss`) and its share of the fall.
    """
    log = np.log(np.maximum(np.asarray(loss, dtype=np.float64), 1e-12))
    if len(log) < window + 2:
        return []
    smooth = np.convolve(np.pad(log, window // 2, mode="edge"), np.ones(window) / window, mode="valid")
    best = np.minimum.accumulate(smooth)
    fall = -np.diff(best)  # fall[i]: from epoch i to epoch i + 1
    total = best[0] - best[-1]
    if total <= 0:
        return []
    fast = fall > rate * total / len(fall)
    phases, start = [], None
    for i, flag in enumerate(np.append(fast, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            share = float(fall[start:i].sum() / total)
            if share >= min_share:
                phases.append({"first_epoch": start, "last_epoch": i, "share": share})
            start = None
    return phases
