"""68-point NME evaluation in the paper's protocol (design §5): NME-IO on T-FAKE, NME-diag on CHARLOTTE subsets.

The scoring functions are pure numpy on predictions and ground truth in crop pixels; `evaluate_model` runs a model
on the prepared test splits and scores it (shared by the evaluate_nme and repeats stages).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from thermbench.core import metrics
from thermbench.core.io import atomic_write_bytes, write_json
from thermbench.mlcmkd.runs import Settings, load_run, setup
from thermbench.mlcmkd.speed import count_gflops
from thermbench.mlcmkd.train import Split, load_split, predict
from thermbench.models.rtmpose import build_rtmpose, count_parameters

THRESHOLD = 0.1
# CHARLOTTE subsets of the paper's Table I, as masks over the prepared samples table.
CHARLOTTE_SUBSETS = {
    "high": lambda df: df["width_group"] == "high",
    "mean": lambda df: df["width_group"] == "mean",
    "low": lambda df: df["width_group"] == "low",
    "front": lambda df: df["view"] == "front",
    "side": lambda df: df["view"] == "side",
    "full": lambda df: np.ones(len(df), dtype=bool),
}


def summarize(nmes: np.ndarray, threshold: float = THRESHOLD) -> dict:
    """Mean NME, failure rate and AUC of the cumulative error curve at `threshold`, and the image count."""
    nmes = np.asarray(nmes, dtype=np.float64)
    return {
        "nme": float(np.nanmean(nmes)) if np.isfinite(nmes).any() else float("nan"),
        f"fr@{threshold:g}": metrics.failure_rate(nmes, threshold),
        f"auc@{threshold:g}": metrics.auc_ced(nmes, threshold),
        "n": int(nmes.size),
    }


def ced(nmes: np.ndarray, threshold: float = THRESHOLD, steps: int = 51) -> dict:
    """The cumulative error curve as JSON-ready lists (the report plots it from metrics/ alone)."""
    x, y = metrics.ced_curve(nmes, threshold, steps)
    return {"x": x.tolist(), "y": y.tolist()}


def nme_io(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """Per-image NME normalised by the outer-eye-corner distance (points 36, 45)."""
    return metrics.nme(pred, gt, visible, metrics.interocular_distance(gt))


def nme_diag(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Per-image NME over the labelled points, normalised by the diagonal of their bounding box."""
    return metrics.nme(pred, gt, visible, metrics.bbox_diagonal(gt, visible))


def evaluate_tfake(pred: np.ndarray, gt: np.ndarray) -> dict:
    """NME-IO over all 68 points (every T-FAKE point is labelled) with FR/AUC and the CED curve."""
    nmes = nme_io(pred, gt)
    return {**summarize(nmes), "ced": ced(nmes)}


def evaluate_charlotte(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, meta: pd.DataFrame) -> dict:
    """NME-diag per subset. Only labelled points count, so Side uses its profile points mapped to iBUG-68."""
    nmes = nme_diag(pred, gt, visible)
    out = {name: summarize(nmes[np.asarray(mask(meta), dtype=bool)]) for name, mask in CHARLOTTE_SUBSETS.items()}
    out["full"]["ced"] = ced(nmes)
    return out


def crop_px(model: nn.Module, split: Split, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and GT in crop pixels (the input-px values scaled back per sample)."""
    scale = split.scale[:, None, :].astype(np.float64)
    return predict(model, split.images, batch_size) * scale, split.kpts * scale


def evaluate_model(model: nn.Module, tfake: Path, charlotte: Path, batch_size: int) -> tuple[dict, np.ndarray]:
    """Thermal T-FAKE test (NME-IO) and CHARLOTTE (NME-diag subsets) at the model's input size:
    ({"tfake": ..., "charlotte": ...}, T-FAKE test predictions in crop px, samples.csv order)."""
    size = model.cfg.input_size[0]
    pred, gt = crop_px(model, load_split(tfake, "test", size, all_labelled=True), batch_size)
    test = load_split(charlotte, "test", size)
    ch_pred, ch_gt = crop_px(model, test, batch_size)
    return {"tfake": evaluate_tfake(pred, gt),
            "charlotte": evaluate_charlotte(ch_pred, ch_gt, test.visible, test.meta)}, pred


PAPER_INPUT = 256


def complexity(arch: str) -> dict:
    """Params and forward GFLOPs (FlopCounterMode, 2 per multiply-add) of RTMPose-`arch` at 256x256, built on meta."""
    with torch.device("meta"):
        model = build_rtmpose(arch, input_size=(PAPER_INPUT, PAPER_INPUT))
    return {"params_m": count_parameters(model) / 1e6,
            "gflops": count_gflops(model, (1, 3, PAPER_INPUT, PAPER_INPUT)), "at_input": PAPER_INPUT}


def evaluate_run(run_dir: Path, tfake: Path, charlotte: Path, metrics_path: Path, predictions_path: Path,
                 settings: Settings) -> None:
    """Stage evaluate_nme@<run>: NME-IO on T-FAKE test, NME-diag on the CHARLOTTE subsets, complexity at 256 px;
    the RGB teacher also on its own RGB input. Predictions (crop px, samples.csv order) go to an .npy file."""
    device = setup(settings)
    batch = int(settings.train.fit["batch_size"])
    model = load_run(run_dir).to(device)
    config = json.loads((run_dir / "config.json").read_text())
    size = model.cfg.input_size[0]

    scores, pred = evaluate_model(model, tfake, charlotte, batch)
    result = {"model": run_dir.name, "kind": config["kind"], "variant": config.get("variant"), "arch": config["arch"],
              "teacher": config.get("teacher"), "teacher_arch": config.get("teacher_arch"), "input_size": size,
              "epochs": config["fit"]["epochs"], "training": config["history"],
              "complexity": complexity(config["arch"]), **scores}
    if config["modality"] == "rgb":
        rgb_pred, rgb_gt = crop_px(model, load_split(tfake, "test", size, modality="rgb", all_labelled=True), batch)
        result["tfake_rgb"] = evaluate_tfake(rgb_pred, rgb_gt)

    write_json(metrics_path, result)
    buf = io.BytesIO()
    np.save(buf, pred.astype(np.float32))
    atomic_write_bytes(predictions_path, buf.getvalue())
