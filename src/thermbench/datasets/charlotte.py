"""CHARLOTTE-ThermalFace: S<k>.csv (72-point frontal / 43-point profile rows) + S<k>/<ID>.tiff -> 68-point crops.

Frames are 16-bit centikelvin; crops use the same 20-40 degC 8-bit window as the T-FAKE thermal images. All rows
are evaluation data (split = test). Subsets: view front|side and width group high|mean|low vs the median width.

View: a row is frontal when it has any point beyond the 43-point profile set (index >= 43), profile otherwise, so a
frontal row with missing points is never mapped with the profile table. Every x<i>/y<i> column is read (some
releases carry x72).

Width groups (the paper, after T-FAKE: "widths greater than, less than, and equal to the median of 200 pixels"):
the median is measured on the data, not assumed. The paper speaks of image widths (`width: frame`). CHARLOTTE's
frames come from one camera at 1-6.6 m, so if every frame shares one size that size cannot be what the median of
200 px describes, and the grouping would put every image in Mean: then the width of the face, the x-extent of the
annotated points in whole px, is used instead (one line says so; `width: face_box` asks for it directly). Widths
that still do not separate (all equal) are an error, never one silent group.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from thermbench.core import crops
from thermbench.core.io import InputError, is_number, read_csv
from thermbench.core.keypoints import load_schema
from thermbench.core.progress import progress
from thermbench.datasets.common import (
    celsius_from_centikelvin,
    check_choice,
    check_crop,
    points_json,
    read_image,
    write_png,
)
from thermbench.datasets.prepared import write_samples

# Download layout: globs that must each match something in the unpacked root (docs/sources.md, Datasets).
LAYOUT = ("S*.csv", "S*/*.tiff")
# The prepared contract's columns. kpts: JSON [[x, y, labelled] x 68] (unmapped points 0); view front|side;
# width_group high|mean|low
COLUMNS = ("sample_id", "split", "crop_path", "kpts", "view", "width_group", "subject", "box_x0", "box_y0", "box_w",
           "box_h")

N_POINTS, N_PROFILE = 72, 43
WIDTHS = ("frame", "face_box")  # what High/Mean/Low compare (module docstring)


@dataclass(frozen=True)
class PrepareConfig:
    """params `prepare.charlotte`, checked before any stage runs (params_schema) and before a crop is cut."""

    width: str                 # one of WIDTHS
    median_width: str | float  # "data" (the median of the widths) or a fixed px value
    window_c: tuple[float, float]  # the °C range mapped to gray 0..255
    box_scale: float
    crop_size: int

    def __post_init__(self):
        check_crop("prepare.charlotte", self.box_scale, self.crop_size)
        check_choice("prepare.charlotte.width", self.width, WIDTHS)
        median = self.median_width
        if median != "data" and not (is_number(median) and median > 0):
            raise InputError(f"params.yaml: 'prepare.charlotte.median_width' must be data or a width in px above 0, "
                             f"not {median!r}")
        window = self.window_c
        if len(window) != 2 or not all(map(is_number, window)) or not window[0] < window[1]:
            raise InputError(f"params.yaml: 'prepare.charlotte.window_c' must be [low, high] in °C with low < high, "
                             f"not {list(window)}")


def celsius_to_gray(celsius: np.ndarray, window: list[float]) -> np.ndarray:
    """Linear window [lo, hi] degC -> 0..255, clipped (the T-FAKE thermal encoding)."""
    lo, hi = window
    return np.clip(np.rint((celsius - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def read_centikelvin(path: Path) -> np.ndarray:
    """°C frame from a 16-bit TemperatureLinear tiff (centikelvin)."""
    raw = read_image(path, cv2.IMREAD_UNCHANGED)
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise InputError(f"{path}: expected a 16-bit single-channel tiff, got {raw.dtype} with shape {raw.shape}")
    return celsius_from_centikelvin(raw)


def read_points(table: pd.DataFrame, path: Path) -> np.ndarray:
    """(rows, N, 2) source points from every x<i>/y<i> column (N = highest index + 1, at least 72), NaN where
    absent; the 43 profile columns must be there, frontal ones (x43..) may be missing in profile-only files."""
    missing = [c for c in ["ID"] + [f"{a}{i}" for i in range(N_PROFILE) for a in "xy"] if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing[:5])}")
    indices = [int(m.group(2)) for c in table.columns if (m := re.fullmatch(r"([xy])(\d+)", str(c)))]
    points = np.full((len(table), max(N_POINTS, max(indices) + 1), 2), np.nan)
    for i in range(points.shape[1]):
        for axis, name in enumerate("xy"):
            if f"{name}{i}" in table.columns:
                cells = table[f"{name}{i}"]
                values = pd.to_numeric(cells, errors="coerce")  # an empty cell is NaN already: not annotated
                garbled = values.isna() & cells.notna()
                if garbled.any():
                    row = int(np.flatnonzero(garbled.to_numpy())[0])
                    raise InputError(f"{path}: row {table['ID'].iloc[row]}: {name}{i} is not a number "
                                     f"({cells.iloc[row]!r})")
                points[:, i, axis] = values.to_numpy()
    return points


def is_frontal(points: np.ndarray) -> bool:
    """Frontal = some point beyond the profile set's 43 is annotated (which indices, not how many)."""
    return bool(np.isfinite(points[N_PROFILE:]).all(axis=1).any())


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


