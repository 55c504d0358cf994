"""A trained RTMPose scored in the paper's protocol (design §5; the NME functions are `thermbench.core.nme`):
`score_run` runs it on the cached test crops (every training stage scores its own model). Metrics are scalars; the
cumulative error curves go to CSV rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from thermbench.core.nme import ced_rows, charlotte_checks, charlotte_subsets, nme_diag, nme_io, summarize
from thermbench.datasets.crop_store import load_splits
from thermbench.models.rtmpose import complexity, crop_px


def score_run(model: nn.Module, config: dict, tfake_cache: Path, charlotte_cache: Path,
              name: str) -> tuple[dict, list[dict], np.ndarray, dict]:
    """Score a trained run on the cached test crops: NME-IO on T-FAKE thermal test, NME-diag on the CHARLOTTE
    subsets, complexity at 256 px; the RGB teacher also on the RGB twins. Returns (scalar metrics, CED rows
    {nme, tfake, charlotte_full[, tfake_rgb]}, T-FAKE test predictions in crop px, the per-image NMEs of T-FAKE and
    CHARLOTTE Full by sample id as `core.items` writes them)."""
    tfake = load_splits(tfake_cache, ("test",))["test"]
    charlotte = load_splits(charlotte_cache, ("test",))["test"]
    pred, gt = crop_px(model, tfake)
    nmes = {"tfake": nme_io(pred, gt)}
    ch_pred, ch_gt = crop_px(model, charlotte)
    nmes["charlotte_full"] = nme_diag(ch_pred, ch_gt, charlotte.visible)
    result = {"model": name, **{k: config.get(k) for k in ("kind", "variant", "arch", "seed", "init", "teacher_arch")},
              "input_size": config["input_size"], "epochs": config["fit"]["epochs"], "training": config["history"],
              "complexity": complexity(config["arch"]), "tfake": summarize(nmes["tfake"]),
              "charlotte": charlotte_subsets(nmes["charlotte_full"], charlotte.meta),
              "charlotte_checks": charlotte_checks(ch_pred, ch_gt, charlotte.visible, charlotte.meta)}
    if config["modality"] == "rgb":
        rgb_pred, rgb_gt = crop_px(model, tfake, images=tfake.paired)
        nmes["tfake_rgb"] = nme_io(rgb_pred, rgb_gt)
        result["tfake_rgb"] = summarize(nmes["tfake_rgb"])
    items = {"tfake": (sample_ids(tfake), nmes["tfake"]), "charlotte": (sample_ids(charlotte), nmes["charlotte_full"])}
    return result, ced_rows(nmes), pred, items


def sample_ids(split) -> list[str]:
    """The split's sample ids in crop order (its meta table's), the items of `core.items`."""
    if split.meta is None or "sample_id" not in split.meta:
        raise ValueError("the crop store keeps no sample ids (meta.csv)")
    return split.meta["sample_id"].astype(str).tolist()
