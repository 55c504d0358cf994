"""dlib-68's zero-shot row of the MLCM-KD Table I (metrics/mlcmkd/zeroshot-dlib68.json).

Its 68 points are the iBUG-68 schema the tests are labelled in. dlib's face detector runs on the crop and, where it
finds no face, the predictor gets the box the crop was cut from (the central 1/1.25 of the crop), so every image has a
prediction and misses are visible in `detection` (the share found by the detector). Also scored on the RGB twins
(dlib is an RGB model).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thermbench.core import nme
from thermbench.core.io import write_json
from thermbench.core.items import write_items
from thermbench.core.progress import progress
from thermbench.datasets.crop_store import Split, load_split
from thermbench.models.dlib68 import Dlib68
from thermbench.zeroshot.table1.common import CROP, fallback_box, gt, head, nme_cells, nme_items


@dataclass(frozen=True)
class Table1Config:
    detector: str          # hog | mmod
    upsample: int          # detector upsampling on the 256 px crops (0: faces of ~200 px need none)


def predict_split(model: Dlib68, split: Split, box_scale: float, bgr: bool, desc: str) -> tuple[np.ndarray, float]:
    """(N, 68, 2) predictions in the crops' original px and the detector's hit rate."""
    preds, hits = [], 0
    for image, scale in progress(zip(split.images, split.scale), desc, total=len(split.images), unit="img"):
        image = image[..., ::-1] if bgr else image   # the loader gives RGB; the adapter reads BGR
        boxes, _ = model.detect(image)
        hits += bool(len(boxes))
        box = boxes[0] if len(boxes) else fallback_box(image.shape[0], box_scale)
        preds.append(model.landmarks(image, box) * scale)
    return np.asarray(preds), hits / max(len(split.images), 1)


def evaluate(tfake: Path, charlotte: Path, metrics_path: Path, cfg: Table1Config, box_scales: tuple[float, float],
             data: dict[str, str], items_path: Path) -> dict:
    """dlib-68's row, and its per-image NMEs to `items_path` (`core.items`). `box_scales`: the crops' box padding
    of T-FAKE and CHARLOTTE (prepare.<dataset>.box_scale); `data`: their data.source (the metrics' label)."""
    model = Dlib68(cfg.detector, cfg.upsample)
    t_split = load_split(tfake, "test", CROP, all_labelled=True)
    t_pred, t_det = predict_split(model, t_split, box_scales[0], False, "dlib tfake thermal")
    r_split = load_split(tfake, "test", CROP, modality="rgb", all_labelled=True)
    r_pred, r_det = predict_split(model, r_split, box_scales[0], True, "dlib tfake rgb")
    c_split = load_split(charlotte, "test", CROP)
    c_pred, c_det = predict_split(model, c_split, box_scales[1], False, "dlib charlotte")
    result = {
        "data": data,
        **head("dlib68", "dlib-68 (iBUG 300-W)", cfg.detector, None),
        **nme_cells(t_pred, t_split, c_pred, c_split),
        "tfake_rgb": nme.summarize(nme.nme_io(r_pred, gt(r_split))),
        "detection": {"tfake": t_det, "tfake_rgb": r_det, "charlotte": c_det,
                      "fallback": "no face found: the predictor runs on the crop's own box"},
    }
    write_json(metrics_path, result)
    write_items(items_path, nme_items(t_pred, t_split, c_pred, c_split))
    return result
