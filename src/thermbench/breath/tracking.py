"""Tracking a face for the breath benchmark: per frame and subject, one nostril point (frame px) or none.

Every model source runs top-down on a crop that follows the face: the face box starts at the subject's first-frame
`face_box`, keeps its size and moves to be centred on the source's own landmarks of the previous frame (the centre of
their bounding box, or the nostril point for a model that gives only noses; it stays put while the model finds
nothing). The crop about it is a square (`SquareCrop`: `scale` x the face box's longer side) or, for the TinyHead,
the crop it was trained on (`PersonCrop`: a ThermEval Person-like box cut by the blog's geometry). No source sees the
ground truth after the first-frame box. A point outside the frame counts as no face (and is counted). Batching models
may update the box once per `chunk` model frames (one batch), from the last prediction before the chunk, and may run
on every `stride`-th frame only (the track is interpolated in between: CPU budget; 9 fps / 4 still samples 2.25 Hz,
above twice the band's 0.7 Hz).

A source whose model or weights are absent raises `SourceUnavailable` with one line saying what is missing; so does
a subject the source cannot track (no ground truth for the oracle, a face the TinyHead never saw at that scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from thermbench.breath.crops import PersonCrop, SquareCrop
from thermbench.breath.unavailable import SourceUnavailable
from thermbench.core import crops
from thermbench.datasets.video import Sequence, Subject, read_sequence


@dataclass
class CropConfig:
    crop: SquareCrop | PersonCrop
    window_c: tuple[float, float] | None = None  # °C mapped to 0..255; None = 1st..99.5th percentile of frame 0
    chunk: int = 1  # model frames that share one crop box (the box follows the last prediction before them)
    stride: int = 1  # the model runs on every stride-th frame; the track is interpolated linearly in between


class Track(NamedTuple):
    points: np.ndarray  # (T, 2) nostril points in frame px, NaN where the model found no face
    outside_frame: int  # model frames whose point fell outside the frame (counted as no face)
    model_frames: int  # frames the model ran on


# A predictor maps a list of 8-bit gray crops to one result per crop: (nostril point, crop-centre point) in crop px,
# or None (no face). Batching models take the list as one batch.
Predictor = Callable[[list], list]


def to_uint8(frame: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    lo, hi = window
    return np.clip(np.round((frame - lo) / max(hi - lo, 1e-6) * 255), 0, 255).astype(np.uint8)


def sequence_window(seq: Sequence, window_c: tuple[float, float] | None) -> tuple[float, float]:
    """One fixed 8-bit window per sequence (a per-frame min-max stretch would flicker with the breathing)."""
    if window_c is not None:
        return tuple(window_c)
    lo, hi = np.percentile(seq.frames[0], [1.0, 99.5])
    return float(lo), float(hi)


def in_frame(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Whether each point (..., 2), frame px, lies in the frame [0, width) x [0, height) (NaN: not); a point outside
    is no face, and is counted as such (`Track.outside_frame`)."""
    points = np.asarray(points, dtype=np.float64)
    x, y = points[..., 0], points[..., 1]
    return (0 <= x) & (x < width) & (0 <= y) & (y < height)


