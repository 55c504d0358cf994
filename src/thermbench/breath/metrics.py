"""Scores of the breath benchmark (pure numpy): rate errors per window, landmark error and temporal jitter."""

from __future__ import annotations

import numpy as np
import pandas as pd

ESTIMATORS = ("welch", "peaks", "ridge")
WINDOW_KINDS = ("steady", "change")  # the true rate moves by at most / more than `change_share` of its mean
WITHIN_BPM = 2.0


def rate_scores(pred: np.ndarray, true: np.ndarray) -> dict:
    """Two separate coverages: `window_coverage` = share of windows with an estimate (the estimator's), and
    `truth_coverage` = share with a ground-truth rate (the data's); a window without truth is not scored, never a
    miss. MAE and RMSE (breaths/min), share within +-2 breaths/min and Pearson r over windows with both."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    ok = np.isfinite(pred) & np.isfinite(true)
    out = {"n_windows": int(len(pred)), "window_coverage": _share(np.isfinite(pred)),
           "truth_coverage": _share(np.isfinite(true))}
    if not ok.any():
        return {**out, "mae_bpm": None, "rmse_bpm": None, "within2_share": None, "pearson_r": None}
    err = pred[ok] - true[ok]
    r = np.corrcoef(pred[ok], true[ok])[0, 1] if ok.sum() > 2 and pred[ok].std() > 0 and true[ok].std() > 0 else None
    return {**out, "mae_bpm": float(np.abs(err).mean()), "rmse_bpm": float(np.sqrt((err**2).mean())),
            "within2_share": float((np.abs(err) <= WITHIN_BPM).mean()), "pearson_r": None if r is None else float(r)}


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else float("nan")


def landmark_stats(points: np.ndarray, truth: np.ndarray, usable: np.ndarray) -> dict:
    """Single-frame nostril error and temporal jitter (px) over frames where both are known and `usable`.

    Jitter is the RMS of the frame-to-frame step of the prediction minus the true step, |dp_t - dg_t|: the motion of
    the face is removed, so a perfect tracker of a moving face has zero jitter and a fixed point has the face's motion.
    """
    points, truth = np.asarray(points, np.float64), np.asarray(truth, np.float64)
    ok = np.isfinite(points).all(1) & np.isfinite(truth).all(1) & np.asarray(usable, bool)
    err = np.linalg.norm(points - truth, axis=1)
    step = ok[1:] & ok[:-1]
    d = (points[1:] - points[:-1]) - (truth[1:] - truth[:-1])
    jitter_sq = np.sum(d[step] ** 2, axis=1)
    return {"error_sum": float(err[ok].sum()), "error_n": int(ok.sum()),
            "jitter_sq_sum": float(jitter_sq.sum()), "jitter_n": int(step.sum())}


def summarise(windows: pd.DataFrame, stats: pd.DataFrame, change_share: float) -> dict:
    """{source: {scene: {...}}}: rate scores per estimator (scored only where ground truth exists), also apart on
    steady windows and on windows with a rate change (`true_spread` > `change_share`), coverage (share of frames
    with a point), nostril error and jitter (px)."""
    out: dict = {}
    for (source, scene), win in windows.groupby(["source", "scene"], sort=True):
        st = stats[(stats["source"] == source) & (stats["scene"] == scene)]
        entry = {"coverage": float(st["with_point"].sum() / st["frames"].sum())}
        true = win["true_bpm"].to_numpy(np.float64)
        change = win["true_spread"].to_numpy(np.float64) > change_share
        scored = np.isfinite(true).any()
        for est in ESTIMATORS:
            col = win[f"{est}_bpm"].to_numpy(np.float64)
            if scored:
                entry[est] = {**rate_scores(col, true), "windows": {
                    kind: rate_scores(col[mask], true[mask]) for kind, mask in zip(WINDOW_KINDS, (~change, change))}}
            else:
                entry[est] = {"n_windows": int(len(col)), "window_coverage": _share(np.isfinite(col)),
                              "truth_coverage": 0.0, "scored": False,
                              "mean_bpm": float(np.nanmean(col)) if np.isfinite(col).any() else None}
        if "error_n" in st and st["error_n"].sum() > 0:
            entry["nose_error_px"] = float(st["error_sum"].sum() / st["error_n"].sum())
        if "jitter_n" in st and st["jitter_n"].sum() > 0:
            entry["jitter_px"] = float(np.sqrt(st["jitter_sq_sum"].sum() / st["jitter_n"].sum()))
        out.setdefault(source, {})[scene] = entry
    return out
