"""Breath rates and their scores: the videos and every track file, plus the no-tracking baselines and the
noisy-oracle sources, through the signal chain into the scalar metrics (JSON), the per-window series and one example
sequence's signals (CSV, for the figures).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.breath import metrics as bm
from thermbench.breath import signal as sig
from thermbench.breath.tracks import TRACK_CHECKS, list_track_files, read_tracks
from thermbench.core.io import InputError, write_json, write_text
from thermbench.core.progress import progress
from thermbench.datasets.video import Sequence, data_source, list_sequences, read_sequence

FIXED_ROI, WHOLE_FACE = "fixed_roi", "whole_face"  # no tracking: the first frame's nose, the first frame's face box
BASELINES = (FIXED_ROI, WHOLE_FACE)


@dataclass
class RateConfig:
    chain: sig.ChainConfig
    oracle_noise_px: tuple[float, ...]  # extra sources: ground truth + this much Gaussian noise per frame
    change_share: float  # a window whose true rate spans more than this share of its mean has a rate change
    example_sequence: str  # the sequence whose signals the figure shows (absent: the first one)


def _fixed_nose(seq: Sequence, subject) -> np.ndarray:
    """The no-tracking baseline's point: the first frame's true nostril point, else a face-box proportion."""
    gt = seq.subject_truth(subject.id)
    if gt is not None and {"nose_x", "nose_y"} <= set(gt.columns):
        first = gt[["nose_x", "nose_y"]].iloc[0].to_numpy(dtype=np.float64)
        if np.isfinite(first).all():
            return first
    x0, y0, x1, y1 = subject.face_box
    return np.array([(x0 + x1) / 2, y0 + 0.62 * (y1 - y0)])  # nose base of a frontal iBUG-68 face box


def _subject_rows(seq: Sequence, subject, points: dict, cfg: RateConfig, frozen: np.ndarray, ref: np.ndarray,
                  example: bool):
    """Per-window rows, per-source frame stats and example signals for one subject."""
    c = cfg.chain
    gt = seq.subject_truth(subject.id)
    true_nose = gt[["nose_x", "nose_y"]].to_numpy(np.float64) if gt is not None and "nose_x" in gt else None
    true_rate = sig.true_window_rates(gt["rate_bpm"].to_numpy(np.float64), seq.fps, c) if gt is not None else None
    spread = sig.true_window_spread(gt["rate_bpm"].to_numpy(np.float64), seq.fps, c) if gt is not None else None
    mouth = gt["mouth"].to_numpy(np.float64) if gt is not None and "mouth" in gt else None
    radius = max(c.roi_radius * subject.face_size, c.min_roi_px)
    rows, stats, examples = [], [], []
    for name, pts in points.items():
        if name == WHOLE_FACE:
            raw, own_ref = sig.box_means(seq.frames, subject.face_box), ref
        else:
            smooth = pts if c.smoothing == "none" else sig.savgol_track(pts, seq.fps, c.smoothing_window_s,
                                                                         c.smoothing_order)
            raw = sig.regress_motion(sig.roi_means(seq.frames, smooth, radius), smooth, c.motion_degree)
            own_ref = (sig.ring_means(seq.frames, smooth, c.ring_radii[0] * radius, c.ring_radii[1] * radius)
                       if c.reference == "ring" else ref)
        filtered, valid = sig.prepare_signal(raw - own_ref, frozen, seq.fps, c)
        win = sig.window_rates(filtered, valid, seq.fps, c)
        win.insert(0, "source", name)
        win["true_bpm"] = true_rate if true_rate is not None else np.nan
        win["true_spread"] = spread if spread is not None else np.nan
        if mouth is not None:
            win["mouth_share"] = [mouth[int(round(a * seq.fps)):int(round(b * seq.fps))].mean()
                                  for a, b in zip(win["t_start"], win["t_end"])]
        rows.append(win)
        has_point = np.isfinite(pts).all(1) if name != WHOLE_FACE else np.ones(len(raw), bool)
        stat = {"source": name, "frames": len(raw), "with_point": int(has_point.sum())}
        if true_nose is not None and name != WHOLE_FACE:  # the landmark model's own points, before smoothing
            stat.update(bm.landmark_stats(pts, true_nose, ~frozen))
        stats.append(stat)
        if example and subject.id == seq.subjects[0].id:
            resp = gt["resp"].to_numpy(np.float64) if gt is not None and "resp" in gt else np.full(len(raw), np.nan)
            examples.append(pd.DataFrame({"source": name, "t_s": seq.times, "roi_c": raw - own_ref,
                                          "filtered_c": filtered, "true_resp": resp}))
    return rows, stats, examples


def evaluate(videos: Path, track_paths: list[Path], cfg: RateConfig, seed: int) -> dict:
    """Windows, per-source summaries and example signals over all sequences (see module docstring); `track_paths` as
    `list_track_files` takes them. `runs` in the metrics: {run name: {source, seed, converged}} of the trained runs;
    `tracking`: {source: its track file's `TRACK_CHECKS`}."""
    if cfg.chain.smoothing not in ("savgol", "none") or cfg.chain.reference not in ("frame_median", "ring", "none"):
        raise InputError("params.yaml: breath.rates.chain.smoothing must be savgol|none and reference "
                         "frame_median|ring|none")
    tracks = [read_tracks(p) for p in list_track_files(track_paths)]
    runs = {t["source"]: t["trained"] for t in tracks if "trained" in t}
    unavailable = {t["source"]: t["reason"] for t in tracks if not t["available"]}
    available = [t for t in tracks if t["available"]]
    tracking = {t["source"]: {k: t[k] for k in TRACK_CHECKS} for t in available}
    rng = np.random.default_rng([seed, 13])
    windows, stats, examples = [], [], []
    paths = list_sequences(videos)
    names = [p.name for p in paths]
    example = cfg.example_sequence if cfg.example_sequence in names else names[0]
    truth_missing = {}
    for path in progress(paths, desc="breath rates", unit="seq"):
        seq = read_sequence(path)
        frozen = sig.frozen_frames(seq.frames)
        ref = sig.reference(seq.frames, cfg.chain.reference)
        for subject in seq.subjects:
            points = {}
            for t in available:
                if seq.name not in t["tracks"] or subject.id not in t["tracks"][seq.name]:
                    raise InputError(f"track file of '{t['source']}' lacks {seq.name}/{subject.id} (re-run its stage)")
                points[t["source"]] = t["tracks"][seq.name][subject.id]
            if "oracle" in points:
                for sigma in cfg.oracle_noise_px:
                    points[f"oracle+{sigma:g}px"] = points["oracle"] + rng.normal(0, sigma, points["oracle"].shape)
            points[FIXED_ROI] = np.tile(_fixed_nose(seq, subject), (len(seq.frames), 1))
            points[WHOLE_FACE] = np.full((len(seq.frames), 2), np.nan)
            rows, st, ex = _subject_rows(seq, subject, points, cfg, frozen, ref, seq.name == example)
            for table in rows:
                table.insert(0, "subject", subject.id)
                table.insert(0, "sequence", seq.name)
                table.insert(0, "scene", seq.scene)
            windows += rows
            stats += [{"scene": seq.scene, **s} for s in st]
            examples += ex
        truth_missing[seq.name] = seq.truth_missing
    table = pd.concat(windows, ignore_index=True)
    summary = bm.summarise(table, pd.DataFrame(stats), cfg.change_share)
    return {"windows": table, "examples": pd.concat(examples, ignore_index=True) if examples else pd.DataFrame(),
            "metrics": {"data": data_source(videos), "sources": summary, "runs": runs,
                        "unavailable": unavailable, "tracking": tracking, "sequences": len(truth_missing),
                        "not_scored": {n: missing for n, missing in truth_missing.items() if missing},
                        "window_s": cfg.chain.window_s, "hop_s": cfg.chain.hop_s, "change_share": cfg.change_share}}


def write_outputs(result: dict, metrics_path: Path, windows_csv: Path, signals_csv: Path) -> None:
    write_json(metrics_path, result["metrics"], 4)
    for table, path in ((result["windows"], windows_csv), (result["examples"], signals_csv)):
        write_text(path, table.to_csv(index=False, float_format="%.5g", lineterminator="\n"))
