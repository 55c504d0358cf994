"""The TinyHead breath source's crop geometry, measured on the head's training crops (`make crop-geometry`).

The breath videos give a face box; the TinyHead was trained on ThermEval Person crops. The source therefore builds a
Person-like box about the face (params `breath.track.tinyhead`: `person_width`, `person_top`, `person_height`) and
refuses faces that fill a share of the crop the head never saw (`face_in_crop`). This measures all four on the
synthetic ThermEval train and val crops of data/prepared/thermeval (no test crop), each face box being the iBUG-68 box
of the base mesh at that person's pose (synth_meta.csv), placed by the annotated Nose:

- person_width: median Person box width / face box width, over the crops with |yaw| < 60 (the breath videos'
  near-frontal faces);
- person_top: median height of the face box top above the Person box top, in face box widths, over the same crops;
- face_in_crop: the least and the greatest face box width / crop window width over every train and val crop;
- person_height: the Person box height at which a face fills the middle of that range on a log scale,
  1 / (box_scale x sqrt(lo x hi)), for near faces whose torso the frame cuts early.

Writes conclusions/head_crop_geometry.json; its values go into the profiles' `breath.track.tinyhead`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from thermbench.core.io import InputError, write_json
from thermbench.core.stage import run
from thermbench.datasets.prepared import read_samples
from thermbench.datasets.synth.face import base_vertices
from thermbench.datasets.synth.meta import read_meta
from thermbench.datasets.synth.person import mapping70
from thermbench.datasets.synth.render import Pose, rotation
from thermbench.datasets.synth.thermeval import NOSE_TIP
from thermbench.datasets.thermeval import ANNOTATION_FILES, category_id, load_annotations

FRONTAL_YAW = 60.0
DIGITS = 3


def person_poses(raw: Path) -> pd.DataFrame:
    """One row per Person annotation: (annotation_file, person_id) -> its synth_meta.csv pose and face width. The
    writer appends a meta row for each person it draws, in the order of their Person annotations."""
    meta = read_meta(raw)
    meta["stem"] = meta.image_file.map(lambda name: Path(name).stem)  # file 2's images are .jpg, its rows say .png
    rows = []
    for file_no, name in ANNOTATION_FILES.items():
        coco = load_annotations(raw / name)
        person = category_id(coco, "Person", raw / name)
        files = {im["id"]: Path(im["file_name"]).stem for im in coco["images"]}
        for image_id, stem in files.items():
            ids = sorted(a["id"] for a in coco["annotations"] if a["image_id"] == image_id
                         and a["category_id"] == person)
            drawn = meta[(meta.stem == stem) & (meta.annotation_file == file_no)]
            if len(drawn) != len(ids):
                raise InputError(f"{raw / 'synth_meta.csv'}: {len(drawn)} people for {stem}, its annotations "
                                 f"have {len(ids)} Person boxes")
            rows += [{"annotation_file": file_no, "person_id": pid, **m}
                     for pid, m in zip(ids, drawn[["yaw", "pitch", "roll", "face_width_px"]].to_dict("records"))]
    return pd.DataFrame(rows)


def face_box(nose: np.ndarray, yaw: float, pitch: float, roll: float, width: float) -> np.ndarray:
    """The iBUG-68 box (x0, y0, x1, y1, frame px) of the base mesh at this pose, `width` px per head unit (the frontal
    face width), placed so that its nose tip lies on `nose`."""
    vertices = base_vertices() @ rotation(Pose(yaw, pitch, roll)).T
    points = (vertices[mapping70()[:68], :2] - vertices[NOSE_TIP, :2]) * width + nose
    return np.concatenate([points.min(axis=0), points.max(axis=0)])


def measure(raw: Path, prepared: Path, box_scale: float) -> dict:
    samples = read_samples(prepared, ("split", "annotation_file", "person_id", "frame_nose_x", "frame_nose_y",
                                      "person_y0", "person_w", "box_w"))
    samples = samples[samples.split.isin(["train", "val"])]
    rows = samples.merge(person_poses(raw), on=["annotation_file", "person_id"], how="left", validate="many_to_one")
    if rows.face_width_px.isna().any():
        raise InputError(f"{prepared}: a train/val crop whose Person box synth_meta.csv does not describe")
    boxes = np.array([face_box(np.array([r.frame_nose_x, r.frame_nose_y]), r.yaw, r.pitch, r.roll, r.face_width_px)
                      for r in rows.itertuples()])
    face_w = boxes[:, 2] - boxes[:, 0]
    share = face_w / rows.box_w.to_numpy()
    frontal = np.abs(rows.yaw.to_numpy()) < FRONTAL_YAW
    width = float(np.median((rows.person_w.to_numpy() / face_w)[frontal]))
    top = float(np.median(((boxes[:, 1] - rows.person_y0.to_numpy()) / face_w)[frontal]))
    lo, hi = float(share.min()), float(share.max())
    return {"crops": len(rows), "frontal_crops": int(frontal.sum()), "splits": ["train", "val"],
            "face_box": "the base mesh's iBUG-68 box at each person's pose, its nose tip on the annotated Nose",
            "tinyhead": {"person_width": round(width, DIGITS), "person_top": round(top, DIGITS),
                         "person_height": round(1 / (box_scale * np.sqrt(lo * hi)), DIGITS),
                         "face_in_crop": [round(lo, DIGITS), round(hi, DIGITS)]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=Path, default=Path("data/raw/thermeval"))
    parser.add_argument("--prepared", type=Path, default=Path("data/prepared/thermeval"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=Path("conclusions/head_crop_geometry.json"))
    args = parser.parse_args()
    box_scale = float(yaml.safe_load(args.params.read_text())["prepare"]["thermeval"]["box_scale"])
    result = measure(args.raw, args.prepared, box_scale)
    write_json(args.out, result)
    print(f"{args.out}: breath.track.tinyhead " + ", ".join(f"{k} {v}" for k, v in result["tinyhead"].items())
          + f" ({result['crops']} train and val crops)")


if __name__ == "__main__":
    run(main)