def track(seq: Sequence, subject: Subject, predict: Predictor, cfg: CropConfig) -> Track:
    """The subject's nostril track; `SourceUnavailable` where the crop cannot take this face."""
    face = np.asarray(subject.face_box, dtype=np.float64)
    height, width = seq.frames.shape[1:]
    window = sequence_window(seq, cfg.window_c)
    if isinstance(cfg.crop, PersonCrop):  # the face's scale in the first frame's crop
        cfg.crop.check(face, cfg.crop.cut(to_uint8(seq.frames[0], window), face)[1])
    start_centre = centre = (face[:2] + face[2:]) / 2
    out = np.full((len(seq.frames), 2), np.nan)
    run = np.unique(np.r_[np.arange(0, len(seq.frames), max(cfg.stride, 1)), len(seq.frames) - 1])  # ends included
    chunk, outside = max(cfg.chunk, 1), 0
    for start in range(0, len(run), chunk):
        idx = run[start:start + chunk]
        at = face + np.tile(centre - start_centre, 2)
        cuts = [cfg.crop.cut(to_uint8(seq.frames[i], window), at) for i in idx]
        if cuts[0][0] is None:  # an empty crop window (one box per chunk): no face there
            continue
        box, size = cuts[0][1], cuts[0][0].shape[::-1]
        for i, found in zip(idx, predict([c for c, _ in cuts])):
            if found is None:
                continue
            point = crops.to_frame(found[0], box, size)
            if not in_frame(point, width, height):
                outside += 1
                continue
            out[i] = point
            centre = crops.to_frame(found[1], box, size)
    return Track(interpolate_track(out) if cfg.stride > 1 else out, outside, len(run))


def interpolate_track(points: np.ndarray) -> np.ndarray:
    """Fill frames between two predictions linearly; frames outside the first..last prediction stay NaN."""
    out = points.copy()
    ok = np.flatnonzero(np.isfinite(points).all(1))
    if len(ok) < 2:
        return out
    inside = np.arange(ok[0], ok[-1] + 1)
    for k in range(2):
        out[inside, k] = np.interp(inside, ok, points[ok, k])
    return out


def oracle(seq: Sequence, subject: Subject) -> np.ndarray:
    """Ground-truth nostril points (the ceiling of what landmarks can give)."""
    gt = seq.subject_truth(subject.id)
    if gt is None or not {"nose_x", "nose_y"} <= set(gt.columns):
        raise SourceUnavailable("no ground-truth nostril points (truth.csv nose_x, nose_y)")
    return gt[["nose_x", "nose_y"]].to_numpy(dtype=np.float64)


def track_sequence(path: Path, make_predictor: Callable[[], Predictor] | None, cfg: CropConfig | None) -> dict:
    """One sequence folder's tracks: {"name", "tracks": {subject: (T, 2) points}, "not_tracked": [why a subject has
    no track], "subjects", "outside_frame", "model_frames" (`Track`'s counts, summed)}. `make_predictor` None = the
    oracle (which reads no frames). A new predictor per track, so a tracking model never carries state from one face
    to another."""
    seq = read_sequence(path, with_frames=make_predictor is not None)
    out = {"name": seq.name, "tracks": {}, "not_tracked": [], "subjects": len(seq.subjects), "outside_frame": 0,
           "model_frames": 0}
    for subject in seq.subjects:
        predictor = None if make_predictor is None else make_predictor()
        try:
            one = Track(oracle(seq, subject), 0, 0) if predictor is None else track(seq, subject, predictor, cfg)
        except SourceUnavailable as err:  # this subject only: no ground truth here, or a face the model cannot take
            out["not_tracked"].append(f"{seq.name}/{subject.id}: {err}")
            one = Track(np.full((len(seq.frames), 2), np.nan), 0, 0)
        if hasattr(predictor, "close"):
            predictor.close()
        out["tracks"][subject.id] = one.points
        out["outside_frame"] += one.outside_frame
        out["model_frames"] += one.model_frames
    return out


def merge_sequences(results: list[dict]) -> dict:
    """`track_sequence` results in one: {"tracks": {sequence: {subject: points}}, "not_tracked", "outside_frame",
    "model_frames"}; a source that tracks no subject at all is unavailable."""
    not_tracked = [m for r in results for m in r["not_tracked"]]
    if not_tracked and len(not_tracked) == sum(r["subjects"] for r in results):
        raise SourceUnavailable(f"not available: {not_tracked[0]} (and every other subject)")
    return {"tracks": {r["name"]: r["tracks"] for r in results}, "not_tracked": not_tracked,
            "outside_frame": sum(r["outside_frame"] for r in results),
            "model_frames": sum(r["model_frames"] for r in results)}
