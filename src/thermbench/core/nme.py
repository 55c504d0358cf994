"""68-point NME scoring in the paper's protocol (design §5): NME-IO on T-FAKE, NME-diag on the CHARLOTTE subsets,
failure rate and AUC of the cumulative error curve (a NaN NME counts as a failure). Pure numpy on predictions and
ground truth in crop pixels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from thermbench.core.keypoints import load_schema
from thermbench.core.metrics import point_errors

THRESHOLD = 0.1


def nme(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None, norm: np.ndarray) -> np.ndarray:
    """Normalised mean error per image: mean over visible points of |pred - gt| / norm.

    pred, gt (B,K,2); visible (B,K) bool/0-1 or None (all visible); norm (B,).
    An image with no visible point gets NaN; a NaN prediction at a visible point makes that image NaN.
    """
    err = point_errors(pred, gt)
    vis = np.ones(err.shape, dtype=bool) if visible is None else np.asarray(visible).astype(bool)
    count = vis.sum(axis=-1)
    total = np.where(vis, err, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        return mean / np.asarray(norm, dtype=np.float64)


def interocular_distance(gt: np.ndarray) -> np.ndarray:
    """Outer-eye-corner distance of iBUG-68 points (indices 36 and 45): (B,68,2) -> (B,)."""
    gt = np.asarray(gt, dtype=np.float64)
    return np.linalg.norm(gt[:, 36] - gt[:, 45], axis=-1)


def bbox_diagonal(gt: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """Diagonal of the bounding box of the visible GT points: (B,K,2) -> (B,); NaN if none visible."""
    gt = np.asarray(gt, dtype=np.float64)
    vis = np.ones(gt.shape[:2], dtype=bool) if visible is None else np.asarray(visible).astype(bool)
    hi = np.where(vis[..., None], gt, -np.inf).max(axis=1)
    lo = np.where(vis[..., None], gt, np.inf).min(axis=1)
    size = np.where(vis.any(axis=1)[:, None], hi - lo, np.nan)
    return np.linalg.norm(size, axis=-1)


def failure_rate(nmes: np.ndarray, threshold: float = 0.1) -> float:
    """Fraction of images with NME > threshold (NaN counts as a failure)."""
    nmes = np.asarray(nmes, dtype=np.float64)
    return float(np.mean(~(np.nan_to_num(nmes, nan=np.inf) <= threshold))) if nmes.size else float("nan")


def auc_ced(nmes: np.ndarray, threshold: float = 0.1) -> float:
    """Area under the cumulative error curve on [0, threshold], divided by threshold (1.0 = all errors zero).

    Computed exactly: the integral of the step function 1[e <= x] over [0, T] is max(T - e, 0).
    """
    nmes = np.asarray(nmes, dtype=np.float64)
    if not nmes.size:
        return float("nan")
    area = np.clip(threshold - np.nan_to_num(nmes, nan=np.inf), 0.0, None)
    return float(area.mean() / threshold)


def ced_curve(nmes: np.ndarray, threshold: float = 0.1, steps: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution: x = `steps` values on [0, threshold], y = fraction of images with NME <= x."""
    nmes = np.nan_to_num(np.asarray(nmes, dtype=np.float64), nan=np.inf)
    x = np.linspace(0.0, threshold, steps)
    y = (nmes[None, :] <= x[:, None]).mean(axis=1) if nmes.size else np.full(steps, np.nan)
    return x, y


# CHARLOTTE subsets of the paper's Table I, as masks over the prepared samples table.
CHARLOTTE_SUBSETS = {
    "high": lambda df: df["width_group"] == "high",
    "mean": lambda df: df["width_group"] == "mean",
    "low": lambda df: df["width_group"] == "low",
    "front": lambda df: df["view"] == "front",
    "side": lambda df: df["view"] == "side",
    "full": lambda df: np.ones(len(df), dtype=bool),
}


def summarize(nmes: np.ndarray, threshold: float = THRESHOLD) -> dict:
    """Mean NME, failure rate and AUC of the cumulative error curve at `threshold`, and the image count."""
    nmes = np.asarray(nmes, dtype=np.float64)
    return {
        "nme": float(np.nanmean(nmes)) if np.isfinite(nmes).any() else float("nan"),
        f"fr@{threshold:g}": failure_rate(nmes, threshold),
        f"auc@{threshold:g}": auc_ced(nmes, threshold),
        "n": int(nmes.size),
    }


def nme_io(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """Per-image NME normalised by the outer-eye-corner distance (points 36, 45)."""
    return nme(pred, gt, visible, interocular_distance(gt))


def mean_shape_nme(train_kpts: np.ndarray, kpts: np.ndarray) -> np.ndarray:
    """Per-image NME-IO of the no-model baseline: every image gets the mean landmarks of the training crops (crop
    px). The crops are boxes about the landmarks, so this is the mean-shape plateau a student starts out on: a model
    no better than it has not yet used the image."""
    pred = np.broadcast_to(np.asarray(train_kpts, dtype=np.float64).mean(axis=0), np.shape(kpts))
    return nme_io(pred, np.asarray(kpts, dtype=np.float64))


def nme_diag(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Per-image NME over the labelled points, normalised by the diagonal of their bounding box."""
    return nme(pred, gt, visible, bbox_diagonal(gt, visible))


def charlotte_subsets(nmes: np.ndarray, meta: pd.DataFrame) -> dict:
    """NME-diag summaries per CHARLOTTE subset. Only labelled points count, so Side uses its profile points mapped to
    iBUG-68."""
    return {name: summarize(nmes[np.asarray(mask(meta), dtype=bool)]) for name, mask in CHARLOTTE_SUBSETS.items()}


def charlotte_checks(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray, meta: pd.DataFrame) -> dict:
    """What the paper leaves open, measured: the NME box (`annotated`: the diagonal of every annotated point's box,
    72/73 frontal or 43 profile points, beside Table I's mapped 68) per view, and Side on the points the 43-point
    set names unambiguously (`side_unambiguous`, a check of the 43->68 table), both with the mapped-68 box."""
    views = {"front": (meta["view"] == "front").to_numpy(), "side": (meta["view"] == "side").to_numpy()}
    views["full"] = np.ones(len(meta), dtype=bool)
    annotated = nme(pred, gt, visible, meta["diag_annotated_px"].to_numpy(np.float64))
    points = np.zeros(gt.shape[1], dtype=bool)
    points[load_schema("charlotte43_to_ibug68")["unambiguous_ibug68"]] = True
    side = views["side"]
    unambiguous = nme(pred[side], gt[side], np.asarray(visible[side], bool) & points,
                              bbox_diagonal(gt[side], visible[side]))
    return {"annotated_box": {name: summarize(annotated[mask]) for name, mask in views.items()},
            "side_unambiguous": summarize(unambiguous)}


def ced_rows(nmes: dict[str, np.ndarray], threshold: float = THRESHOLD, steps: int = 51) -> list[dict]:
    """Cumulative error curves of several per-image NME arrays on one grid: rows {nme, <name>: fraction <= nme}."""
    curves = {k: ced_curve(v, threshold, steps)[1] for k, v in nmes.items()}
    x = np.linspace(0.0, threshold, steps)  # ced_curve's grid
    return [{"nme": float(x[i]), **{k: float(y[i]) for k, y in curves.items()}} for i in range(steps)]
