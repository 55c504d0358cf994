"""A predictions file on the ThermEval nose protocols (task `thermeval_nose`), read into the records an adapter's run
gives (evaluate.run_full_frame / run_crops), so that it is scored by the same functions as the built-in rows.

The file is a CSV with the columns `protocol, id, x, y` (and `score`, optional), in frame pixels (continuous
coordinates: pixel i covers [i, i+1)):

- `protocol` full_frame: `id` is a frame's `image_file` (data/prepared/thermeval/frames.csv), one row per nose the
  model found in it (none: no row);
- `protocol` crop: `id` is a `sample_id` (data/prepared/thermeval/samples.csv), at most one row: the nose the model
  found given that sample's GT Person box (`person_x0, person_y0, person_w, person_h`); no row is a miss. The rows of
  the offset-fit split (`zeroshot.offset_fit_split`) fit the convention offset, those of the test split are scored.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from thermbench.core.io import write_json
from thermbench.core.submissions import Submission, fail, read, read_rows, shown, validated
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import FRAMES
from thermbench.models.onnx_model import OnnxFaceModel, onnx_fields, read_card
from thermbench.models.weights import file_sha256
from thermbench.zeroshot import evaluate as ev
from thermbench.zeroshot.bakeoff import PREDICTION_DIGITS, ZeroshotConfig, protocol_rows, scores

PROTOCOLS = ("full_frame", "crop")
COLUMNS = ("protocol", "id", "x", "y")
FAR = 1.0  # a point more than this many image sizes outside the frame is an error, not a miss


def read_predictions(path: Path) -> pd.DataFrame:
    """The file's rows (`row`: its line number), checked for columns, protocols, numbers and repeats: what can be
    checked without the scored frames and samples."""
    table = _read_table(path)
    _check_repeats(path, table)
    return table


def _read_table(path: Path) -> pd.DataFrame:
    table = read_rows(path, ("protocol", "id"), COLUMNS, ("score",))
    for r in table.itertuples():
        if r.protocol not in PROTOCOLS:
            raise fail(path, r.row, f"protocol {shown(r.protocol)} is not one of {', '.join(PROTOCOLS)}")
        for c in ("x", "y") + (("score",) if "score" in table.columns else ()):
            v = pd.to_numeric(pd.Series([getattr(r, c)]), errors="coerce").iloc[0]
            if not np.isfinite(v):
                raise fail(path, r.row, f"{c} is {shown(getattr(r, c))}: a point needs finite numbers")
    return table.astype({"x": float, "y": float})


def _check_repeats(path: Path, table: pd.DataFrame) -> None:
    """Refuse a full-frame nose given twice (the same point in the same frame) and a crop's second nose."""
    full, crops = table[table.protocol == "full_frame"], table[table.protocol == "crop"]
    doubled = full[full.duplicated(["id", "x", "y"], keep="first")]
    doubled = doubled if len(doubled) else crops[crops.duplicated("id", keep="first")]
    if len(doubled):
        r = doubled.iloc[0]
        raise fail(path, int(r.row), f"duplicate row for {shown(r['id'])}")


def _check_inside(path: Path, row: int, x: float, y: float, shape: tuple[int, ...]) -> None:
    h, w = shape[:2]
    if not (-FAR * w <= x <= (1 + FAR) * w and -FAR * h <= y <= (1 + FAR) * h):
        raise fail(path, row, f"({x:g}, {y:g}) lies far outside the {w}x{h} frame")