def width_group(width: float, median: float) -> str:
    return "high" if width > median else "low" if width < median else "mean"


def face_width(points: np.ndarray) -> int:
    """The face's width: x-extent of the annotated points, in whole px (as an image width is)."""
    xs = points[np.isfinite(points).all(axis=1), 0]
    return int(round(xs.max() - xs.min()))


def width_groups(frame_widths: list[int], face_widths: list[int], measure: str, median: str | float,
                 where: Path) -> tuple[str, np.ndarray, float]:
    """(measure used, the widths, the threshold): `median` "data" = the median of the widths, or a fixed px value.
    Frame widths that are all one size fall back to face widths (one line on stderr); widths that put every image
    in one group are an InputError naming `where`."""
    check_choice("prepare.charlotte.width", measure, WIDTHS)
    widths = np.asarray(frame_widths if measure == "frame" else face_widths, dtype=np.float64)
    if measure == "frame" and len(widths) > 1 and np.ptp(widths) == 0:
        print(f"{where}: every frame is {widths[0]:g} px wide, so High/Mean/Low use the face width (x-extent of "
              "the annotated points) instead", file=sys.stderr)
        measure, widths = "face_box", np.asarray(face_widths, dtype=np.float64)
    threshold = float(np.median(widths)) if median == "data" else float(median)
    groups = {width_group(w, threshold) for w in widths}
    if len(widths) > 1 and len(groups) == 1:
        raise InputError(f"{where}: every image's {measure} width falls in '{groups.pop()}' against a median of "
                         f"{threshold:g} px (widths {widths.min():g}..{widths.max():g}); High/Mean/Low need widths "
                         "that differ")
    return measure, widths, threshold


def prepare(raw: Path, out: Path, cfg: dict, seed: int) -> None:
    """Write crops/<ID>.png and samples.csv (all rows split=test). `seed` is unused: there is no random split."""
    del seed
    csv_files = sorted(p for p in raw.glob("S*.csv") if re.fullmatch(r"S\d+\.csv", p.name))
    if not csv_files:
        raise InputError(f"{raw}: no S<k>.csv annotation files")
    size = (cfg["crop_size"], cfg["crop_size"])
    rows, face_widths = [], []
    for csv_path in csv_files:
        subject = csv_path.stem
        table = read_csv(csv_path, dtype={"ID": str})  # an ID is a file name: "0007" stays "0007"
        points = read_points(table, csv_path)
        for sample_id, pts in progress(zip(table["ID"].astype(str), points), desc=subject, total=len(table)):
            present = np.isfinite(pts).all(axis=1)
            front = is_frontal(pts)
            if not front and not _side_decidable(pts):
                raise InputError(f"{csv_path}: row {sample_id}: profile row lacks nose tip 18 or eye points 22-27")
            image_file = f"{subject}/{sample_id}.tiff"
            frame = celsius_to_gray(read_centikelvin(raw / image_file), cfg["window_c"])
            box = crops.square_box(pts[present], cfg["box_scale"])
            write_png(out / "crops" / f"{sample_id}.png", crops.crop(frame, box, size))
            kpts = to_ibug68(pts, front)
            visible = kpts[:, 2] > 0
            kpts[visible, :2] = crops.to_crop(kpts[visible, :2], box, size)
            annotated = crops.to_crop(pts[present], box, size)  # every annotated point, for the other NME box
            face_widths.append(face_width(pts))
            rows.append(
                {
                    "sample_id": sample_id,
                    "split": "test",
                    "image_file": image_file,
                    "crop_path": f"crops/{sample_id}.png",
                    "kpts": points_json(kpts),
                    "view": "front" if front else "side",
                    "image_width": frame.shape[1],
                    "face_width": face_widths[-1],
                    "diag_annotated_px": float(np.hypot(*np.ptp(annotated, axis=0))),
                    "subject": subject,
                    "box_x0": box[0], "box_y0": box[1], "box_w": box[2], "box_h": box[3],
                }
            )  # fmt: skip
    measure, widths, threshold = width_groups([r["image_width"] for r in rows], face_widths, cfg["width"],
                                              cfg["median_width"], raw)
    for row, width in zip(rows, widths):
        row.update(width_measure=measure, width_px=width, width_threshold_px=threshold,
                   width_group=width_group(width, threshold))
    table = write_samples(rows, out, COLUMNS, ["subject", "sample_id"])
    if table["sample_id"].duplicated().any():
        raise InputError(f"{raw}: duplicate image IDs across S<k>.csv files")
