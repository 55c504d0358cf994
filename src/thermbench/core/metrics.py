"""Landmark metrics as pure numpy functions (design §5).

Conventions used throughout:
- an error array holds one entry per ground-truth point; NaN means "missed" (no matched prediction);
- PCK, failure rate and AUC count a miss as a failure; mean/median error are over matched points only;
- a point is "correct" at threshold t when its error is <= t.
"""

from __future__ import annotations

import numpy as np


def greedy_match(gt: np.ndarray, pred: np.ndarray, max_dist: float) -> list[tuple[int, int, float]]:
    """One-to-one greedy matching of GT points to predicted points, closest pair first.

    Pairs farther apart than `max_dist` are never matched; rows containing NaN (a person whose model gave no
    nose) never match. Ties are broken deterministically by (distance, GT index, prediction index).
    Returns `(gt_index, pred_index, distance)` sorted by GT index.
    """
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 2)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 2)
    dist = np.linalg.norm(gt[:, None, :] - pred[None, :, :], axis=-1)
    gi, pj = np.nonzero(np.isfinite(dist) & (dist <= max_dist))
    # lexsort keys: last is primary -> distance, then GT index, then prediction index.
    order = np.lexsort((pj, gi, dist[gi, pj]))
    used_gt, used_pred, matches = set(), set(), []
    for k in order:
        i, j = int(gi[k]), int(pj[k])
        if i not in used_gt and j not in used_pred:
            used_gt.add(i)
            used_pred.add(j)
            matches.append((i, j, float(dist[i, j])))
    return sorted(matches)


def matched_errors(gt: np.ndarray, pred: np.ndarray, max_dist: float) -> np.ndarray:
    """Per-GT error after `greedy_match`: the matched distance, NaN where the GT point found no prediction."""
    errors = np.full(len(np.asarray(gt).reshape(-1, 2)), np.nan)
    for i, _, d in greedy_match(gt, pred, max_dist):
        errors[i] = d
    return errors


def detection_rate(errors: np.ndarray) -> float:
    """Fraction of GT points that were matched (finite error). NaN for an empty set."""
    errors = np.asarray(errors, dtype=np.float64)
    return float(np.isfinite(errors).mean()) if errors.size else float("nan")


def mean_error(errors: np.ndarray) -> float:
    """Mean over matched points only; NaN when nothing matched."""
    finite = _finite(errors)
    return float(finite.mean()) if finite.size else float("nan")


def median_error(errors: np.ndarray) -> float:
    """Median over matched points only; NaN when nothing matched."""
    finite = _finite(errors)
    return float(np.median(finite)) if finite.size else float("nan")


def pck(errors: np.ndarray, thresholds) -> dict:
    """{threshold: fraction of ALL GT points with error <= threshold}; misses (NaN) count as failures."""
    errors = np.asarray(errors, dtype=np.float64)
    out = {}
    for t in thresholds:
        out[t] = float(np.mean(np.nan_to_num(errors, nan=np.inf) <= t)) if errors.size else float("nan")
    return out


def nose_summary(errors: np.ndarray, thresholds) -> dict:
    """The ThermEval nose-protocol block (one error per GT, NaN = miss): count, detection rate, mean/median over
    matched, PCK over all GT keyed "<t>px". One layout for the zero-shot and TinyHead metrics files."""
    return {
        "n_gt": int(len(errors)),
        "detection_rate": detection_rate(errors),
        "mean_px": mean_error(errors),
        "median_px": median_error(errors),
        "pck": {f"{t}px": v for t, v in pck(errors, thresholds).items()},
    }


def point_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Euclidean distance per point: (..., K, 2) x2 -> (..., K)."""
    return np.linalg.norm(np.asarray(pred, dtype=np.float64) - np.asarray(gt, dtype=np.float64), axis=-1)


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


def _finite(errors: np.ndarray) -> np.ndarray:
    errors = np.asarray(errors, dtype=np.float64)
    return errors[np.isfinite(errors)]
