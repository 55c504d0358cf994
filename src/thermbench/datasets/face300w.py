"""300W: iBUG's part folders of images + `.pts` files (68 points, iBUG-68 order) -> 68-point RGB face crops.

A `.pts` file is `version: 1`, `n_points: 68`, `{`, 68 "x y" lines, `}`; every file describes one face of the image
with the same stem beside it (.jpg or .png). Coordinates: no official statement was found; menpo, from the 300W
authors' group, reads them as 1-based pixel indices (docs/sources.md). `pts_origin` is the
value the files give the centre of the first pixel (1 in that reading), so a point maps to continuous pixel
coordinates (pixel i covers [i, i+1)) as x - pts_origin + 0.5. Every point is labelled.

Split (the common one): AFW, HELEN train and LFPW train are train; HELEN test, LFPW test and iBUG (the common and
challenging sets, "full") are val. The crop is the square of side max(w, h) x box_scale about the points' box centre
(MMPose's 300W boxes come from its own JSON, which the iBUG release does not have).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from thermbench.core import crops
from thermbench.core.io import InputError
from thermbench.core.progress import progress
from thermbench.datasets.common import check_crop, points_json, read_image, write_png
from thermbench.datasets.prepared import RGB_COLUMNS, write_samples

# Download layout: iBUG's 300W zips, one folder each (their folder names are our assumption), train parts first,
# then the common and challenging parts.
LAYOUT = ("afw/*.pts", "helen/trainset/*.pts", "lfpw/trainset/*.pts", "helen/testset/*.pts", "lfpw/testset/*.pts",
          "ibug/*.pts")
PARTS = {"train": ("afw", "helen/trainset", "lfpw/trainset"), "val": ("helen/testset", "lfpw/testset", "ibug")}
N_POINTS = 68


@dataclass(frozen=True)
class PrepareConfig:
    """params `prepare.300w`, checked before any stage runs (params_schema) and before a crop is cut."""

    pts_origin: float  # the .pts value of the first pixel's centre
    box_scale: float
    crop_size: int

    def __post_init__(self):
        check_crop("prepare.300w", self.box_scale, self.crop_size)


def read_pts(path: Path) -> np.ndarray:
    """(68, 2) array as the file gives it, or one clear error naming the file and what is wrong."""
    try:
        lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    header = [line.replace(" ", "") for line in lines[:3]]
    if header != ["version:1", f"n_points:{N_POINTS}", "{"] or len(lines) != N_POINTS + 4 or lines[-1] != "}":
        raise InputError(f"{path}: not a 68-point .pts file (version: 1 / n_points: 68 / {{ 68 'x y' lines }})")
    try:
        points = np.array([[float(v) for v in line.split()] for line in lines[3:-1]], dtype=np.float64)
    except ValueError:
        points = np.empty(0)
    if points.shape != (N_POINTS, 2) or not np.isfinite(points).all():
        raise InputError(f"{path}: expected 68 lines of two finite numbers between the braces")
    return points


def image_beside(pts: Path) -> Path:
    for suffix in (".jpg", ".png"):
        if pts.with_suffix(suffix).is_file():
            return pts.with_suffix(suffix)
    raise InputError(f"{pts}: no image with the same name (.jpg or .png) beside it")


def prepare(raw: Path, out: Path, cfg: dict) -> None:
    """Write crops_rgb/w3_<part>_<stem>.png and samples.csv (68 points in crop px, flag 1) of both splits."""
    size = (cfg["crop_size"], cfg["crop_size"])
    rows = []
    for split, parts in PARTS.items():
        for part in parts:
            files = sorted((raw / part).glob("*.pts"))
            if not files:
                raise InputError(f"{raw / part}: no .pts files (300W part '{part}' missing)")
            for pts in progress(files, desc=f"300w {part}"):
                points = read_pts(pts) - cfg["pts_origin"] + 0.5
                image = read_image(image_beside(pts), cv2.IMREAD_COLOR)
                box = crops.square_box(points, cfg["box_scale"])
                sample_id = f"w3_{part.replace('/', '_')}_{pts.stem}"
                path = f"crops_rgb/{sample_id}.png"
                write_png(out / path, crops.crop(image, box, size))
                local = crops.to_crop(points, box, size)
                rows.append({"sample_id": sample_id, "split": split,
                             "image_file": image_beside(pts).relative_to(raw).as_posix(),
                             "crop_path": path, "rgb_crop_path": path,
                             "kpts": points_json(np.column_stack([local, np.ones(N_POINTS)])),
                             "box_x0": box[0], "box_y0": box[1], "box_w": box[2], "box_h": box[3]})
    write_samples(rows, out, RGB_COLUMNS, ["sample_id"])
