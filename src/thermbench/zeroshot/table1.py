"""Zero-shot rows of the MLCM-KD Table I: T-FAKE-format thermal tests (NME-IO) and the CHARLOTTE-format subsets
(NME-diag), written in the schema of the MLCM-KD evaluate stage's metrics files (metrics/mlcmkd/zeroshot-<name>.json).

Each test image is the prepared 256x256 crop (a square 1.25x box about the landmarks, as every Table I model gets it).
- dlib-68: its 68 points are the iBUG-68 schema the tests are labelled in. dlib's face detector runs on the crop and,
  where it finds no face, the predictor gets the box the crop was cut from (the central 1/1.25 of the crop), so every
  image has a prediction and misses are visible in `detection` (the share found by the detector). Also scored on the
  RGB twins (dlib is an RGB model).
- TFAN: table1_tfan.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thermbench.core import nme
from thermbench.core.io import write_json
from thermbench.core.progress import progress
from thermbench.datasets.crop_store import Split, load_split
from thermbench.models.dlib68 import Dlib68

CROP = 256


@dataclass(frozen=True)
class Table1Config:
    detector: str          # hog | mmod
    upsample: int          # detector upsampling on the 256 px crops (0: faces of ~200 px need none)


def fallback_box(size: int, box_scale: float) -> np.ndarray:
    """The box a prepared crop was cut from: the central 1/box_scale square, (x0, y0, w, h) crop px."""
    side = size / box_scale
    return np.array([(size - side) / 2, (size - side) / 2, side, side])


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


def _gt(split: Split) -> np.ndarray:
    """Ground truth back in the crops' original px."""
    return split.kpts * split.scale[:, None, :]


def nme_cells(t_pred: np.ndarray, t_split: Split, c_pred: np.ndarray, c_split: Split) -> dict:
    """The Table I numbers of one model: T-FAKE NME-IO and the CHARLOTTE subsets' NME-diag (predictions in the
    crops' original px)."""
    return {"tfake": nme.summarize(nme.nme_io(t_pred, _gt(t_split))),
            "charlotte": nme.charlotte_subsets(nme.nme_diag(c_pred, _gt(c_split), c_split.visible),
                                                    c_split.meta)}


def head(name: str, arch: str, variant: str | None, complexity: dict | None) -> dict:
    """The MLCM-KD metrics fields of a zero-shot row (no teacher, no training)."""
    return {"model": f"zeroshot-{name}", "kind": "zeroshot", "variant": variant, "arch": arch, "teacher": None,
            "teacher_arch": None, "input_size": CROP, "epochs": None, "training": None, "complexity": complexity}


def evaluate(tfake: Path, charlotte: Path, metrics_path: Path, cfg: Table1Config, box_scales: tuple[float, float]
             ) -> dict:
    """dlib-68's row. `box_scales`: the crops' box padding of T-FAKE and CHARLOTTE (prepare.<dataset>.box_scale)."""
    model = Dlib68(cfg.detector, cfg.upsample)
    t_split = load_split(tfake, "test", CROP, all_labelled=True)
    t_pred, t_det = predict_split(model, t_split, box_scales[0], False, "dlib tfake thermal")
    r_split = load_split(tfake, "test", CROP, modality="rgb", all_labelled=True)
    r_pred, r_det = predict_split(model, r_split, box_scales[0], True, "dlib tfake rgb")
    c_split = load_split(charlotte, "test", CROP)
    c_pred, c_det = predict_split(model, c_split, box_scales[1], False, "dlib charlotte")
    result = {
        **head("dlib68", "dlib-68 (iBUG 300-W)", cfg.detector, None),
        **nme_cells(t_pred, t_split, c_pred, c_split),
        "tfake_rgb": nme.summarize(nme.nme_io(r_pred, _gt(r_split))),
        "detection": {"tfake": t_det, "tfake_rgb": r_det, "charlotte": c_det,
                      "fallback": "no face found: the predictor runs on the crop's own box"},
    }
    write_json(metrics_path, result)
    return result
