"""Blog part 1 as its scripts run it (docs/sources.md, "Part 1"): the first `n_frames` frames of annotation
file 1 (file order) that carry a Nose, full frame, every GT Nose (bbox centre) scored with greedy matching capped at
`match_cap_px`; detection and PCK over all GT, mean/median over matched, precision = matched / predictions.

Rows (the blog's settings first, variants after):
- dwpose_rtmw: rtmlib Wholebody(mode='balanced') = YOLOX-m HumanArt + RTMW-x-l 256x192 (what the blog's "DWPose" is);
  all persons kept, YOLOX defaults, no keypoint-score cut.  dwpose_l384: DWPose-l 384x288 (zeroshot.dwpose).
- sapiens2_one_box: the whole frame as one box (the blog; at most one prediction per frame, so its detection rate is
  a ceiling).  sapiens2_detector: YOLOX person boxes from the balanced detector (removes that ceiling).
- mediapipe_one_face: num_faces=1 (the blog).  mediapipe_several: zeroshot.mediapipe.max_num_faces.
- dlib68_<detector>: not in the blog; dlib's 68 points on its own face boxes.
Each row is scored with the blog's nose centre per model and with the project's anatomical arc (models/landmarker.py).
Rows whose weights are absent carry one status line ("weights not available: ...") and no numbers.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core.io import InputError, write_json, write_text
from thermbench.core.progress import progress
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import FRAMES, read_frames
from thermbench.models.dlib68 import Dlib68
from thermbench.models.dwpose import DWPose
from thermbench.models.landmarker import NOSE_DEFINITIONS, nose_indices
from thermbench.models.mediapipe_facemesh import MediaPipeFaceMesh
from thermbench.models.sapiens2_pose import Sapiens2Pose
from thermbench.models.weights import WeightsUnavailable
from thermbench.zeroshot.evaluate import full_frame_metrics

ROWS = ("dwpose_rtmw", "dwpose_l384", "sapiens2_one_box", "sapiens2_detector", "mediapipe_one_face",
        "mediapipe_several", "dlib68_hog", "dlib68_mmod")
LABELS = {
    "dwpose_rtmw": "\"DWPose\" = rtmlib balanced (RTMW-x-l 256x192)",
    "dwpose_l384": "DWPose-l 384x288",
    "sapiens2_one_box": "Sapiens2-0.4B, whole frame as one box",
    "sapiens2_detector": "Sapiens2-0.4B, YOLOX person boxes",
    "mediapipe_one_face": "MediaPipe FaceMesh, num_faces=1",
    "mediapipe_several": "MediaPipe FaceMesh, several faces",
    "dlib68_hog": "dlib-68, HOG detector",
    "dlib68_mmod": "dlib-68, MMOD (CNN) detector",
}


@dataclass(frozen=True)
class Part1Config:
    n_frames: int                  # first split-1 frames with >= 1 Nose (blog: 50)
    match_cap_px: float            # greedy matching cap, frame px (blog: 80)
    pck_thresholds_px: tuple       # blog: 5, 10, 20
    rows: tuple                    # which of ROWS to run (the others are not listed)
    dwpose_balanced: dict  # rtmlib Wholebody 'balanced' models and YOLOX defaults


@dataclass(frozen=True)
class Adapters:
    """The adapters' own params sections (zeroshot.<model>) and the device for torch models."""
    mediapipe: dict
    dwpose: dict
    sapiens2: dict
    dlib: dict
    threads: int = 1
    device: str = "cpu"


def select_frames(frames: pd.DataFrame, n: int, path: Path) -> pd.DataFrame:
    """The first `n` frames of annotation file 1, in file (image id) order, that carry at least one Nose."""
    rows = frames[(frames["annotation_file"] == 1) & (frames["noses"].map(lambda s: len(json.loads(s)) > 0))]
    if rows.empty:
        raise InputError(f"{path}: no frame of annotation file 1 carries a Nose")
    return rows.sort_values("image_id", kind="stable").head(n)


class _Sapiens2WithDetector:
    """Sapiens2 on YOLOX person boxes (no box found -> no prediction)."""

    def __init__(self, pose, detector):
        self.pose, self.detector, self.schema = pose, detector, pose.schema

    def predict(self, image: np.ndarray, boxes=None):
        return self.pose.predict(image, self.detector.detect(image)) if boxes is None else self.pose.predict(
            image, boxes)


