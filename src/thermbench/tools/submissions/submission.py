r"""Example submissions, in the formats submissions.yaml takes (docs/own-model.md):

    python -m thermbench.tools.submissions.submission thermeval_nose \
        --from data/predictions/zeroshot/mediapipe.json --out F
    python -m thermbench.tools.submissions.submission breath_tracks --from data/breath/tracks/mediapipe.json --out F
    python -m thermbench.tools.submissions.submission landmarks68 --truth data/prepared --offset 3 4 --out F
    python -m thermbench.tools.submissions.submission onnx --from data/models/ktl/dikd/ktl-dikd-seed0 --out DIR
    python -m thermbench.tools.submissions.submission ids --task thermeval_nose  # the scored ids, CSV on stdout
    python -m thermbench.tools.submissions.submission coco-gt --out F            # the scored crops, COCO ground truth

The first two rewrite a built-in model's own predictions (a zero-shot predictions file, a breath track file) as a
submission: entered, it must score exactly as that model's row. The third writes the T-FAKE and CHARLOTTE test
crops' ground truth moved by a known offset (px), whose NME follows by hand. The fourth exports a trained MLCM-KD
student to DIR/model.onnx with its model card DIR/card.yaml (models/onnx_model.py): entered, its Table I row must be
the student's own. `ids` prints the items a task scores under the current params (the smoke profile scores only the
first `zeroshot.limit` frames and crops): a predictions file may only name these. `coco-gt` writes the scored T-FAKE
and CHARLOTTE crops as a COCO keypoint ground truth (image ids as a COCO results file for landmarks68 uses them), to
run a COCO-style toolkit (MMPose's test script) on.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from thermbench.breath.tracks import read_tracks
from thermbench.core.io import InputError, is_number, read_json, write_json, write_text
from thermbench.core.stage import load_params, run, section
from thermbench.core.submissions import TASKS, names
from thermbench.datasets.prepared import read_samples
from thermbench.datasets.video import list_sequences, read_sequence
from thermbench.models.rtmpose import PIXEL_MEAN, PIXEL_STD, load_model
from thermbench.speed.pose_speed import export_onnx
from thermbench.zeroshot.bakeoff import ZeroshotConfig, config, protocol_rows
from thermbench.zeroshot.table1.submission import DATASETS, FACE_CATEGORY, POINTS, image_ids, test_splits


def _csv(table: pd.DataFrame) -> str:
    return table.to_csv(index=False, lineterminator="\n")  # shortest round-trip floats: the same numbers back


def _xy(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(map(is_number, value))


# protocol -> (the keys of each record, what they hold, whether a record's `pred` is of that shape)
NOSE_RECORDS = {"full_frame": (("image_file", "pred"), "{image_file, pred: [[x, y], ...]}",
                               lambda pred: isinstance(pred, list) and all(map(_xy, pred))),
                "crop": (("sample_id", "pred"), "{sample_id, pred: [x, y] or null}",
                         lambda pred: pred is None or _xy(pred))}


def read_nose_predictions(path: Path) -> dict:
    """A zero-shot predictions file (zeroshot@<model>'s) that holds predictions, its shape checked before anything
    reads it (`NOSE_RECORDS`); else one line naming the file."""
    data = read_json(path)
    what = f"{path}: not a zero-shot predictions file (data/predictions/zeroshot/<model>.json)"
    if not isinstance(data, dict):
        raise InputError(f"{what}: a JSON {type(data).__name__} where an object with 'status' is expected")
    if "status" not in data:
        raise InputError(f"{what}: no 'status' among its keys ({names(sorted(data)) or 'none'})")
    if data["status"] != "ok":
        raise InputError(f"{path}: the predictions file holds no predictions (status: {data['status']})")
    for protocol, (keys, shape, fits) in NOSE_RECORDS.items():
        records = data.get(protocol)
        if not isinstance(records, list) or not all(isinstance(r, dict) and set(keys) <= set(r) and fits(r["pred"])
                                                    for r in records):
            raise InputError(f"{what}: '{protocol}' must be a list of {shape}")
    return data


def nose_rows(predictions: dict) -> pd.DataFrame:
    """A zero-shot predictions file with predictions (zeroshot@<model>'s, as `read_nose_predictions` reads it) as
    thermeval_nose rows."""
    rows = [("full_frame", r["image_file"], x, y) for r in predictions["full_frame"] for x, y in r["pred"]]
    rows += [("crop", r["sample_id"], *r["pred"]) for r in predictions["crop"] if r["pred"] is not None]
    return pd.DataFrame(rows, columns=["protocol", "id", "x", "y"])


def track_rows(path: Path) -> pd.DataFrame:
    """A breath track file (breath_track@<source>'s, read by `read_tracks`) as breath_tracks rows (NaN: no face)."""
    tracks = read_tracks(path)
    if not tracks["available"]:
        raise InputError(f"{path}: the track file holds no tracks ({tracks.get('reason')})")
    parts = [pd.DataFrame({"sequence": seq, "subject": subject, "frame": np.arange(len(points)),
                           "x": points[:, 0], "y": points[:, 1]})
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


def scored_ids(task: str, prepared: Path, videos: Path, cfg: ZeroshotConfig) -> pd.DataFrame:
    """The items `task` scores: thermeval_nose its frames (`protocol` full_frame) and the crops of the offset-fit and
    scored splits (`protocol` crop); landmarks68 the test crops with their COCO image ids; breath_tracks each subject's
    frame count."""
    if task == "thermeval_nose":
        frames, fit, test = protocol_rows(prepared / "thermeval", cfg)
        return pd.concat([pd.DataFrame({"protocol": "full_frame", "id": frames["image_file"],
                                        "split": frames["split"]}),
                          *(pd.DataFrame({"protocol": "crop", "id": rows["sample_id"], "split": rows["split"]})
                            for rows in (fit, test))], ignore_index=True)
    if task == "landmarks68":
        splits = test_splits(prepared / "tfake", prepared / "charlotte")
        paths = {(d, str(r.sample_id)): r.crop_path for d in DATASETS for r in splits[d].meta.itertuples()}
        return pd.DataFrame([{"image_id": i, "dataset": d, "sample_id": sid, "crop_path": f"{d}/{paths[d, sid]}"}
                             for i, d, sid in image_ids(splits)])
    rows = [{"sequence": seq.name, "subject": subject.id, "frames": len(seq.frames)}
            for seq in (read_sequence(folder, with_frames=False) for folder in list_sequences(videos))
            for subject in seq.subjects]
    return pd.DataFrame(rows, columns=["sequence", "subject", "frames"])


def coco_ground_truth(prepared: Path) -> dict:
    """The scored T-FAKE and CHARLOTTE test crops as a COCO keypoint ground truth: one image per crop (`file_name`
    relative to `prepared`), one face annotation covering it with its 68 points (v 2 labelled, 0 not), ids as
    `image_ids` numbers them."""
    splits = test_splits(prepared / "tfake", prepared / "charlotte")
    images, annotations = [], []
    for image_id, dataset, sample_id in image_ids(splits):
        split = splits[dataset]
        i = int(np.flatnonzero(split.meta["sample_id"].astype(str) == sample_id)[0])
        w, h = (split.scale[i] * [split.images.shape[2], split.images.shape[1]]).round().astype(int).tolist()
        points = split.kpts[i] * split.scale[i]
        v = np.where(split.visible[i] > 0, 2, 0)
        images.append({"id": image_id, "file_name": f"{dataset}/{split.meta['crop_path'].iloc[i]}", "width": w,
                       "height": h})
        annotations.append({"id": image_id, "image_id": image_id, "category_id": FACE_CATEGORY, "bbox": [0, 0, w, h],
                            "area": w * h, "iscrowd": 0, "num_keypoints": int((v > 0).sum()),
                            "keypoints": np.column_stack([points, v]).ravel().round(3).tolist()})
    category = {"id": FACE_CATEGORY, "name": "face", "keypoints": [str(k) for k in range(POINTS)], "skeleton": []}
    return {"images": images, "annotations": annotations, "categories": [category]}


MADE_BY = {"thermeval_nose": {"thermeval": "prepare@thermeval"},  # task -> {what it reads: the stage that makes it}
           "landmarks68": {"tfake": "prepare@tfake", "charlotte": "prepare@charlotte"},
           "breath_tracks": {"videos": "breath_videos"}}
FROM = {"thermeval_nose": "a zero-shot model's predictions, data/predictions/zeroshot/<model>.json",
        "breath_tracks": "a source's track file, data/breath/tracks/<source>.json",
        "onnx": "a student's folder under data/models, e.g. data/models/ktl/dikd/ktl-dikd-seed0"}


def check_made(task: str, prepared: Path, videos: Path) -> None:
    """One line naming the command that makes what `task` reads (prepared sets, breath videos) where it is absent."""
    missing = {stage: path for name, stage in MADE_BY[task].items()
               if not (path := videos if name == "videos" else prepared / name).is_dir()}
    if missing:
        raise InputError(f"{', '.join(map(str, missing.values()))}: not made yet; "
                         f"`make repro TARGETS=\"{' '.join(missing)}\"` makes {'them' if len(missing) > 1 else 'it'} "
                         "(the current params)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=("thermeval_nose", "breath_tracks", "landmarks68", "onnx", "ids", "coco-gt"))
    parser.add_argument("--task", dest="of", choices=TASKS, help="ids: the task whose scored items to print")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="ids: the params (zeroshot.limit)")
    parser.add_argument("--videos", type=Path, default=Path("data/raw/breath"), help="ids: the breath videos")
    parser.add_argument("--from", dest="source", type=Path,
                        help="thermeval_nose: data/predictions/zeroshot/<model>.json; breath_tracks: "
                             "data/breath/tracks/<source>.json; onnx: a student's folder under data/models")
    parser.add_argument("--truth", type=Path, default=Path("data/prepared"),
                        help="landmarks68, ids, coco-gt: the prepared sets")
    parser.add_argument("--offset", type=float, nargs=2, default=(0.0, 0.0), help="landmarks68: px added (x, y)")
    parser.add_argument("--window-c", type=float, nargs=2, default=(20.0, 40.0),
                        help="onnx: the breath videos' °C window (params breath.track.students.window_c)")
    parser.add_argument("--crop-scale", type=float, default=1.25,
                        help="onnx: crop side / face box side (params breath.track.students.crop_scale)")
    parser.add_argument("--out", type=Path, help="e.g. submissions/<name>.csv (onnx: a folder; ids: stdout)")
    args = parser.parse_args()
    if args.task == "ids":
        if args.of is None:
            raise InputError(f"ids: name the task with --task ({', '.join(TASKS)})")
        cfg = config(section(load_params(args.params), "zeroshot"))
        check_made(args.of, args.truth, args.videos)
        sys.stdout.write(_csv(scored_ids(args.of, args.truth, args.videos, cfg)))
        return
    if args.out is None:
        raise InputError(f"{args.task}: name the file to write with --out")
    if args.task in FROM and args.source is None:
        raise InputError(f"{args.task}: name what to rewrite with --from ({FROM[args.task]})")
    if args.task == "coco-gt":
        check_made("landmarks68", args.truth, args.videos)
        gt = coco_ground_truth(args.truth)
        write_json(args.out, gt, 3)
        print(f"{args.out}: {len(gt['images'])} crops (images under {args.truth})")
        return
    if args.task == "onnx":
        card = student_card(args.source, args.out, tuple(args.window_c), args.crop_scale)
        print(f"{card}: the model card of {card.parent / 'model.onnx'}")
        return
    if args.task == "landmarks68":
        check_made("landmarks68", args.truth, args.videos)
        table = truth_rows(args.truth, tuple(args.offset))
    else:
        if not args.source.is_file():
            raise InputError(f"--from {args.source}: not found (run `make repro` first: it writes the built-in "
                             "models' predictions)")
        table = (nose_rows(read_nose_predictions(args.source)) if args.task == "thermeval_nose"
                 else track_rows(args.source))
    write_text(args.out, _csv(table))
    print(f"{args.out}: {len(table)} rows ({args.task})")


if __name__ == "__main__":
    run(main)
