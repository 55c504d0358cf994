"""A predictions file of nostril tracks (task `breath_tracks`), read into a track file as `tracks.track_source`
writes one, so that `breath_rates` scores it beside the built-in sources (an untrained source: its ranking is
deterministic). An ONNX model (models/onnx_model.py) is tracked as the students are: the first frame's face box,
then its own landmarks, on its card's square crop and thermal window, at the students' chunk and stride.

The file is a CSV with the columns `sequence, subject, frame, x, y`: one row per frame of every subject of every
sequence in the benchmark's videos (data/raw/breath: `sequence` a folder name, `subject` an id of its meta.json,
`frame` 0 .. T-1), the nostril centre in frame pixels (continuous coordinates: pixel i covers [i, i+1)); x and y
empty (NaN) where the model found no face in that frame. A point outside the frame counts as no face there, and is
counted (`outside_frame`), as a built-in source's is.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.breath.crops import SquareCrop
from thermbench.breath.predictors import OnnxPredictor
from thermbench.breath.sources import TrackConfig
from thermbench.breath.tracking import CropConfig, in_frame, merge_sequences, track_sequence
from thermbench.breath.unavailable import SourceUnavailable
from thermbench.core.io import write_json
from thermbench.core.parallel import ordered_map
from thermbench.core.submissions import Submission, fail, read, read_rows, shown, validated
from thermbench.datasets.video import frame_size, list_sequences, read_sequence
from thermbench.models.onnx_model import Card, onnx_fields, read_card
from thermbench.models.weights import file_sha256

COLUMNS = ("sequence", "subject", "frame", "x", "y")
FAR = 1.0  # a point more than this many frame sizes outside the frame is an error, not a miss


def read_track_rows(path: Path) -> pd.DataFrame:
    """The file's rows (`row`: its line number), checked for columns and repeats: what can be checked without the
    breath videos."""
    table = read_rows(path, ("sequence", "subject"), COLUMNS)
    _check_repeats(path, table)
    return table


def _check_repeats(path: Path, table: pd.DataFrame) -> None:
    """Refuse a frame of a subject given twice (frames compared as numbers: 0 and 0.0 are one frame)."""
    frames = pd.to_numeric(table["frame"], errors="coerce")  # a frame that is no number: `read_track_csv` names it
    keyed = table.assign(frame=frames).dropna(subset=["sequence", "subject", "frame"])
    doubled = keyed[keyed.duplicated(["sequence", "subject", "frame"], keep="first")]
    if len(doubled):
        r = doubled.iloc[0]
        frame = int(r.frame) if float(r.frame).is_integer() else r.frame
        raise fail(path, int(r.row), f"duplicate row for {r.sequence}/{r.subject} frame {frame}")


def read_track_csv(path: Path, videos: Path) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """({sequence: {subject: (T, 2) points}}, the points outside their frame) of the file, checked against the
    sequences under `videos`: each row's sequence, subject, frame and point in file order, then repeats, then the
    rows missing. A point outside its frame is no face there (NaN), as a built-in source's track keeps it
    (`tracking.in_frame`), and is counted."""
    table = read_rows(path, ("sequence", "subject"), COLUMNS)
    tracks, sizes, outside = {}, {}, 0
    for folder in list_sequences(videos):
        seq = read_sequence(folder, with_frames=False)
        tracks[seq.name] = {s.id: np.full((len(seq.frames), 2), np.inf) for s in seq.subjects}  # inf: no row yet
        sizes[seq.name] = frame_size(folder)
    for r in table.itertuples():
        if r.sequence not in tracks:
            raise fail(path, r.row, f"sequence {shown(r.sequence)} is not one of the benchmark's videos")
        if r.subject not in tracks[r.sequence]:
            raise fail(path, r.row, f"subject {shown(r.subject)} is not one of {r.sequence}'s")
        points = tracks[r.sequence][r.subject]
        frame = pd.to_numeric(pd.Series([r.frame]), errors="coerce").iloc[0]
        if not (np.isfinite(frame) and frame == int(frame) and 0 <= frame < len(points)):
            raise fail(path, r.row, f"frame {shown(r.frame)} is not one of 0..{len(points) - 1}")
        cells = pd.Series([r.x, r.y])
        xy = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64)
        text = np.flatnonzero(np.isnan(xy) & cells.notna().to_numpy())  # coerced to NaN it would read as no face
        if text.size:
            c = "xy"[text[0]]
            raise fail(path, r.row, f"{c} is {shown(getattr(r, c))}: not a number (x and y both empty: no face)")
        if np.isnan(xy).sum() == 1 or np.isinf(xy).any():
            raise fail(path, r.row, "x and y must both be finite numbers, or both empty (no face)")
        w, h = sizes[r.sequence]
        if np.isfinite(xy).all() and not (-FAR * w <= xy[0] <= (1 + FAR) * w and -FAR * h <= xy[1] <= (1 + FAR) * h):
            raise fail(path, r.row, f"({xy[0]:g}, {xy[1]:g}) lies far outside the {w}x{h} frame")
        if np.isfinite(xy).all() and not in_frame(xy, w, h):
            outside += 1
            xy = np.full(2, np.nan)
        points[int(frame)] = xy
    _check_repeats(path, table)
    for name, subjects in tracks.items():
        for subject, points in subjects.items():
            absent = np.flatnonzero(np.isinf(points).any(axis=1))
            if absent.size:
                raise fail(path, None, f"no row for {name}/{subject} frame {absent[0]} ({absent.size} of "
                                        f"{len(points)} frames missing; every frame needs a row, empty x, y: no face)")
    return tracks, outside


def validate(registry: Path, videos: Path) -> dict[str, dict]:
    """Every `breath_tracks` entry of `registry` (submissions.yaml) checked before anything scores it: an ONNX model's
    card and graph; a file against the breath videos (`videos`: data/raw/breath), or its format alone before the
    first run made them. The first problem is one InputError."""
    entries = read(registry, "breath_tracks")
    checked = {}
    for entry in entries:
        if entry.onnx:
            read_card(entry.path)
            checked[entry.name] = "onnx card and graph"
        elif videos.is_dir():
            read_track_csv(entry.path, videos)
            checked[entry.name] = "against the breath videos"
        else:
            read_track_rows(entry.path)
            checked[entry.name] = ("format only: its sequences and frames are not checked yet (no breath videos; "
                                   "the DAG's validate_breath_tracks checks them before any scoring)")
    return validated(entries, checked)


def onnx_tracks(name: str, card: Card, videos: Path, cfg: TrackConfig) -> dict:
    """The ONNX model's tracks over every sequence, as `track_source` records a source's (`merge_sequences`)."""
    crop = CropConfig(SquareCrop(card.crop_scale, max(card.size)), card.window_c, cfg.students.chunk,
                      cfg.students.stride)
    results = ordered_map(partial(_track_onnx, card, cfg.threads, crop), list_sequences(videos),
                          f"breath track {name}", cfg.workers, unit="seq")
    return merge_sequences(list(results))


def _track_onnx(card: Card, threads: int, crop: CropConfig, path: Path) -> dict:
    predictor = OnnxPredictor(card, threads)  # one session per sequence (a worker's)
    return track_sequence(path, lambda: predictor, crop)


def write_tracks(entries: list[Submission], videos: Path, out: Path, cfg: TrackConfig) -> None:
    """Stage breath_track_submissions: each breath_tracks file, and each ONNX model's tracks, as the track file
    `out`/<name>.json; every file and card is read and checked before anything is run or written (`out` holds
    exactly the submissions' files)."""
    read = {entry.name: read_track_csv(entry.path, videos) for entry in entries if not entry.onnx}
    cards = {entry.name: read_card(entry.path) for entry in entries if entry.onnx}
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.json"):
        stale.unlink()
    for entry in entries:
        head = {"source": entry.label, "kind": "submission", "file": str(entry.path),
                "sha256": file_sha256(entry.path), **onnx_fields(cards.get(entry.name)), "notes": entry.notes}
        if entry.onnx:
            try:
                merged = onnx_tracks(entry.name, cards[entry.name], videos, cfg)
            except SourceUnavailable as err:  # it found no face in any subject's first crop
                print(f"breath {entry.name}: {err}", file=sys.stderr)
                write_json(out / f"{entry.name}.json", {**head, "available": False, "reason": str(err)}, 3)
                continue
            tracks = merged.pop("tracks")
        else:
            tracks, outside = read[entry.name]
            frames = sum(len(p) for subjects in tracks.values() for p in subjects.values())
            merged = {"outside_frame": outside, "model_frames": frames, "not_tracked": []}
        write_json(out / f"{entry.name}.json", {
            **head, "available": True, **merged,
            "tracks": {s: {k: v.tolist() for k, v in subjects.items()} for s, subjects in tracks.items()}}, 3)
