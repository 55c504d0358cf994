"""Blog part 3 (hier_yolo_thermeval.py; docs/sources.md, "Part 3") with the offline models: the first
`n_frames` frames of annotation file 2 by image id that carry a Person and a Nose; every Nose (bbox centre) is GT;
greedy matching capped at `match_cap_px`; detection and PCK over GT, median/mean over matched, precision = matched /
predictions. Nose centre = the blog's MediaPipe definition (mean of the two nostril means).

Rows: MediaPipe pipelines A, B, person+A, person+B (face_pipeline.py) and dlib-68 (HOG) on the full frame and inside
each GT Person box. The blog's YOLO pipelines C-E need `ultralytics` and a trained nostril YOLO, so they are not here.

Besides the metrics, one row per GT nose (`nose_table`): whether each pipeline detected it and its error, so rows
can be compared paired over the same noses (zeroshot/blog_statements.py).
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core import metrics
from thermbench.core.io import InputError, write_json, write_text
from thermbench.core.progress import progress
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import FRAMES, read_frames
from thermbench.models.dlib68 import Dlib68
from thermbench.models.landmarker import nose_indices
from thermbench.zeroshot.evaluate import full_frame_metrics
from thermbench.zeroshot.protocols import face_pipeline as fp

ROWS = ("A", "B", "person+A", "person+B", "dlib68_hog", "person+dlib68_hog")
LABELS = {
    "A": "A: FaceMesh on the full frame",
    "B": "B: BlazeFace full range -> 25% pad square 256 -> FaceMesh",
    "person+A": "GT Person box -> 25% pad square 256 -> FaceMesh",
    "person+B": "GT Person box -> crop -> BlazeFace -> crop -> FaceMesh",
    "dlib68_hog": "dlib-68 (HOG) on the full frame",
    "person+dlib68_hog": "GT Person box -> dlib-68 (HOG) in the box",
}


@dataclass(frozen=True)
class Part3Config:
    n_frames: int                  # first split-2 frames with Person + Nose (blog: 60)
    match_cap_px: float            # blog: 80
    pck_thresholds_px: tuple       # blog reports PCK@10
    rows: tuple                    # which of ROWS to run
    min_detection_confidence: float  # BlazeFace and FaceMesh (MediaPipe defaults)
    dlib_upsample: int


def select_frames(frames: pd.DataFrame, n: int, path: Path) -> pd.DataFrame:
    def some(column: str) -> pd.Series:
        return frames[column].map(lambda s: len(json.loads(s)) > 0)

    has = some("noses") & some("persons")
    rows = frames[(frames["annotation_file"] == 2) & has]
    if rows.empty:
        raise InputError(f"{path}: no frame of annotation file 2 carries both a Person and a Nose")
    return rows.sort_values("image_id", kind="stable").head(n)


def _noses(points: np.ndarray, schema: str) -> list:
    return points[:, nose_indices(schema, "blog")].mean(axis=1).tolist() if len(points) else []


def nose_table(records: dict[str, list[dict]], cap: float) -> pd.DataFrame:
    """One row per GT nose (image file, its index among the frame's GT noses), per pipeline whether it was matched
    within `cap` (`{row}_detected`, 0/1) and its error in frame px (`{row}_error_px`, NaN when missed), as
    `full_frame_metrics` scores it. `records`: row -> the frames' records, every row over the same frames."""
    first = next(iter(records.values()))
    table = pd.DataFrame([{"image_file": r["image_file"], "nose": i} for r in first for i in range(len(r["gt"]))],
                         columns=["image_file", "nose"])
    for row, rows in records.items():
        errors = np.concatenate([metrics.matched_errors(r["gt"], r["pred"], cap) for r in rows] or [np.zeros(0)])
        table[f"{row}_detected"] = np.isfinite(errors).astype(int)
        table[f"{row}_error_px"] = errors
    return table


def evaluate(prepared: Path, raw: Path, metrics_path: Path, timing_path: Path, curves_path: Path, noses_path: Path,
             cfg: Part3Config, source: str) -> dict:
    unknown = sorted(set(cfg.rows) - set(ROWS))
    if unknown:
        raise InputError(f"params.yaml: zeroshot.blog_part3.rows has unknown row(s) {', '.join(unknown)}")
    frames_path = prepared / FRAMES
    frames = select_frames(read_frames(prepared), cfg.n_frames, frames_path)
    thresholds = list(cfg.pck_thresholds_px)
    parts = fp.MediaPipeParts(cfg.min_detection_confidence)
    dlib = None
    if any("dlib" in r for r in cfg.rows):
        dlib = Dlib68("hog", cfg.dlib_upsample)
    records = {r: [] for r in cfg.rows}
    seconds = {r: [] for r in cfg.rows}
    try:
        for item in progress(frames.itertuples(), "part 3", total=len(frames), unit="frame"):
            image = read_image(raw / item.image_file)
            persons = json.loads(item.persons)
            for row in cfg.rows:
                start = time.perf_counter()
                if row == "dlib68_hog":
                    noses = _noses(dlib.predict(image).keypoints, dlib.schema)
                elif row == "person+dlib68_hog":
                    noses = _noses(dlib.predict(image, persons).keypoints, dlib.schema)
                else:
                    noses = _noses(fp.run_pipeline(parts, row, image, persons), "mediapipe478_nose")
                seconds[row].append(time.perf_counter() - start)
                records[row].append({"image_file": item.image_file, "gt": json.loads(item.noses), "pred": noses})
    finally:
        parts.close()
    n_gt = int(frames["noses"].map(lambda s: len(json.loads(s))).sum())
    result = {"data": source, "protocol": "blog part 3", "n_frames": len(frames), "n_gt": n_gt,
              "match_cap_px": cfg.match_cap_px,
              "rows": {r: {"label": LABELS[r], "status": "ok", **full_frame_metrics(records[r], cfg.match_cap_px,
                                                                                     thresholds)}
                       for r in cfg.rows}}
    curves = [{"row": r, "threshold_px": t, "pck": result["rows"][r]["pck"][f"{t}px"]}
              for r in cfg.rows for t in thresholds]
    write_json(metrics_path, result)
    write_json(timing_path, {"data": source, "timer": "pipeline call per frame",
                             "rows": {r: {"median_ms_per_frame": 1000 * statistics.median(s), "n_frames": len(s)}
                                      for r, s in seconds.items()}}, ndigits=2)
    write_text(curves_path, pd.DataFrame(curves, columns=["row", "threshold_px", "pck"])
               .to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    write_text(noses_path, nose_table(records, cfg.match_cap_px)
               .to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    return result
