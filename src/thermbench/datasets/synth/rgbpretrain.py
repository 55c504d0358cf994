"""An RGB-only face set for pretraining the MLCM-KD teacher, written directly in the prepared contract.

The paper pretrains its RGB teacher on separate RGB data (COCO-WholeBody + 300W) before distilling; offline, this
set plays that role: more faces than the T-FAKE-format set, drawn by the same world (identity, expression, pose,
background) on its own seed stream, RGB only. With real data the teacher starts from an official checkpoint
(`rtmpose.teacher_init`) instead. Output: `samples.csv` (sample_id, split, crop_path = rgb_crop_path, kpts: 68
iBUG points in crop px with flag 1) and `crops_rgb/<id>.png`, square crops about the landmark box as T-FAKE's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from thermbench.core import crops
from thermbench.core.io import InputError, atomic_dir
from thermbench.core.parallel import ordered_map
from thermbench.datasets.common import points_json, write_png
from thermbench.datasets.prepared import RGB_COLUMNS, write_samples
from thermbench.datasets.synth import scene
from thermbench.datasets.synth.person import centred_face

DATASET_CODE = 4


@dataclass(frozen=True)
class RGBPretrainConfig:
    num_images: int
    image_size: int  # square render, px (small: the crops are resized to the model input)
    face_width_px: tuple  # frontal face width range in the render, px
    max_pose: tuple  # |yaw|, |pitch|, |roll| limits, degrees (T-FAKE's)
    val_fraction: float  # the rest is train (the teacher is tested on T-FAKE's RGB test)
    crop_size: int
    box_scale: float


def write(out: Path, cfg: RGBPretrainConfig, seed: int, workers: int | None = None) -> None:
    """Render `cfg.num_images` faces and write the prepared set into `out` (replaced atomically), on `workers`
    processes (None = every core; the files do not depend on it)."""
    if cfg.num_images < 2 or not 0 < cfg.val_fraction < 1:
        raise InputError("params.yaml: synth.rgbpretrain needs num_images >= 2 and 0 < val_fraction < 1")
    with atomic_dir(out) as tmp:
        one = partial(_write_face, out=tmp, cfg=cfg, seed=seed)
        rows = list(ordered_map(one, range(cfg.num_images), "synth rgbpretrain", workers))
        write_samples(rows, tmp, RGB_COLUMNS, ["sample_id"])


def _write_face(i: int, out: Path, cfg: RGBPretrainConfig, seed: int) -> dict:
    """Face `i` (drawn from its own seed) rendered, cropped and written; its samples row."""
    size, crop = cfg.image_size, (cfg.crop_size, cfg.crop_size)
    n_val = max(1, round(cfg.num_images * cfg.val_fraction))
    rng = np.random.default_rng([seed, DATASET_CODE, i])
    *_, shot = centred_face(rng, size, cfg.face_width_px, cfg.max_pose)
    rgb, _ = scene.composite(shot.render, scene.rgb_background(rng, (size, size)),
                             np.zeros((size, size), np.float32))
    rgb = cv2.GaussianBlur(rgb, (0, 0), 0.6)  # camera softness, as the T-FAKE writer
    image = cv2.cvtColor(np.round(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    points = shot.points70[:68]
    box = crops.square_box(points, cfg.box_scale)
    sample_id = f"rp{i:06d}"
    path = f"crops_rgb/{sample_id}.png"
    write_png(out / path, crops.crop(image, box, crop))
    local = crops.to_crop(points, box, crop)
    return {"sample_id": sample_id, "split": "val" if i < n_val else "train", "crop_path": path,
            "rgb_crop_path": path, "kpts": points_json(np.column_stack([local, np.ones(68)]))}
