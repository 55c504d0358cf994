"""Every entry of submissions.yaml read and checked before anything scores it: by stages/validate_submissions.py,
which `make repro` runs first (`make check-submissions`) and DVC runs as the stage validate_submissions, which the
scoring stages depend on.

DVC deletes a stage's outputs before it runs the stage, so a bad file found by a scoring stage would cost the results
of the good ones. Checked here, it stops the run first: one line naming the file and what is wrong, exit 2, nothing
written. Each file is read by its own area's reader, against the scored set where that set is already on disk (the
ThermEval frames and samples the profile scores, the T-FAKE and CHARLOTTE test crops, the breath videos); before the
first `make repro` made them, the format alone is checked, and the stage checks the rest once they exist, still before
any scoring stage.
"""

from __future__ import annotations

from pathlib import Path

from thermbench.breath.submission import COLUMNS as TRACK_COLUMNS
from thermbench.breath.submission import read_track_csv
from thermbench.core.submissions import builtin, read, read_rows
from thermbench.datasets.prepared import FRAMES, SAMPLES
from thermbench.models.onnx_model import read_card
from thermbench.models.weights import file_sha256
from thermbench.zeroshot.bakeoff import ZeroshotConfig, protocol_rows
from thermbench.zeroshot.submission import read_predictions, records
from thermbench.zeroshot.table1.submission import read_landmarks, test_splits


def check(registry: Path, prepared: Path, raw: Path, videos: Path, cfg: ZeroshotConfig) -> dict:
    """{name: what was checked} for every entry of `registry` (submissions.yaml); the first problem is one
    InputError. `prepared`: data/prepared (thermeval, tfake, charlotte); `raw`: data/raw/thermeval; `videos`:
    data/raw/breath; `cfg`: the zero-shot section (which frames and crops the profile scores)."""
    builtin(registry)
    nose, landmarks, tracks = (read(registry, task) for task in ("thermeval_nose", "landmarks68", "breath_tracks"))
    out = {}
    for entry in (e for e in nose if e.onnx):
        read_card(entry.path)
        out[entry.name] = "onnx card and graph"
    thermeval = prepared / "thermeval"
    if any(not e.onnx for e in nose) and (thermeval / FRAMES).is_file():
        frames, fit, test = protocol_rows(thermeval, cfg)
    for entry in (e for e in nose if not e.onnx):
        if (thermeval / FRAMES).is_file():
            records(entry.path, frames, fit, test, raw)
            out[entry.name] = "against the scored frames and samples"
        else:
            read_predictions(entry.path)
            out[entry.name] = "format (no prepared ThermEval yet)"
    files = [e for e in landmarks if not e.onnx]
    have = all((prepared / d / SAMPLES).is_file() for d in ("tfake", "charlotte"))
    splits = test_splits(prepared / "tfake", prepared / "charlotte") if files and have else None
    for entry in files:
        if splits is not None:
            read_landmarks(entry.path, splits)
            out[entry.name] = "against the scored crops"
        else:
            out[entry.name] = "not yet (no prepared T-FAKE and CHARLOTTE)"
    for entry in (e for e in tracks if not e.onnx):
        if videos.is_dir():
            read_track_csv(entry.path, videos)
            out[entry.name] = "against the breath videos"
        else:
            read_rows(entry.path, ("sequence", "subject"), TRACK_COLUMNS)
            out[entry.name] = "format (no breath videos yet)"
    every = {e.name: e for e in nose + landmarks + tracks}  # an ONNX model is in every task's list
    return {name: {"kind": "onnx" if e.onnx else e.task, "path": str(e.path), "sha256": file_sha256(e.path),
                   "checked": out[name]} for name, e in sorted(every.items())}
