"""T-FAKE: FaceSynthetics folder (<id>.png RGB, <id>_ldmks.txt 70 points) + thermal twin -> paired square face crops.

The 70 FaceSynthetics points are iBUG-68 followed by the two pupil centres; the pupils are kept aside. The thermal
folder name is a parameter because the real T-FAKE archive layout is not documented (docs/sources.md, Datasets).

Conditions: T-FAKE is released as a warm and a cold thermal set of the same FaceSynthetics renders (the paper's
200,000 pairs = 2 x 100,000). `prepare.tfake.conditions` lists those used; each is a folder
`<thermal_dir>/<condition>/<id>.png`, and each becomes its own sample (`tf<id>_<condition>`) with the same RGB
twin. Splits are drawn by FaceSynthetics id, so both conditions of an identity fall in the same split. A
`<thermal_dir>` that holds `<id>.png` directly (one thermal set, as the synthetic world writes) is one condition
named after the folder, and one line says so where conditions were asked for.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from thermbench.core import crops
from thermbench.core.io import InputError
from thermbench.core.progress import progress
from thermbench.datasets.common import check_crop, points_json, read_image, write_png
from thermbench.datasets.prepared import stream_samples

# Download layout: globs that must each match something in the unpacked root (docs/sources.md; thermal/ is our
# assumption: thermal/<id>.png or thermal/<condition>/<id>.png).
LAYOUT = ("*_ldmks.txt", "*.png", "thermal/**/*.png")
# The prepared contract's columns. kpts: JSON [[x, y, flag] x 68] in crop px; rgb_crop_path: the RGB twin's crop
COLUMNS = ("sample_id", "split", "crop_path", "rgb_crop_path", "kpts", "box_x0", "box_y0", "box_w", "box_h")
LDMKS_SUFFIX = "_ldmks.txt"


@dataclass(frozen=True)
class PrepareConfig:
    """params `prepare.tfake`, checked before any stage runs (params_schema) and before a crop is cut."""

    thermal_dir: str
    conditions: tuple[str, ...]
    split: dict[str, float]  # train, val: fractions of the ids; test: the rest
    box_scale: float
    crop_size: int

    def __post_init__(self):
        check_crop("prepare.tfake", self.box_scale, self.crop_size)
        if not self.thermal_dir:
            raise InputError("params.yaml: 'prepare.tfake.thermal_dir' must name the folder of the thermal images")
        if not self.conditions or not all(isinstance(c, str) and c for c in self.conditions):
            raise InputError(f"params.yaml: 'prepare.tfake.conditions' must list thermal set names, not "
                             f"{list(self.conditions)}")
        split = self.split
        if (not isinstance(split, dict) or set(split) != {"train", "val"} or min(split.values()) < 0
                or split["train"] + split["val"] > 1):
            raise InputError(f"params.yaml: 'prepare.tfake.split' must give train and val, fractions of at least 0 "
                             f"adding to at most 1, not {split!r}")


def read_landmarks(path: Path) -> np.ndarray:
    """(70, 2) array from a FaceSynthetics landmark file, one "x y" row per point."""
    if not path.is_file():
        raise InputError(f"{path}: landmark file missing")
    try:
        points = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise InputError(f"{path}: not a table of 'x y' rows ({err})") from None
    if points.shape != (70, 2) or not np.isfinite(points).all():
        raise InputError(f"{path}: expected 70 finite 'x y' rows, got shape {points.shape}")
    return points


def assign_splits(ids: list[str], fractions: dict, seed: int) -> dict[str, str]:
    """Seeded shuffle of the sorted ids: the first `train` fraction, then `val`; the rest is test."""
    n = len(ids)
    n_train, n_val = round(n * fractions["train"]), round(n * fractions["val"])
    order = np.random.default_rng(seed).permutation(n)
    names = ["train"] * n_train + ["val"] * n_val + ["test"] * (n - n_train - n_val)
    return {ids[i]: names[rank] for rank, i in enumerate(order)}


def thermal_folders(raw: Path, thermal_dir: str, conditions: list[str]) -> dict[str, str]:
    """{condition: folder relative to `raw`} as the data lays them out (module docstring); a layout that does not
    fit `conditions` is an InputError naming the folder."""
    root = raw / thermal_dir
    present = [c for c in conditions if (root / c).is_dir()]
    if present:
        missing = [c for c in conditions if c not in present]
        if missing:
            raise InputError(f"{root}: no {', '.join(missing)}/ folder beside {', '.join(present)}/ "
                             f"(prepare.tfake.conditions lists {', '.join(conditions)})")
        return {c: f"{thermal_dir}/{c}" for c in conditions}
    if next(root.glob("*.png"), None) is None:
        found = sorted(f"{p.name}/" for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise InputError(f"{root}: neither condition folders ({', '.join(conditions) or 'none listed'}) nor "
                         f"<id>.png thermal images" + (f"; it holds {', '.join(found)}" if found else ""))
    if conditions:
        print(f"{root}: one thermal set of <id>.png, not {'/ and '.join(conditions)}/ folders: used as one "
              f"condition, '{thermal_dir}'", file=sys.stderr)
    return {thermal_dir: thermal_dir}


def prepare(raw: Path, out: Path, cfg: dict, seed: int) -> None:
    """Write thermal crops (crops/), RGB crops (crops_rgb/) and samples.csv with 68 points + pupils in crop pixels,
    one row per FaceSynthetics id and thermal condition."""
    ids = sorted(p.name[: -len(LDMKS_SUFFIX)] for p in raw.glob(f"*{LDMKS_SUFFIX}"))
    if not ids:
        raise InputError(f"{raw}: no *{LDMKS_SUFFIX} files (expected a FaceSynthetics-style folder)")
    if cfg["split"]["train"] + cfg["split"]["val"] > 1:
        raise InputError("params.yaml: prepare.tfake.split train + val must not exceed 1")
    folders = thermal_folders(raw, cfg["thermal_dir"], list(cfg["conditions"]))
    splits = assign_splits(ids, cfg["split"], seed)  # by id: every condition of an identity in one split
    size = (cfg["crop_size"], cfg["crop_size"])
    # Rows are written as they come, in samples.csv's order (by sample_id), so no table of the set is held.
    samples = sorted((f"tf{file_id}" if len(folders) == 1 else f"tf{file_id}_{condition}", file_id, condition)
                     for file_id in ids for condition in folders)
    pending = {}  # file id -> [its crop box, its points in the crop, conditions still to write]
    with stream_samples(out, COLUMNS, ["sample_id"]) as add:
        for sample_id, file_id, condition in progress(samples, desc="tfake"):
            if file_id not in pending:
                points = read_landmarks(raw / f"{file_id}{LDMKS_SUFFIX}")
                box = crops.square_box(points[:68], cfg["box_scale"])
                write_png(out / f"crops_rgb/tf{file_id}.png",
                          crops.crop(read_image(raw / f"{file_id}.png", cv2.IMREAD_COLOR), box, size))
                pending[file_id] = [box, crops.to_crop(points, box, size), len(folders)]
            entry = pending[file_id]
            box, local = entry[0], entry[1]
            entry[2] -= 1
            if not entry[2]:
                del pending[file_id]
            thermal_file = f"{folders[condition]}/{file_id}.png"
            write_png(out / "crops" / f"{sample_id}.png", crops.crop(read_image(raw / thermal_file), box, size))
            add(
                {
                    "sample_id": sample_id,
                    "split": splits[file_id],
                    "condition": condition,
                    "image_file": thermal_file,
                    "rgb_file": f"{file_id}.png",
                    "crop_path": f"crops/{sample_id}.png",
                    "rgb_crop_path": f"crops_rgb/tf{file_id}.png",  # a prefix keeps the id a string in the CSV
                    # FaceSynthetics points are projections of mesh vertices, so every point counts as visible.
                    "kpts": points_json(np.column_stack([local[:68], np.ones(68)])),
                    "pupils": points_json(local[68:]),
                    "box_x0": box[0], "box_y0": box[1], "box_w": box[2], "box_h": box[3],
                }
            )  # fmt: skip
