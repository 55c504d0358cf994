"""COCO-WholeBody faces: the COCO-WholeBody annotation JSONs + COCO 2017 images -> 68-point RGB face crops.

Each COCO person annotation carries `face_kpts` (68 x (x, y, v), iBUG-68 order, schemas/ibug68.json), `face_box`
[x, y, w, h] (the tight box of the face points) and `face_valid`. The faces kept and their box follow MMPose's
reader (docs/sources.md): an instance is skipped when `face_valid` is false or no value of the
flat `face_kpts` is positive; the box is `face_box` clipped to [0, W-1] x [0, H-1]; a point is labelled when v > 0.
Points are continuous pixel coordinates, as COCO boxes are. The crop is the square of side max(w, h) x box_scale
about the box centre (MMPose pads the box x1.25 and squares it for a square input).

`complete_only` keeps only faces with all 68 points labelled: the teacher's crop cache treats every point of its
pretraining set as labelled (`mlcmkd.runs.cache_crops`), so a face with unlabelled points would train them at (0, 0).
Splits: the train JSON with train2017/ is train, the val JSON with val2017/ is val (COCO's own split).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from thermbench.core import crops
from thermbench.core.io import InputError, is_number
from thermbench.core.progress import progress
from thermbench.datasets.common import check_crop, points_json, read_image, write_png
from thermbench.datasets.prepared import RGB_COLUMNS, write_samples

# Download layout: MMPose's COCO layout (docs/sources.md).
LAYOUT = ("val2017/*.jpg", "train2017/*.jpg", "annotations/coco_wholebody_val_v1.0.json",
          "annotations/coco_wholebody_train_v1.0.json")
SPLITS = {"train": ("annotations/coco_wholebody_train_v1.0.json", "train2017"),
          "val": ("annotations/coco_wholebody_val_v1.0.json", "val2017")}


@dataclass(frozen=True)
class PrepareConfig:
    """params `prepare.cocowholebody`, checked before any stage runs (params_schema) and before a crop is cut."""

    box_scale: float
    crop_size: int
    complete_only: bool  # only faces with all 68 points labelled

    def __post_init__(self):
        check_crop("prepare.cocowholebody", self.box_scale, self.crop_size)


def read_faces(path: Path) -> list[dict]:
    """The faces MMPose keeps from one COCO-WholeBody JSON: {ann_id, file_name, kpts (68, 3), box (x0, y0, w, h)}."""
    if not path.is_file():
        raise InputError(f"{path}: annotation file not found")
    try:
        data = json.loads(path.read_text())
        images = {im["id"]: im for im in data["images"]}
        annotations = data["annotations"]
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"{path}: not a COCO annotation file with images and annotations ({err})") from None
    faces = []
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict) or "id" not in ann or "face_valid" not in ann:
            raise InputError(f"{path}: annotations[{i}] has no id or no face_valid (not COCO-WholeBody)")
        if not ann["face_valid"]:
            continue
        kpts, box = ann.get("face_kpts", []), ann.get("face_box", [])
        image = images.get(ann.get("image_id")) if isinstance(ann.get("image_id"), (int, str)) else None
        if (not isinstance(kpts, list) or len(kpts) != 68 * 3 or not all(map(is_number, kpts))
                or not isinstance(box, list) or len(box) != 4 or not all(map(is_number, box)) or image is None
                or not is_number(image.get("width")) or not is_number(image.get("height"))):
            raise InputError(f"{path}: annotation {ann['id']}: expected 68 x 3 numbers in face_kpts, 4 in face_box "
                             "and a listed image_id whose image has a width and a height")
        kpts = np.asarray(kpts, dtype=np.float64)
        if kpts.max() <= 0:
            continue
        x, y, w, h = ann["face_box"]
        x1 = np.clip([x, x + w], 0, image["width"] - 1)
        y1 = np.clip([y, y + h], 0, image["height"] - 1)
        kpts = kpts.reshape(68, 3)
        kpts[:, 2] = np.minimum(1.0, kpts[:, 2]) > 0
        faces.append({"ann_id": ann["id"], "file_name": image["file_name"], "kpts": kpts,
                      "box": np.array([x1[0], y1[0], x1[1] - x1[0], y1[1] - y1[0]])})
    return faces


def prepare(raw: Path, out: Path, cfg: dict) -> None:
    """Write crops_rgb/cw<annotation id>.png and samples.csv (68 points in crop px, flag = labelled) of both splits."""
    size = (cfg["crop_size"], cfg["crop_size"])
    rows, dropped = [], 0
    for split, (annotation_file, image_dir) in SPLITS.items():
        faces = read_faces(raw / annotation_file)
        complete = [f for f in faces if f["kpts"][:, 2].all()] if cfg["complete_only"] else faces
        dropped += len(faces) - len(complete)
        by_image: dict[str, list[dict]] = {}
        for face in complete:
            by_image.setdefault(face["file_name"], []).append(face)
        for file_name in progress(sorted(by_image), desc=f"cocowholebody {split}"):
            image = read_image(raw / image_dir / file_name, cv2.IMREAD_COLOR)
            for face in by_image[file_name]:
                x, y, w, h = face["box"]
                box = crops.square_box(np.array([[x, y], [x + w, y + h]]), cfg["box_scale"])
                sample_id = f"cw{face['ann_id']}"
                path = f"crops_rgb/{sample_id}.png"
                write_png(out / path, crops.crop(image, box, size))
                kpts = face["kpts"]
                local = np.where(kpts[:, 2:] > 0, crops.to_crop(kpts[:, :2], box, size), 0.0)
                rows.append({"sample_id": sample_id, "split": split, "image_file": f"{image_dir}/{file_name}",
                             "crop_path": path, "rgb_crop_path": path,
                             "kpts": points_json(np.column_stack([local, kpts[:, 2]])),
                             "box_x0": box[0], "box_y0": box[1], "box_w": box[2], "box_h": box[3]})
    if not rows:
        raise InputError(f"{raw}: no valid COCO-WholeBody face in either split")
    ids = [r["sample_id"] for r in rows]
    if len(set(ids)) != len(ids):
        raise InputError(f"{raw}: annotation ids repeat across the train and val JSONs")
    if dropped:
        print(f"cocowholebody: {dropped} valid faces with unlabelled points left out (complete_only)", file=sys.stderr)
    write_samples(rows, out, RGB_COLUMNS, ["sample_id"])
