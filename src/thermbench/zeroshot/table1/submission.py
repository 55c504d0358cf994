"""A predictions file of 68 landmarks per test crop (task `landmarks68`), or an ONNX model run on those crops, scored
as Table I's zero-shot rows are: T-FAKE NME-IO and the CHARLOTTE subsets' NME-diag (common.nme_cells), on the same
test crops.

The file is a CSV with the columns `dataset, sample_id, x0, y0, x1, y1, ..., x67, y67`: one row per test crop of
T-FAKE (`dataset` tfake) and CHARLOTTE (`dataset` charlotte), `sample_id` as in data/prepared/<dataset>/samples.csv,
the 68 points in iBUG-68 order (the order the tests are labelled in), in pixels of that sample's crop image
(`crop_path`; continuous coordinates: pixel i covers [i, i+1)). Or a COCO keypoint results file (`.json`, as
MMPose's CocoMetric and pycocotools write one): a list of {image_id, category_id, keypoints: [x, y, v] * 68, score},
in the same crop px, `image_id` numbering the scored crops (`image_ids`; `python -m
thermbench.tools.submissions.submission ids --task landmarks68` prints them, `... coco-gt` writes them as a COCO ground
truth to run a model on).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from thermbench.core.io import write_json
from thermbench.core.items import items_path, write_items
from thermbench.core.submissions import Submission, fail, names, read, read_rows, shown, validated
from thermbench.datasets.crop_store import Split, load_split
from thermbench.datasets.prepared import SAMPLES
from thermbench.models.onnx_model import Card, OnnxLandmarks, onnx_fields, read_card
from thermbench.models.weights import file_sha256
from thermbench.zeroshot.table1.common import CROP, nme_cells, nme_items

DATASETS = ("tfake", "charlotte")
POINTS = 68
FAR = 1.0  # a point more than this many crop sizes outside the crop is an error
BATCH = 64  # crops per ONNX Runtime call


def test_splits(tfake: Path, charlotte: Path) -> dict[str, Split]:
    """The scored crops: the T-FAKE and CHARLOTTE test splits of the prepared sets, at the crop size."""
    return {"tfake": load_split(tfake, "test", CROP, all_labelled=True),
            "charlotte": load_split(charlotte, "test", CROP)}


def image_ids(splits: dict[str, Split]) -> list[tuple[int, str, str]]:
    """(image_id, dataset, sample_id) of every scored crop, the ids a COCO results file uses: 1, 2, ... over the test
    crops of T-FAKE, then of CHARLOTTE, each in its samples.csv order."""
    pairs = [(d, str(sid)) for d in DATASETS for sid in splits[d].meta["sample_id"]]
    return [(i + 1, d, sid) for i, (d, sid) in enumerate(pairs)]


def read_landmarks(path: Path, splits: dict[str, Split]) -> dict[str, np.ndarray]:
    """{dataset: (N, 68, 2) points in the crops' own px}, in the order of each test split's rows (`splits`:
    dataset -> its test split as load_split gives it), from a CSV or a COCO keypoint results file (`.json`); every
    test crop needs its points, and every point a number."""
    rows = _coco_rows(path, splits) if Path(path).suffix.lower() == ".json" else _csv_rows(path)
    out = {}
    for dataset, split in splits.items():
        ids = list(split.meta["sample_id"].astype(str))
        size = split.scale * np.array([split.images.shape[2], split.images.shape[1]])  # (w, h) of each crop
        out[dataset] = np.full((len(ids), POINTS, 2), np.nan)
        position = {sid: i for i, sid in enumerate(ids)}
        for at, sample_id, columns, values in rows.get(dataset, []):
            if sample_id not in position:
                raise fail(path, None, f"{at}: {dataset} sample {shown(sample_id)} is not one of its test crops")
            i = position[sample_id]  # a CSV's repeated row is refused by `_csv_rows`; COCO: `_coco_results` picks one
            points = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(np.float64)
            bad = np.flatnonzero(~np.isfinite(points))
            if bad.size:
                raise fail(path, None, f"{at}: {columns[bad[0]]} is {shown(values[bad[0]])}: every point needs finite "
                                       "numbers")
            points = points.reshape(POINTS, 2)
            w, h = size[i]
            far = ~((points[:, 0] >= -FAR * w) & (points[:, 0] <= (1 + FAR) * w)
                    & (points[:, 1] >= -FAR * h) & (points[:, 1] <= (1 + FAR) * h))
            if far.any():
                k = int(np.flatnonzero(far)[0])
                raise fail(path, None, f"{at}: point {k} ({points[k, 0]:g}, {points[k, 1]:g}) lies far outside the "
                                     f"{w:g}x{h:g} crop")
            out[dataset][i] = points
        missing = [sid for sid, i in position.items() if not np.isfinite(out[dataset][i]).all()]
        if missing:
            raise fail(path, None, f"no row for {dataset} sample {missing[0]!r} ({len(missing)} of {len(ids)} test "
                                    "crops missing; every test crop needs one)")
    return out


COLUMNS = ["dataset", "sample_id"] + [f"{a}{i}" for i in range(POINTS) for a in "xy"]


def _csv_rows(path: Path) -> dict[str, list]:
    """{dataset: [("row <line>", sample_id, column names, 136 values)]} of a CSV; a wrong column is named."""
    table = read_rows(path, ("dataset", "sample_id"))
    unknown = [c for c in table.columns if c not in COLUMNS and c != "row"]
    missing = [c for c in COLUMNS if c not in table.columns]
    if unknown or missing:
        xs = sum(1 for c in table.columns if re.fullmatch(r"x\d+", c))
        wrong = f"unknown column(s) {names(unknown)}" if unknown else f"{xs} points per row where 68 are expected"
        raise fail(path, None, f"{wrong}{'; missing ' + ', '.join(missing[:4]) if missing else ''}"
                               f"{' ...' if len(missing) > 4 else ''} (columns: dataset, sample_id, x0, y0, ..., "
                               "x67, y67)")
    unknown = table[~table["dataset"].isin(DATASETS)]
    if len(unknown):
        raise fail(path, int(unknown.iloc[0].row), f"dataset {shown(unknown.iloc[0]['dataset'])} is not one of "
                                                     f"{', '.join(DATASETS)}")
    doubled = table[table.duplicated(["dataset", "sample_id"], keep="first")]
    if len(doubled):
        r = doubled.iloc[0]
        raise fail(path, int(r.row), f"duplicate row for {r['dataset']} sample {shown(r['sample_id'])}")
    values = table[COLUMNS[2:]].to_numpy(object)
    rows = {}
    for r, v in zip(table.itertuples(), values):
        rows.setdefault(r.dataset, []).append((f"row {r.row}", r.sample_id, COLUMNS[2:], list(v)))
    return rows


RESULT_KEYS = {"image_id", "category_id", "keypoints", "score"}
# the one category of the ground truth `python -m thermbench.tools.submissions.submission coco-gt` writes
FACE_CATEGORY = 1


def _coco_results(path: Path) -> dict[int, tuple[float, int, list]]:
    """{image_id: (score, n, keypoints)} of the result scored for each image of a COCO keypoint results file: a JSON
    list of {image_id, category_id, keypoints: [x, y, v] * 68, score}, every result checked. Of several results for
    one image (one per face a detector found), the one pycocotools' COCOeval matches first: it sorts an image's
    results by score, descending, with a stable sort (`np.argsort(-score, kind='mergesort')` in evaluateImg), so
    the highest score wins and, among equal scores, the one earlier in the file. A result of another category than
    the face is refused: COCOeval would never score it (it evaluates the ground truth's categories only)."""
    try:
        results = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise fail(path, None, f"not JSON ({err})") from None
    if not isinstance(results, list):
        raise fail(path, None, "a COCO results file is a JSON list of {image_id, category_id, keypoints, score}")
    best = {}
    for n, result in enumerate(results):
        at = f"result {n}"
        if not isinstance(result, dict) or not RESULT_KEYS <= set(result):
            got = shown(sorted(result)) if isinstance(result, dict) else type(result).__name__
            raise fail(path, None, f"{at}: expected the keys {', '.join(sorted(RESULT_KEYS))}, got {got}")
        image_id, keypoints, score = result["image_id"], result["keypoints"], result["score"]
        if not isinstance(image_id, int) or isinstance(image_id, bool):
            raise fail(path, None, f"{at}: image_id {shown(image_id)} is not an integer")
        category = result["category_id"]
        if not isinstance(category, int) or isinstance(category, bool) or category != FACE_CATEGORY:
            raise fail(path, None, f"{at}: category_id {shown(category)} is not the face category ({FACE_CATEGORY}, "
                                   "as `python -m thermbench.tools.submissions.submission coco-gt` writes it)")
        if not isinstance(keypoints, list) or len(keypoints) != 3 * POINTS:
            count = len(keypoints) if isinstance(keypoints, list) else type(keypoints).__name__
            raise fail(path, None, f"{at}: keypoints holds {count} values where 68 x [x, y, v] = 204 are expected")
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not np.isfinite(score):
            raise fail(path, None, f"{at}: score {shown(score)} is not a finite number")
        if image_id not in best or score > best[image_id][0]:  # a tie keeps the earlier result
            best[image_id] = (score, n, keypoints)
    return best


def _coco_rows(path: Path, splits: dict[str, Split]) -> dict[str, list]:
    """{dataset: [("result <n>", sample_id, names, 136 values)]} of a COCO keypoint results file (`_coco_results`),
    image ids as `image_ids` gives them. As pycocotools' COCO.loadRes, its image ids must be a subset of the scored
    set."""
    scored = {image_id: (d, sid) for image_id, d, sid in image_ids(splits)}
    best = _coco_results(path)
    unknown = sorted(set(best) - set(scored))
    if unknown:
        shown = ", ".join(map(str, unknown[:5])) + (" ..." if len(unknown) > 5 else "")
        raise fail(path, None, f"image_id(s) {shown} are not among the {len(scored)} scored crops (ids 1..{len(scored)}"
                               "; `python -m thermbench.tools.submissions.submission ids --task landmarks68` lists "
                               "them): results do not correspond to the scored set")
    rows = {}
    for image_id, (_, n, keypoints) in sorted(best.items()):
        dataset, sample_id = scored[image_id]
        xy = [v for k, v in enumerate(keypoints) if k % 3 != 2]
        names = [f"keypoint {k // 2} {'xy'[k % 2]}" for k in range(2 * POINTS)]
        rows.setdefault(dataset, []).append((f"result {n}", sample_id, names, xy))
    return rows


def validate(registry: Path, tfake: Path, charlotte: Path) -> dict[str, dict]:
    """Every `landmarks68` entry of `registry` (submissions.yaml) checked before anything scores it: an ONNX model's
    card and graph; a file against the T-FAKE and CHARLOTTE test crops (`tfake`, `charlotte`: their prepared
    folders), or not yet before the first run made them. The first problem is one InputError."""
    entries = read(registry, "landmarks68")
    files = [e for e in entries if not e.onnx]
    have = all((d / SAMPLES).is_file() for d in (tfake, charlotte))
    splits = test_splits(tfake, charlotte) if files and have else None
    checked = {}
    for entry in entries:
        if entry.onnx:
            read_card(entry.path)
            checked[entry.name] = "onnx card and graph"
        elif splits is not None:
            read_landmarks(entry.path, splits)
            checked[entry.name] = "against the scored crops"
        else:
            if entry.path.suffix.lower() == ".json":
                _coco_results(entry.path)
            else:
                _csv_rows(entry.path)
            checked[entry.name] = ("format only: its ids and points are not checked yet (no prepared T-FAKE and "
                                   "CHARLOTTE; the DAG's validate_landmarks68 checks them before any scoring)")
    return validated(entries, checked)


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


def evaluate(entries: list[Submission], tfake: Path, charlotte: Path, metrics_path: Path, items_dir: Path,
             data: dict[str, str], threads: int) -> dict:
    """Stage table1_submissions: each landmarks68 file's and each ONNX model's Table I row ({name: row} under
    `submissions`, the rows in the MLCM-KD metrics schema as the zero-shot rows are), and its per-image NMEs under
    `items_dir` (`core.items.items_path`, by its row's label: the items its pairs on the landmarks68 boards are
    tested on); every file and card is read and checked before anything is run or written. `data`: the data.source
    of T-FAKE and CHARLOTTE; `threads`: ONNX Runtime's."""
    cards = {e.name: read_card(e.path) for e in entries if e.onnx}
    for name, card in cards.items():
        if card.to_ibug68 is None:
            print(f"table1_submissions: {name}: not scored ({card.path}: keypoints {card.keypoints} have no "
                  "to_ibug68 mapping)", file=sys.stderr)
    entries = [e for e in entries if not e.onnx or cards[e.name].to_ibug68 is not None]
    rows, predictions = {}, {}
    if entries:  # the test crops are decoded only for a file or model to score
        splits = test_splits(tfake, charlotte)
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
    items_dir.mkdir(parents=True, exist_ok=True)  # an empty folder when nothing is entered: the stage's output
    for entry in entries:
        pred = predictions[entry.name]
        write_items(items_path(items_dir, entry.label),
                    nme_items(pred["tfake"], splits["tfake"], pred["charlotte"], splits["charlotte"]))
    result = {"data": data, "submissions": rows}
    write_json(metrics_path, result)
    return result
