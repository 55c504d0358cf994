"""Point metrics as pure numpy functions (design §5): per-point errors and the nose protocols' matching, detection
rate, PCK and errors; the 68-point NME family is `thermbench.core.nme`.

Conventions used throughout:
- an error array holds one entry per ground-truth point; NaN means "missed" (no matched prediction);
- PCK counts a miss as a failure; mean/median error are over matched points only;
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


def _finite(errors: np.ndarray) -> np.ndarray:
    errors = np.asarray(errors, dtype=np.float64)
    return errors[np.isfinite(errors)]
