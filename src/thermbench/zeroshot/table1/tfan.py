"""TFAN's zero-shot row of the MLCM-KD Table I (metrics/mlcmkd/zeroshot-tfan.json).

The 70-point TFAN only: its points 0-67 are the iBUG-68 schema the tests are labelled in (facesynthetics70.json);
the pupils 68/69 are dropped. Each prepared 256x256 crop goes in with the box it was cut from (the central
1/box_scale square, dlib's fallback box), since the package's TFW face detector is not installed; TFAN then cuts its
own 1.25x square about that box. Thermal tests only (T-FAKE thermal, CHARLOTTE): it is a thermal model, so no RGB
column. Without its weights the stage prints one line and the row holds only that status, which the report shows in
place of numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from thermbench.core.io import InputError, write_json
from thermbench.core.items import write_items
from thermbench.core.progress import progress
from thermbench.datasets.crop_store import Split, load_split
from thermbench.models.tfan import count_parameters
from thermbench.models.tfan_landmarker import TFANLandmarker, ibug68_points
from thermbench.models.weights import WeightsUnavailable
from thermbench.zeroshot.table1.common import CROP, fallback_box, head, nme_cells, nme_items

ARCH = "TFAN (T-FAKE authors' MobileNetV2 landmarker, FaceSynthetics 70 points)"
BOXES = "every crop's own box (the package's face detector is not installed)"


def predict_split(model: TFANLandmarker, split: Split, box_scale: float, desc: str) -> np.ndarray:
    """(N, 68, 2) iBUG-68 predictions in the crops' original px."""
    preds = []
    for image, scale in progress(zip(split.images, split.scale), desc, total=len(split.images), unit="img"):
        x, y, w, h = fallback_box(image.shape[0], box_scale)
        points, _ = model.landmarks(image, [[x, y, x + w, y + h]])
        preds.append(ibug68_points(points[0]) * scale)
    return np.asarray(preds)


def evaluate(tfake: Path, charlotte: Path, metrics_path: Path, cfg: dict, box_scales: tuple[float, float],
             threads: int, device: str, data: dict[str, str], items_path: Path) -> dict:
    """`cfg`: params zeroshot.tfan; `box_scales`: prepare.<tfake, charlotte>.box_scale; `data`: data.source of
    T-FAKE and CHARLOTTE (the metrics' label); the per-image NMEs go to `items_path` (`core.items`; no rows without
    the weights)."""
    if int(cfg["n_landmarks"]) != 70:
        raise InputError(f"params.yaml: zeroshot.tfan.n_landmarks is {cfg['n_landmarks']}; Table I scores iBUG-68 "
                         "points, which only the 70-point TFAN gives (its points 0-67)")
    torch.set_num_threads(threads)
    try:
        model = TFANLandmarker.from_params(cfg, device=device)
    except WeightsUnavailable as err:
        print(f"zeroshot_table1@tfan: {err}", file=sys.stderr)
        result = {"data": data, **head("tfan", ARCH, cfg["mode"], None), "status": str(err)}
        write_json(metrics_path, result)
        write_items(items_path, {})
        return result
    t_split = load_split(tfake, "test", CROP, all_labelled=True)
    c_split = load_split(charlotte, "test", CROP)
    t_pred = predict_split(model, t_split, box_scales[0], "tfan tfake thermal")
    c_pred = predict_split(model, c_split, box_scales[1], "tfan charlotte")
    result = {"data": data, **head("tfan", ARCH, cfg["mode"], {"params_m": count_parameters(model.model) / 1e6}),
              "status": "ok",
              **nme_cells(t_pred, t_split, c_pred, c_split), "boxes": BOXES}
    write_json(metrics_path, result)
    write_items(items_path, nme_items(t_pred, t_split, c_pred, c_split))
    return result