def records(path: Path, frames: pd.DataFrame, fit: pd.DataFrame, test: pd.DataFrame, raw: Path
            ) -> tuple[list[dict], list[dict], list[dict]]:
    """(full-frame records, fit-split crop records, test-split crop records) of the file, in the rows' order of
    `frames`, `fit` and `test` (what the protocols score), as evaluate.run_full_frame / run_crops build them."""
    table = _read_table(path)
    full, crops = table[table.protocol == "full_frame"], table[table.protocol == "crop"]
    samples = pd.concat([fit, test])
    for rows, known, what in ((full, set(frames.image_file), "frames"), (crops, set(samples.sample_id), "samples")):
        unknown = rows[~rows["id"].isin(known)]
        if len(unknown):
            r = unknown.iloc[0]
            raise fail(path, int(r.row), f"id {shown(r['id'])} is not one of the {len(known)} scored {what} "
                                         "(`python -m thermbench.tools.submissions.submission ids --task "
                                         "thermeval_nose` lists them)")
    _check_repeats(path, table)
    shapes = {f: read_image(raw / f).shape for f in sorted(set(frames.image_file) | set(samples.image_file))}
    for r in full.itertuples():
        _check_inside(path, r.row, r.x, r.y, shapes[r.id])
    by_sample = samples.set_index("sample_id")
    for r in crops.itertuples():
        _check_inside(path, r.row, r.x, r.y, shapes[by_sample.at[r.id, "image_file"]])

    points = {f: g[["x", "y"]].to_numpy().tolist() for f, g in full.groupby("id", sort=False)}
    full_records = [{"image_file": f.image_file, "split": f.split, "gt": json.loads(f.noses),
                     "pred": points.get(f.image_file, [])} for f in frames.itertuples()]
    nose = {r.id: [r.x, r.y] for r in crops.itertuples()}

    def crop_records(rows: pd.DataFrame) -> list[dict]:
        return [{"sample_id": s.sample_id, "split": s.split, "gt": [s.frame_nose_x, s.frame_nose_y],
                 "pred": nose.get(s.sample_id), "box": [s.box_x0, s.box_y0, s.box_w, s.box_h]}
                for s in rows.itertuples()]

    return full_records, crop_records(fit), crop_records(test)


def validate(registry: Path, prepared: Path, raw: Path, cfg: ZeroshotConfig) -> dict[str, dict]:
    """Every `thermeval_nose` entry of `registry` (submissions.yaml) checked before anything scores it: an ONNX
    model's card and graph; a file against the frames and samples the profile scores (`prepared`:
    data/prepared/thermeval, `raw`: data/raw/thermeval, `cfg`: the zero-shot section), or its format alone before the
    first run made them. The first problem is one InputError; `core.submissions.validated` records."""
    entries = read(registry, "thermeval_nose")
    files = [e for e in entries if not e.onnx]
    scored = (prepared / FRAMES).is_file()
    if files and scored:
        frames, fit, test = protocol_rows(prepared, cfg)
    checked = {}
    for entry in entries:
        if entry.onnx:
            read_card(entry.path)
            checked[entry.name] = "onnx card and graph"
        elif scored:
            records(entry.path, frames, fit, test, raw)
            checked[entry.name] = "against the scored frames and samples"
        else:
            read_predictions(entry.path)
            checked[entry.name] = ("format only: its ids and points are not checked yet (no prepared ThermEval; the "
                                   "DAG's validate_thermeval_nose checks them before any scoring)")
    return validated(entries, checked)


def score_submissions(entries: list[Submission], prepared: Path, raw: Path, predictions: Path, metrics: Path,
                      cfg: ZeroshotConfig, crop_size: int, source: str) -> None:
    """Stage zeroshot_submissions: each predictions file (zeroshot/submission.py) scored as `predict` scores a
    model, on the same frames and crops; each ONNX model (models/onnx_model.py) run on them first, as `predict` runs
    a built-in one. Every file and card is read and checked before anything is run or written."""
    frames, fit, test = protocol_rows(prepared, cfg)
    cards = {e.name: read_card(e.path) for e in entries if e.onnx}
    found = {e.name: records(e.path, frames, fit, test, raw) for e in entries if not e.onnx}  # before any model runs
    for entry in entries:
        if entry.onnx:
            adapter = OnnxFaceModel(cards[entry.name], cfg.threads)
            found[entry.name] = (ev.run_full_frame(adapter, frames, raw)[0], ev.run_crops(adapter, fit, raw),
                                 ev.run_crops(adapter, test, raw))
    scored = {entry.name: (entry, found[entry.name]) for entry in entries}  # in the registry's order, as before
    out, runs = {}, {}
    for name, (entry, (full, fit_records, test_records)) in scored.items():
        head = {"model": name, "label": entry.label, "submission": True, "file": str(entry.path),
                "sha256": file_sha256(entry.path), **onnx_fields(cards.get(name)), "notes": entry.notes,
                "data": source, "status": "ok"}
        out[name] = {**head, **scores(full, fit_records, test_records, cfg, crop_size)}
        runs[name] = {**head, "full_frame": full, "crop": fit_records + test_records}
    write_json(predictions, {"data": source, "submissions": runs}, PREDICTION_DIGITS)
    write_json(metrics, {"data": source, "submissions": out})
