"""A predictions file of 68 landmarks per test crop (task `landmarks68`), or an ONNX model run on those crops, scored
as Table I's zero-shot rows are: T-FAKE NME-IO and the CHARLOTTE subsets' NME-diag (common.nme_cells), on the same
test crops.

The file is a CSV with the columns `dataset, sample_id, x0, y0, x1, y1, ..., x67, y67`: one row per test crop of
T-FAKE (`dataset` tfake) and CHARLOTTE (`dataset` charlotte), `sample_id` as in data/prepared/<dataset>/samples.csv,
the 68 points in iBUG-68 order (the order the tests are labelled in), in pixels of that sample's crop image
(`crop_path`; continuous coordinates: pixel i covers [i, i+1)).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from thermbench.core.io import write_json
from thermbench.core.submissions import Submission, fail, read_rows
from thermbench.datasets.crop_store import Split, load_split
from thermbench.models.onnx_model import Card, OnnxLandmarks, onnx_fields, read_card
from thermbench.models.weights import file_sha256
from thermbench.zeroshot.table1.common import CROP, nme_cells

DATASETS = ("tfake", "charlotte")
POINTS = 68
FAR = 1.0  # a point more than this many crop sizes outside the crop is an error
BATCH = 64  # crops per ONNX Runtime call


def read_landmarks(path: Path, splits: dict[str, Split]) -> dict[str, np.ndarray]:
    """{dataset: (N, 68, 2) points in the crops' own px}, in the order of each test split's rows (`splits`:
    dataset -> its test split as load_split gives it); every test crop needs a row, and every point a number."""
    table = read_rows(path, ("dataset", "sample_id"))
    xs = sorted((c for c in table.columns if re.fullmatch(r"x\d+", c)), key=lambda c: int(c[1:]))
    expected = [f"{a}{i}" for i in range(POINTS) for a in "xy"]
    if len(xs) != POINTS or any(c not in table.columns for c in expected + ["dataset", "sample_id"]):
        raise fail(path, None, f"{len(xs)} points per row where 68 are expected: columns dataset, sample_id, "
                                "x0, y0, ..., x67, y67")
    unknown = table[~table["dataset"].isin(DATASETS)]
    if len(unknown):
        raise fail(path, int(unknown.iloc[0].row), f"dataset {unknown.iloc[0]['dataset']!r} is not one of "
                                                     f"{', '.join(DATASETS)}")
    out = {}
    for dataset, split in splits.items():
        ids = list(split.meta["sample_id"].astype(str))
        size = split.scale * np.array([split.images.shape[2], split.images.shape[1]])  # (w, h) of each crop
        out[dataset] = np.full((len(ids), POINTS, 2), np.nan)
        position = {sid: i for i, sid in enumerate(ids)}
        for r in table[table["dataset"] == dataset].itertuples():
            if r.sample_id not in position:
                raise fail(path, r.row, f"{dataset} sample {r.sample_id!r} is not one of its test crops")
            i = position[r.sample_id]
            if np.isfinite(out[dataset][i]).any():
                raise fail(path, r.row, f"duplicate row for {dataset} sample {r.sample_id!r}")
            points = pd.to_numeric(pd.Series([getattr(r, c) for c in expected]), errors="coerce").to_numpy()
            bad = np.flatnonzero(~np.isfinite(points))
            if bad.size:
                raise fail(path, r.row, f"{expected[bad[0]]} is {getattr(r, expected[bad[0]])!r}: every point "
                                         "needs finite numbers")
            points = points.reshape(POINTS, 2)
            w, h = size[i]
            far = ~((points[:, 0] >= -FAR * w) & (points[:, 0] <= (1 + FAR) * w)
                    & (points[:, 1] >= -FAR * h) & (points[:, 1] <= (1 + FAR) * h))
            if far.any():
                k = int(np.flatnonzero(far)[0])
                raise fail(path, r.row, f"point {k} ({points[k, 0]:g}, {points[k, 1]:g}) lies far outside the "
                                         f"{w:g}x{h:g} crop")
            out[dataset][i] = points
        missing = [sid for sid, i in position.items() if not np.isfinite(out[dataset][i]).all()]
        if missing:
            raise fail(path, None, f"no row for {dataset} sample {missing[0]!r} ({len(missing)} of {len(ids)} test "
                                    "crops missing; every test crop needs one)")
    return out


def onnx_landmarks(card: Card, tfake: Path, charlotte: Path, threads: int) -> dict[str, np.ndarray]:
    """{dataset: (N, 68, 2)} an ONNX model's iBUG-68 points on the test crops, in the crops' own px. The crops are
    decoded at the model's input size as the MLCM-KD students' test crops are (a square input), or resized from the
    256 px crop (any other)."""
    model = OnnxLandmarks(card, threads)
    width, height = card.size
    square = width == height
    out = {}
    for dataset, path in (("tfake", tfake), ("charlotte", charlotte)):
        split = load_split(path, "test", width if square else CROP, all_labelled=dataset == "tfake")
        images = split.images if square else np.stack([cv2.resize(i, (width, height), interpolation=cv2.INTER_LINEAR)
                                                       for i in split.images])
        to_split = np.ones(2) if square else np.array([CROP / width, CROP / height])
        points = np.concatenate([model(images[i:i + BATCH]) for i in range(0, len(images), BATCH)])
        out[dataset] = model.ibug68(points) * to_split * split.scale[:, None, :]
    return out


def evaluate(entries: list[Submission], tfake: Path, charlotte: Path, metrics_path: Path, data: dict[str, str],
             threads: int) -> dict:
    """Stage table1_submissions: each landmarks68 file's and each ONNX model's Table I row ({name: row} under
    `submissions`, the rows in the MLCM-KD metrics schema as the zero-shot rows are); every file and card is read and
    checked before anything is run or written. `data`: the data.source of T-FAKE and CHARLOTTE; `threads`: ONNX
    Runtime's."""
    cards = {e.name: read_card(e.path) for e in entries if e.onnx}
    for name, card in cards.items():
        if card.to_ibug68 is None:
            print(f"table1_submissions: {name}: not scored ({card.path}: keypoints {card.keypoints} have no "
                  "to_ibug68 mapping)", file=sys.stderr)
    entries = [e for e in entries if not e.onnx or cards[e.name].to_ibug68 is not None]
    rows, predictions = {}, {}
    if entries:  # the test crops are decoded only for a file or model to score
        splits = {"tfake": load_split(tfake, "test", CROP, all_labelled=True),
                  "charlotte": load_split(charlotte, "test", CROP)}
    for entry in entries:  # every file is read and checked before any model runs
        if not entry.onnx:
            predictions[entry.name] = read_landmarks(entry.path, splits)
    for entry in entries:
        if entry.onnx:
            predictions[entry.name] = onnx_landmarks(cards[entry.name], tfake, charlotte, threads)
    for entry in entries:
        pred = predictions[entry.name]
        rows[entry.name] = {"model": f"submission-{entry.name}", "kind": "submission", "label": entry.label,
                            "file": str(entry.path), "sha256": file_sha256(entry.path),
                            **onnx_fields(cards.get(entry.name)), "notes": entry.notes, "data": data,
                            "input_size": cards[entry.name].size[0] if entry.onnx else None, "training": None,
                            "complexity": None,
                            **nme_cells(pred["tfake"], splits["tfake"], pred["charlotte"], splits["charlotte"])}
    result = {"data": data, "submissions": rows}
    write_json(metrics_path, result)
    return result
