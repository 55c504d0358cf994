"""Example submissions, in the formats submissions.yaml takes (docs/own-model.md):

    python -m thermbench.tools.submission thermeval_nose --from data/predictions/zeroshot/mediapipe.json --out F
    python -m thermbench.tools.submission breath_tracks --from data/breath/tracks/mediapipe.json --out F
    python -m thermbench.tools.submission landmarks68 --truth data/prepared --offset 3 4 --out F
    python -m thermbench.tools.submission onnx --from data/models/ktl/dikd/ktl-dikd-seed0 --out DIR

The first two rewrite a built-in model's own predictions (a zero-shot predictions file, a breath track file) as a
submission: entered, it must score exactly as that model's row. The third writes the T-FAKE and CHARLOTTE test
crops' ground truth moved by a known offset (px), whose NME follows by hand. The fourth exports a trained MLCM-KD
student to DIR/model.onnx with its model card DIR/card.yaml (models/onnx_model.py): entered, its Table I row must be
the student's own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from thermbench.core.io import InputError, read_json, write_text
from thermbench.core.stage import run
from thermbench.datasets.prepared import read_samples
from thermbench.models.rtmpose import PIXEL_MEAN, PIXEL_STD, load_model
from thermbench.speed.pose_speed import export_onnx
from thermbench.zeroshot.table1.submission import DATASETS, POINTS


def _csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, lineterminator="\n")  # shortest round-trip floats: the same numbers back


def nose_rows(predictions: dict) -> pd.DataFrame:
    """A zero-shot predictions file (zeroshot@<model>'s) as thermeval_nose rows."""
    if predictions.get("status") != "ok":
        raise InputError(f"the predictions file holds no predictions (status: {predictions.get('status')})")
    rows = [("full_frame", r["image_file"], x, y) for r in predictions["full_frame"] for x, y in r["pred"]]
    rows += [("crop", r["sample_id"], *r["pred"]) for r in predictions["crop"] if r["pred"] is not None]
    return pd.DataFrame(rows, columns=["protocol", "id", "x", "y"])


def track_rows(tracks: dict) -> pd.DataFrame:
    """A breath track file (breath_track@<source>'s) as breath_tracks rows (NaN: no face)."""
    if not tracks.get("available"):
        raise InputError(f"the track file holds no tracks ({tracks.get('reason')})")
    parts = [pd.DataFrame({"sequence": seq, "subject": subject, "frame": np.arange(len(points)),
                           "x": np.asarray(points, float).reshape(-1, 2)[:, 0],
                           "y": np.asarray(points, float).reshape(-1, 2)[:, 1]})
             for seq, subjects in sorted(tracks["tracks"].items()) for subject, points in sorted(subjects.items())]
    return pd.concat(parts, ignore_index=True)


def truth_rows(prepared: Path, offset: tuple[float, float]) -> pd.DataFrame:
    """The test crops' 68 ground-truth points (crop px) of T-FAKE and CHARLOTTE, moved by `offset`, as landmarks68
    rows (CHARLOTTE's unlabelled points keep their stored position: they are not scored)."""
    rows = []
    for dataset in DATASETS:
        samples = read_samples(prepared / dataset, ("sample_id", "split", "kpts"))
        for s in samples[samples["split"] == "test"].itertuples():
            points = np.asarray(json.loads(s.kpts), float)[:, :2] + offset
            rows.append({"dataset": dataset, "sample_id": s.sample_id,
                         **{f"{a}{i}": points[i, j] for i in range(POINTS) for j, a in enumerate("xy")}})
    return pd.DataFrame(rows)


OPSET = 17  # as the speed benchmark exports (params mlcmkd.speed.opset)
STUDENT_OUTPUTS = ["simcc_x", "simcc_y"]


def student_card(model_dir: Path, out: Path, window_c: tuple[float, float], crop_scale: float) -> Path:
    """A trained student (`model_dir`/model.safetensors) exported to `out`/model.onnx (batch axis dynamic) and its
    model card `out`/card.yaml: gray repeated to 3 channels, the students' mean/std, SimCC outputs, iBUG-68 points."""
    weights = Path(model_dir) / "model.safetensors"
    if not weights.is_file():
        raise InputError(f"--from {model_dir}: no model.safetensors there (run `make repro` first: it trains the "
                         "students)")
    model = load_model(weights).eval()
    width, height = model.cfg.input_size
    export_onnx(model, Path(out) / "model.onnx", (1, 3, height, width), OPSET, STUDENT_OUTPUTS, dynamic_batch=True)
    card = {"onnx": "model.onnx", "keypoints": "ibug68",
            "input": {"size": [width, height], "layout": "NCHW", "channels": 3, "mean": list(PIXEL_MEAN),
                      "std": list(PIXEL_STD), "window_c": list(window_c)},
            "output": {"kind": "simcc", "names": STUDENT_OUTPUTS, "split_ratio": float(model.cfg.split_ratio)},
            "face": {"detector": "hog", "upsample": 1, "crop_scale": crop_scale}}
    write_text(Path(out) / "card.yaml", yaml.safe_dump(card, sort_keys=False))
    return Path(out) / "card.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("thermeval_nose", "breath_tracks", "landmarks68", "onnx"))
    parser.add_argument("--from", dest="source", type=Path,
                        help="thermeval_nose: data/predictions/zeroshot/<model>.json; breath_tracks: "
                             "data/breath/tracks/<source>.json; onnx: a student's folder under data/models")
    parser.add_argument("--truth", type=Path, default=Path("data/prepared"), help="landmarks68: the prepared sets")
    parser.add_argument("--offset", type=float, nargs=2, default=(0.0, 0.0), help="landmarks68: px added (x, y)")
    parser.add_argument("--window-c", type=float, nargs=2, default=(20.0, 40.0),
                        help="onnx: the breath videos' °C window (params breath.track.students.window_c)")
    parser.add_argument("--crop-scale", type=float, default=1.25,
                        help="onnx: crop side / face box side (params breath.track.students.crop_scale)")
    parser.add_argument("--out", type=Path, required=True, help="e.g. submissions/<name>.csv (onnx: a folder)")
    args = parser.parse_args()
    if args.task == "onnx":
        card = student_card(args.source, args.out, tuple(args.window_c), args.crop_scale)
        print(f"{card}: the model card of {card.parent / 'model.onnx'}")
        return
    if args.task == "landmarks68":
        table = truth_rows(args.truth, tuple(args.offset))
    else:
        if args.source is None or not args.source.is_file():
            raise InputError(f"--from {args.source}: not found (run `make repro` first: it writes the built-in "
                             "models' predictions)")
        table = (nose_rows if args.task == "thermeval_nose" else track_rows)(read_json(args.source))
    write_text(args.out, _csv(table))
    print(f"{args.out}: {len(table)} rows ({args.task})")


if __name__ == "__main__":
    run(main)
