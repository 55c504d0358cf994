"""ThermEval nose protocol for zero-shot models (design §5): run an adapter, then score its nose centres.

Full frame: the model finds people on its own; nose centres are matched one-to-one to GT noses (greedy, capped).
Crop protocol: the GT Person box is given; the model's first person is compared with that box's GT nose, in frame
pixels and in pixels of the 256x256 crop (the blog's unit). Convention offset: the mean GT-minus-prediction offset in
box-normalised coordinates ((p - box origin) / box size, the padded Person box: ThermEval labels no face box, so the
person box is the only per-subject scale), fitted on one split and added to the predictions of another.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core import metrics
from thermbench.core.io import InputError
from thermbench.core.progress import progress
from thermbench.datasets.common import read_image


def select(table: pd.DataFrame, split: str, limit: int, path: Path) -> pd.DataFrame:
    """Rows of one split in file order, the first `limit` of them (0 = all)."""
    rows = table[table["split"] == split]
    if rows.empty:
        raise InputError(f"{path}: split '{split}' is empty")
    return rows.head(limit) if limit else rows


def run_full_frame(adapter, frames: pd.DataFrame, raw: Path) -> tuple[list[dict], list[float]]:
    """One record per frame: GT noses and the model's nose centres (frame px); plus seconds per frame."""
    records, seconds = [], []
    for row in progress(frames.itertuples(), "full frame", total=len(frames), unit="frame"):
        image = read_image(raw / row.image_file)
        start = time.perf_counter()
        pred = adapter.predict(image)
        seconds.append(time.perf_counter() - start)
        records.append({"image_file": row.image_file, "split": row.split,
                        "gt": json.loads(row.noses), "pred": pred.noses.tolist()})
    return records, seconds


def person_box(row) -> list[float]:
    """The sample's GT Person box (xyxy, frame px), the box the crop protocol hands the model."""
    return [row.person_x0, row.person_y0, row.person_x0 + row.person_w, row.person_y0 + row.person_h]


def run_crops(adapter, samples: pd.DataFrame, raw: Path) -> list[dict]:
    """One record per sample: GT nose, the model's nose on the given Person box (None if it found none), crop box."""
    records = []
    for row in progress(samples.itertuples(), "crops", total=len(samples), unit="crop"):
        pred = adapter.predict(read_image(raw / row.image_file), boxes=[person_box(row)])
        records.append({"sample_id": row.sample_id, "split": row.split,
                        "gt": [row.frame_nose_x, row.frame_nose_y],
                        "pred": pred.noses[0].tolist() if len(pred.noses) else None,
                        "box": [row.box_x0, row.box_y0, row.box_w, row.box_h]})
    return records


def full_frame_metrics(records: list[dict], cap: float, thresholds) -> dict:
    """nose_summary over all GT noses, plus frame/prediction counts and precision = matched / predictions."""
    errors = [metrics.matched_errors(r["gt"], r["pred"], cap) for r in records]
    errors = np.concatenate(errors) if errors else np.zeros(0)
    out = metrics.nose_summary(errors, thresholds)
    n_pred = sum(len(r["pred"]) for r in records)
    out.update(n_frames=len(records), n_predictions=n_pred,
               precision=float(np.isfinite(errors).sum() / n_pred) if n_pred else float("nan"))
    return out


def _arrays(records: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gt = np.array([r["gt"] for r in records], dtype=np.float64).reshape(-1, 2)
    pred = np.array([r["pred"] if r["pred"] is not None else [np.nan, np.nan] for r in records],
                    dtype=np.float64).reshape(-1, 2)
    box = np.array([r["box"] for r in records], dtype=np.float64).reshape(-1, 4)
    return gt, pred, box


def crop_metrics(records: list[dict], crop_size: int, thresholds) -> dict:
    """Errors in frame px and in crop px (the crop scales x and y differently); a missing prediction is a miss."""
    gt, pred, box = _arrays(records)
    frame_err = metrics.point_errors(pred, gt)
    crop_err = metrics.point_errors(pred * crop_size / box[:, 2:], gt * crop_size / box[:, 2:])
    return {"frame_px": metrics.nose_summary(frame_err, thresholds),
            "crop_px": metrics.nose_summary(crop_err, thresholds)}


def fit_offset(records: list[dict]) -> np.ndarray:
    """Mean (GT - prediction) in box-normalised units over records with a prediction; NaN if there are none."""
    gt, pred, box = _arrays(records)
    delta = (gt - pred) / box[:, 2:]
    found = np.isfinite(delta).all(axis=1)
    return delta[found].mean(axis=0) if found.any() else np.full(2, np.nan)


def apply_offset(records: list[dict], offset: np.ndarray) -> list[dict]:
    out = []
    for r in records:
        shifted = None if r["pred"] is None else (np.asarray(r["pred"]) + offset * np.asarray(r["box"][2:])).tolist()
        out.append({**r, "pred": shifted})
    return out
