"""A predictions file of nostril tracks (task `breath_tracks`), read into a track file as `tracks.track_source`
writes one, so that `breath_rates` scores it beside the built-in sources (an untrained source: its ranking is
deterministic).

The file is a CSV with the columns `sequence, subject, frame, x, y`: one row per frame of every subject of every
sequence in the benchmark's videos (data/raw/breath: `sequence` a folder name, `subject` an id of its meta.json,
`frame` 0 .. T-1), the nostril centre in frame pixels (continuous coordinates: pixel i covers [i, i+1)); x and y
empty (NaN) where the model found no face in that frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core.io import write_json
from thermbench.core.submissions import Submission, fail, read_rows
from thermbench.datasets.video import frame_size, list_sequences, read_sequence
from thermbench.models.weights import file_sha256

COLUMNS = ("sequence", "subject", "frame", "x", "y")
FAR = 1.0  # a point more than this many frame sizes outside the frame is an error, not a miss


def read_track_csv(path: Path, videos: Path) -> dict[str, dict[str, np.ndarray]]:
    """{sequence: {subject: (T, 2) points}} of the file, checked against the sequences under `videos`."""
    table = read_rows(path, ("sequence", "subject"))
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise fail(path, None, f"missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})")
    tracks, sizes = {}, {}
    for folder in list_sequences(videos):
        seq = read_sequence(folder, with_frames=False)
        tracks[seq.name] = {s.id: np.full((len(seq.frames), 2), np.inf) for s in seq.subjects}  # inf: no row yet
        sizes[seq.name] = frame_size(folder)
    for r in table.itertuples():
        if r.sequence not in tracks:
            raise fail(path, r.row, f"sequence {r.sequence!r} is not one of the benchmark's videos")
        if r.subject not in tracks[r.sequence]:
            raise fail(path, r.row, f"subject {r.subject!r} is not one of {r.sequence}'s")
        points = tracks[r.sequence][r.subject]
        frame = pd.to_numeric(pd.Series([r.frame]), errors="coerce").iloc[0]
        if not (np.isfinite(frame) and frame == int(frame) and 0 <= frame < len(points)):
            raise fail(path, r.row, f"frame {r.frame!r} is not one of 0..{len(points) - 1}")
        if not np.isinf(points[int(frame)]).all():
            raise fail(path, r.row, f"duplicate row for {r.sequence}/{r.subject} frame {int(frame)}")
        xy = pd.to_numeric(pd.Series([r.x, r.y]), errors="coerce").to_numpy(np.float64)
        if np.isnan(xy).sum() == 1 or np.isinf(xy).any():
            raise fail(path, r.row, "x and y must both be finite numbers, or both empty (no face)")
        w, h = sizes[r.sequence]
        if np.isfinite(xy).all() and not (-FAR * w <= xy[0] <= (1 + FAR) * w and -FAR * h <= xy[1] <= (1 + FAR) * h):
            raise fail(path, r.row, f"({xy[0]:g}, {xy[1]:g}) lies far outside the {w}x{h} frame")
        points[int(frame)] = xy
    for name, subjects in tracks.items():
        for subject, points in subjects.items():
            absent = np.flatnonzero(np.isinf(points).any(axis=1))
            if absent.size:
                raise fail(path, None, f"no row for {name}/{subject} frame {absent[0]} ({absent.size} of "
                                        f"{len(points)} frames missing; every frame needs a row, empty x, y: no face)")
    return tracks


def write_tracks(entries: list[Submission], videos: Path, out: Path) -> None:
    """Stage breath_track_submissions: each breath_tracks file as the track file `out`/<name>.json; every file is
    read and checked before anything is written (`out` holds exactly the submissions' files)."""
    read = {entry.name: read_track_csv(entry.path, videos) for entry in entries}
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.json"):
        stale.unlink()
    for entry in entries:
        tracks = read[entry.name]
        frames = sum(len(p) for subjects in tracks.values() for p in subjects.values())
        write_json(out / f"{entry.name}.json", {
            "source": entry.label, "kind": "submission", "available": True,
            "file": str(entry.path), "sha256": file_sha256(entry.path), "notes": entry.notes,
            "outside_frame": 0, "model_frames": frames, "not_tracked": [],
            "tracks": {s: {k: v.tolist() for k, v in subjects.items()} for s, subjects in tracks.items()}}, 3)