BALANCED = "zeroshot_blog.part1.dwpose_balanced"  # the params key of the rows on rtmlib's 'balanced' models


def build(row: str, adapters: Adapters, cfg: Part1Config, allow_download: bool):
    """The adapter of one row (raises WeightsUnavailable when its weights are not on this machine)."""
    if row.startswith("mediapipe"):
        return MediaPipeFaceMesh.from_params(adapters.mediapipe, 1 if row == "mediapipe_one_face" else None)
    if row.startswith("dlib68"):
        return Dlib68(row.split("_")[1], int(adapters.dlib["upsample"]))
    if row == "dwpose_rtmw":
        return DWPose.from_params(cfg.dwpose_balanced, allow_download, adapters.threads, where=BALANCED)
    if row == "dwpose_l384":
        return DWPose.from_params(adapters.dwpose, allow_download, adapters.threads)
    pose = Sapiens2Pose.from_params(adapters.sapiens2, allow_download, adapters.device)
    if row == "sapiens2_one_box":
        return pose
    detector = DWPose.from_params(cfg.dwpose_balanced, allow_download, adapters.threads, where=BALANCED)
    return _Sapiens2WithDetector(pose, detector)


def run_row(adapter, frames: pd.DataFrame, raw: Path, row: str) -> tuple[dict[str, list[dict]], list[float]]:
    """Per nose definition, one record per frame (GT noses, predicted nose centres); plus seconds per frame (the
    model call only: construction and image reading are outside the timer)."""
    records = {d: [] for d in NOSE_DEFINITIONS}
    seconds = []
    for item in progress(frames.itertuples(), f"part 1 {row}", total=len(frames), unit="frame"):
        image = read_image(raw / item.image_file)
        start = time.perf_counter()
        pred = adapter.predict(image)
        seconds.append(time.perf_counter() - start)
        for d in NOSE_DEFINITIONS:
            noses = pred.keypoints[:, nose_indices(adapter.schema, d)].mean(axis=1) if len(pred.keypoints) else []
            records[d].append({"image_file": item.image_file, "gt": json.loads(item.noses),
                               "pred": np.asarray(noses, dtype=np.float64).reshape(-1, 2).tolist()})
    return records, seconds


def evaluate(prepared: Path, raw: Path, metrics_path: Path, timing_path: Path, curves_path: Path,
             cfg: Part1Config, adapters: Adapters, source: str) -> dict:
    """Run every configured row and write metrics (scalars), timing and the per-threshold PCK curves (CSV)."""
    unknown = sorted(set(cfg.rows) - set(ROWS))
    if unknown:
        raise InputError(f"params.yaml: zeroshot.blog_part1.rows has unknown row(s) {', '.join(unknown)}")
    frames_path = prepared / FRAMES
    frames = select_frames(read_frames(prepared), cfg.n_frames, frames_path)
    thresholds = list(cfg.pck_thresholds_px)
    n_gt = int(frames["noses"].map(lambda s: len(json.loads(s))).sum())
    result = {"data": source, "protocol": "blog part 1", "n_frames": len(frames), "n_gt": n_gt,
              "match_cap_px": cfg.match_cap_px, "rows": {}}
    timing = {"data": source, "threads": adapters.threads, "timer": "model call per frame, construction excluded",
              "rows": {}}
    curves = []
    for row in cfg.rows:
        try:
            adapter = build(row, adapters, cfg, allow_download=source == "real")
        except WeightsUnavailable as err:
            print(f"blog part 1 {row}: {err}", file=sys.stderr)
            result["rows"][row] = {"label": LABELS[row], "status": str(err)}
            continue
        records, seconds = run_row(adapter, frames, raw, row)
        block = {"label": LABELS[row], "status": "ok"}
        for d, recs in records.items():
            block[f"{d}_nose"] = full_frame_metrics(recs, cfg.match_cap_px, thresholds)
            curves += [{"row": row, "nose": d, "threshold_px": t, "pck": block[f"{d}_nose"]["pck"][f"{t}px"]}
                       for t in thresholds]
        result["rows"][row] = block
        timing["rows"][row] = {"median_ms_per_frame": 1000 * statistics.median(seconds), "n_frames": len(seconds)}
    write_json(metrics_path, result)
    write_json(timing_path, timing, ndigits=2)
    write_text(curves_path, pd.DataFrame(curves, columns=["row", "nose", "threshold_px", "pck"])
               .to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    return result
