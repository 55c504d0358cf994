"""CHARLOTTE-ThermalFace: S<k>.csv (72-point frontal / 43-point profile rows) + S<k>/<ID>.tiff -> 68-point crops.

Frames are 16-bit centikelvin; crops use the same 20-40 degC 8-bit window as the T-FAKE thermal images. All rows
are evaluation data (split = test). Subsets: view front|side and width group high|mean|low vs the median width.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from thermbench.core import crops
from thermbench.core.io import InputError
from thermbench.core.keypoints import load_schema
from thermbench.core.progress import progress
from thermbench.datasets.common import points_json, read_image, write_png
from thermbench.datasets.prepared import write_samples

N_POINTS, N_PROFILE = 72, 43


def celsius_to_gray(celsius: np.ndarray, window: list[float]) -> np.ndarray:
    """Linear window [lo, hi] degC -> 0..255, clipped (the T-FAKE thermal encoding)."""
    lo, hi = window
    return np.clip(np.rint((celsius - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def read_centikelvin(path: Path) -> np.ndarray:
    """degC frame from a 16-bit TemperatureLinear tiff (raw / 100 - 273.15)."""
    raw = read_image(path, cv2.IMREAD_UNCHANGED)
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise InputError(f"{path}: expected a 16-bit single-channel tiff, got {raw.dtype} with shape {raw.shape}")
    return raw.astype(np.float64) / 100.0 - 273.15


def read_points(table: pd.DataFrame, path: Path) -> np.ndarray:
    """(rows, 72, 2) source points, NaN where absent; columns x43..x71 may be missing in profile-only files."""
    missing = [c for c in ["ID"] + [f"{a}{i}" for i in range(N_PROFILE) for a in "xy"] if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing[:5])}")
    points = np.full((len(table), N_POINTS, 2), np.nan)
    for i in range(N_POINTS):
        for axis, name in enumerate("xy"):
            if f"{name}{i}" in table.columns:
                points[:, i, axis] = pd.to_numeric(table[f"{name}{i}"], errors="coerce").to_numpy()
    return points


def to_ibug68(points: np.ndarray, front: bool) -> np.ndarray:
    """(68, 3) [x, y, visible] from 72 frontal or 43 profile source points; unmapped or absent -> [0, 0, 0]."""
    out = np.zeros((68, 3))
    if front:
        pairs = list(enumerate(load_schema("charlotte72_to_ibug68")["index"]))
    else:
        table = load_schema("charlotte43_to_ibug68")
        flip = {a: b for pair in load_schema("ibug68")["flip_pairs"] for a, b in (pair, pair[::-1])}
        left_visible = points[table["nose_tip"], 0] < np.nanmean(points[table["eye_points"], 0])
        pairs = [
            (target if left_visible else flip.get(target, target), source)
            for source, target in enumerate(table["profile_to_ibug68_left"])
            if target is not None
        ]
    for target, source in pairs:
        if np.isfinite(points[source]).all():
            out[target] = [*points[source], 1.0]
    return out


def _side_decidable(points: np.ndarray) -> bool:
    table = load_schema("charlotte43_to_ibug68")
    return bool(np.isfinite(points[table["nose_tip"], 0]) and np.isfinite(points[table["eye_points"], 0]).any())


def width_group(width: int, median: float) -> str:
    return "high" if width > median else "low" if width < median else "mean"


def prepare(raw: Path, out: Path, cfg: dict, seed: int) -> None:
    """Write crops/<ID>.png and samples.csv (all rows split=test). `seed` is unused: there is no random split."""
    del seed
    csv_files = sorted(p for p in raw.glob("S*.csv") if re.fullmatch(r"S\d+\.csv", p.name))
    if not csv_files:
        raise InputError(f"{raw}: no S<k>.csv annotation files")
    size = (cfg["crop_size"], cfg["crop_size"])
    rows = []
    for csv_path in csv_files:
        subject = csv_path.stem
        try:
            table = pd.read_csv(csv_path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise InputError(f"{csv_path}: not a readable CSV ({err})") from None
        points = read_points(table, csv_path)
        for sample_id, pts in progress(zip(table["ID"].astype(str), points), desc=subject, total=len(table)):
            present = np.isfinite(pts).all(axis=1)
            front = present.sum() >= cfg["front_min_points"]
            if not front and not _side_decidable(pts):
                raise InputError(f"{csv_path}: row {sample_id}: profile row lacks nose tip 18 or eye points 22-27")
            image_file = f"{subject}/{sample_id}.tiff"
            frame = celsius_to_gray(read_centikelvin(raw / image_file), cfg["window_c"])
            box = crops.square_box(pts[present], cfg["box_scale"])
            write_png(out / "crops" / f"{sample_id}.png", crops.crop(frame, box, size))
            kpts = to_ibug68(pts, front)
            visible = kpts[:, 2] > 0
            kpts[visible, :2] = crops.to_crop(kpts[visible, :2], box, size)
            rows.append(
                {
                    "sample_id": sample_id,
                    "split": "test",
                    "image_file": image_file,
                    "crop_path": f"crops/{sample_id}.png",
                    "kpts": points_json(kpts),
                    "view": "front" if front else "side",
                    "width_group": width_group(frame.shape[1], cfg["median_width"]),
                    "image_width": frame.shape[1],
                    "subject": subject,
                    "box_x0": box[0], "box_y0": box[1], "box_w": box[2], "box_h": box[3],
                }
            )  # fmt: skip
    table = write_samples(rows, out, "charlotte", ["subject", "sample_id"])
    if table["sample_id"].duplicated().any():
        raise InputError(f"{raw}: duplicate image IDs across S<k>.csv files")
