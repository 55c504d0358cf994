"""What every zero-shot Table I row shares: the prepared 256x256 crop each test image is (a square box_scale x box
about the landmarks, as every Table I model gets it), the box that crop was cut from, the NME cells and the row head."""

from __future__ import annotations

import numpy as np

from thermbench.core import nme
from thermbench.datasets.crop_store import Split

CROP = 256


def fallback_box(size: int, box_scale: float) -> np.ndarray:
    """The box a prepared crop was cut from: the central 1/box_scale square, (x0, y0, w, h) crop px."""
    side = size / box_scale
    return np.array([(size - side) / 2, (size - side) / 2, side, side])


def gt(split: Split) -> np.ndarray:
    """Ground truth back in the crops' original px."""
    return split.kpts * split.scale[:, None, :]


def nme_cells(t_pred: np.ndarray, t_split: Split, c_pred: np.ndarray, c_split: Split) -> dict:
    """The Table I numbers of one model: T-FAKE NME-IO and the CHARLOTTE subsets' NME-diag (predictions in the
    crops' original px)."""
    return {"tfake": nme.summarize(nme.nme_io(t_pred, gt(t_split))),
            "charlotte": nme.charlotte_subsets(nme.nme_diag(c_pred, gt(c_split), c_split.visible),
                                                    c_split.meta)}


def nme_items(t_pred: np.ndarray, t_split: Split, c_pred: np.ndarray, c_split: Split) -> dict:
    """The per-image NMEs behind `nme_cells` (T-FAKE NME-IO, CHARLOTTE Full NME-diag) by sample id, as
    `core.items` writes them."""
    return {"tfake": (t_split.meta["sample_id"].astype(str).tolist(), nme.nme_io(t_pred, gt(t_split))),
            "charlotte": (c_split.meta["sample_id"].astype(str).tolist(),
                          nme.nme_diag(c_pred, gt(c_split), c_split.visible))}


def head(name: str, arch: str, variant: str | None, complexity: dict | None) -> dict:
    """The MLCM-KD metrics fields of a zero-shot row (no teacher, no training)."""
    return {"model": f"zeroshot-{name}", "kind": "zeroshot", "variant": variant, "arch": arch, "teacher": None,
            "teacher_arch": None, "input_size": CROP, "epochs": None, "training": None, "complexity": complexity}
