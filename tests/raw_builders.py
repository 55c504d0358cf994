"""Tiny raw dataset folders in the real on-disk formats, with known geometry, for the data-layer tests."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

# ThermEval frame: persons as (person bbox, nose bbox or None). Category ids deliberately differ from the synth ones.
CATEGORIES = [
    {"id": 7, "name": "Nose"},
    {"id": 4, "name": "Person"},
    {"id": 1, "name": "Chest"},
    {"id": 2, "name": "Forehead"},
]
PERSON_ID, NOSE_ID = 4, 7


def thermeval_image(persons: list) -> np.ndarray:
    """192x256 frame: background 0, Person boxes 60, Nose boxes 255 (so the nose is the brightest spot)."""
    image = np.zeros((256, 192), np.uint8)
    for box, value in [(p, 60) for p, _ in persons] + [(n, 255) for _, n in persons]:
        if box is not None:
            x, y, w, h = (int(round(v)) for v in box)  # fractional COCO boxes are drawn on whole pixels
            image[y : y + h, x : x + w] = value
    return image


def build_thermeval(raw: Path, files: dict[int, list[list]]) -> Path:
    """files = {1: [frame, ...], 2: [...]}, frame = [(person_bbox|None, nose_bbox|None), ...].

    File 2 lists its images with .jpg names while the files on disk are .png (the real dataset's quirk).
    """
    (raw / "images").mkdir(parents=True, exist_ok=True)
    (raw / "Annotations").mkdir(exist_ok=True)
    for number, frames in files.items():
        images, annotations = [], []
        for index, persons in enumerate(frames):
            image_id = 100 * number + index
            stem = f"f{number}_{index:03d}"
            cv2.imwrite(str(raw / "images" / f"{stem}.png"), thermeval_image(persons))
            name = f"{stem}.jpg" if number == 2 else f"{stem}.png"
            images.append({"id": image_id, "file_name": name, "width": 192, "height": 256})
            for person, nose in persons:
                for category, box in ((PERSON_ID, person), (NOSE_ID, nose)):
                    if box is None:
                        continue
                    x, y, w, h = box
                    annotations.append(
                        {
                            "id": len(annotations) + 1000 * number,
                            "image_id": image_id,
                            "category_id": category,
                            "bbox": [x, y, w, h],
                            "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]],
                            "area": w * h,
                            "iscrowd": 0,
                        }
                    )
        coco = {"images": images, "annotations": annotations, "categories": CATEGORIES}
        (raw / "Annotations" / f"annotations_{number}.json").write_text(json.dumps(coco))
    return raw


def build_thermeval_frames(root: Path, rng: np.random.Generator, splits: list[str]) -> tuple[Path, Path]:
    """frames.csv (the prepared ThermEval contract) under root/prepared and its raw 96x64 (H x W) frames under
    root/raw, one per entry of `splits`, each with one bright 30x50 person on darker noise: (prepared, raw)."""
    (root / "raw/images").mkdir(parents=True)
    (root / "prepared").mkdir()
    rows = []
    for i, split in enumerate(splits):
        frame = rng.integers(0, 60, (96, 64)).astype(np.uint8)
        x0, y0 = int(rng.integers(0, 30)), int(rng.integers(0, 40))
        frame[y0:y0 + 50, x0:x0 + 30] = 200
        cv2.imwrite(str(root / f"raw/images/{i}.png"), frame)
        rows.append({"image_file": f"images/{i}.png", "annotation_file": 1, "image_id": i, "split": split,
                     "noses": "[]", "persons": json.dumps([[x0, y0, x0 + 30, y0 + 50]])})
    pd.DataFrame(rows).to_csv(root / "prepared/frames.csv", index=False)
    return root / "prepared", root / "raw"


def face_points(cx: float, cy: float, scale: float) -> np.ndarray:
    """A plausible 68-point layout (unit face scaled about a centre); only its extent matters to the crops."""
    t = np.linspace(-1, 1, 17)
    jaw = np.column_stack([t, 0.2 + 0.8 * (1 - t**2) ** 0.5])
    brows = np.column_stack([np.linspace(-0.8, 0.8, 10), np.full(10, -0.5)])
    nose = np.column_stack(
        [np.r_[np.zeros(4), np.linspace(-0.2, 0.2, 5)], np.r_[np.linspace(-0.3, 0.1, 4), np.full(5, 0.2)]]
    )
    eyes = np.column_stack([np.r_[np.linspace(-0.6, -0.2, 6), np.linspace(0.2, 0.6, 6)], np.full(12, -0.25)])
    mouth = np.column_stack([np.linspace(-0.4, 0.4, 20), np.full(20, 0.5)])
    return np.vstack([jaw, brows, nose, eyes, mouth]) * scale + [cx, cy]


def build_tfake(raw: Path, n: int, conditions: dict[str, int] | None = None) -> Path:
    """n FaceSynthetics samples: 512x512 RGB, 70-point label file, thermal twin; face i centred at (256+i, 256).
    The twin is thermal/<id>.png (gray 128), or with `conditions` {name: gray} thermal/<name>/<id>.png per condition."""
    folders = {Path("thermal") / c: gray for c, gray in conditions.items()} if conditions else {Path("thermal"): 128}
    for folder in folders:
        (raw / folder).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        points = np.vstack([face_points(256 + i, 256, 100), [[216 + i, 231], [296 + i, 231]]])
        np.savetxt(raw / f"{i:06d}_ldmks.txt", points, fmt="%.4f")
        rgb = np.zeros((512, 512, 3), np.uint8)
        rgb[..., 2] = 200  # red in BGR order
        cv2.imwrite(str(raw / f"{i:06d}.png"), rgb)
        for folder, gray in folders.items():
            cv2.imwrite(str(raw / folder / f"{i:06d}.png"), np.full((512, 512), gray, np.uint8))
    return raw


def build_charlotte(raw: Path, rows: list[dict]) -> Path:
    """rows: {subject, id, points (72|73|43, 2), width, celsius}; writes S<k>.csv and S<k>/<id>.tiff (centikelvin).
    Columns x0..x71 (the releases seen), x0..x72 where a row has 73 points; NaN points are empty cells."""
    meta = ["Distance", "RH", "Airflow", "env-temp", "Sensation"]
    n = max([72] + [len(row["points"]) for row in rows])
    header = ["ID"] + [f"x{i}" for i in range(n)] + [f"y{i}" for i in range(n)] + meta
    by_subject: dict[str, list[str]] = {}
    for row in rows:
        (raw / row["subject"]).mkdir(parents=True, exist_ok=True)
        kelvin = np.full((160, row["width"]), (row["celsius"] + 273.15) * 100).round().astype(np.uint16)
        cv2.imwrite(str(raw / row["subject"] / f"{row['id']}.tiff"), kelvin)
        xs, ys = [""] * n, [""] * n
        for i, (x, y) in enumerate(row["points"]):
            if np.isfinite([x, y]).all():
                xs[i], ys[i] = f"{x:g}", f"{y:g}"
        by_subject.setdefault(row["subject"], []).append(",".join([row["id"], *xs, *ys, "2", "40", "0.1", "22", "0"]))
    for subject, lines in by_subject.items():
        (raw / f"{subject}.csv").write_text("\n".join([",".join(header), *lines]) + "\n")
    return raw


def build_prepared_crops(root, crop: int, n=(6, 3, 4), unused_row: bool = False):
    """A prepared ThermEval-contract folder: samples.csv + gray crops with a bright 3x3 blob at a random nose point
    (train/val/test counts `n`; `unused_row` adds a row outside the three splits), and frames.csv, one person a
    frame."""
    rng = np.random.default_rng(0)
    (root / "crops").mkdir(parents=True)
    rows = []
    for split, count in zip(("train", "val", "test"), n):
        for _ in range(count):
            sid = f"s{len(rows):03d}"
            x, y = rng.integers(4, crop - 4, size=2)
            image = rng.integers(0, 60, size=(crop, crop), dtype=np.uint8)
            image[y - 1:y + 2, x - 1:x + 2] = 255
            cv2.imwrite(str(root / "crops" / f"{sid}.png"), image)
            rows.append({"sample_id": sid, "split": split, "crop_path": f"crops/{sid}.png", "nose_x": float(x),
                         "nose_y": float(y), "box_x0": 0.0, "box_y0": 0.0, "box_w": 16.0, "box_h": 64.0,
                         "image_file": f"images/{sid}.png", "frame_nose_x": x / 2.0, "frame_nose_y": y * 2.0,
                         "person_x0": 1.0, "person_y0": 4.0, "person_w": 12.0, "person_h": 50.0})
    if unused_row:
        rows.append({**rows[0], "sample_id": "unused", "split": "unused"})
    pd.DataFrame(rows).to_csv(root / "samples.csv", index=False)
    frames = [{"image_file": r["image_file"], "annotation_file": 1, "image_id": i, "split": r["split"],
               "noses": json.dumps([[r["frame_nose_x"], r["frame_nose_y"]]]),
               "persons": json.dumps([[r["person_x0"], r["person_y0"], r["person_x0"] + r["person_w"],
                                       r["person_y0"] + r["person_h"]]])}
              for i, r in enumerate(rows) if r["sample_id"] != "unused"]
    pd.DataFrame(frames).to_csv(root / "frames.csv", index=False)  # one person per frame
    return root


def marked_image(width: int, height: int, mark: tuple[float, float]) -> np.ndarray:
    """Gray-40 BGR image with a white 5x5 square centred on the pixel that holds the continuous point `mark`."""
    image = np.full((height, width, 3), 40, np.uint8)
    x, y = int(mark[0]), int(mark[1])
    image[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3] = 255
    return image


def build_cocowholebody(raw: Path, splits: dict[str, list[dict]]) -> Path:
    """COCO-WholeBody v1.0 layout: annotations/coco_wholebody_<split>_v1.0.json + <split>2017/<file>.jpg.
    splits = {"train"|"val": [{image_id, size (w, h), mark (x, y), faces: [{id, face_kpts (68, 3), face_box,
    face_valid}]}]}; every person annotation also carries the body fields COCO has."""
    (raw / "annotations").mkdir(parents=True, exist_ok=True)
    for split, images in splits.items():
        (raw / f"{split}2017").mkdir(exist_ok=True)
        entries, annotations = [], []
        for image in images:
            name = f"{image['image_id']:012d}.jpg"
            cv2.imwrite(str(raw / f"{split}2017" / name), marked_image(*image["size"], image["mark"]))
            entries.append({"id": image["image_id"], "file_name": name, "width": image["size"][0],
                            "height": image["size"][1], "coco_url": f"http://images.cocodataset.org/{split}2017/{name}"})
            for face in image["faces"]:
                annotations.append({
                    "id": face["id"], "image_id": image["image_id"], "category_id": 1, "iscrowd": 0,
                    "keypoints": [0] * 51, "num_keypoints": 0, "bbox": [0, 0, 10, 10], "area": 100.0,
                    "face_kpts": np.asarray(face["face_kpts"], float).ravel().tolist(), "face_box": face["face_box"],
                    "face_valid": face["face_valid"], "lefthand_kpts": [0] * 63, "lefthand_valid": False,
                    "righthand_kpts": [0] * 63, "righthand_valid": False, "foot_kpts": [0] * 18,
                    "foot_valid": False})
        coco = {"images": entries, "annotations": annotations, "categories": [{"id": 1, "name": "person"}]}
        (raw / "annotations" / f"coco_wholebody_{split}_v1.0.json").write_text(json.dumps(coco))
    return raw


def write_pts(path: Path, points: np.ndarray) -> None:
    """A 300W .pts file (the spacing of iBUG's files: two spaces after n_points)."""
    lines = ["version: 1", "n_points:  68", "{", *(f"{x:.3f} {y:.3f}" for x, y in points), "}"]
    path.write_text("\n".join(lines) + "\n")


def build_300w(raw: Path, faces: dict[str, list[tuple[str, np.ndarray]]], size=(160, 120)) -> Path:
    """iBUG's 300W part folders: faces = {part: [(stem, continuous points (68, 2))]}; each .pts holds the points in
    the 1-based reading (continuous + 0.5), beside a marked image (.png in afw/, .jpg elsewhere) whose white square
    sits on point 30 (the nose tip)."""
    for part, items in faces.items():
        (raw / part).mkdir(parents=True, exist_ok=True)
        for stem, points in items:
            write_pts(raw / part / f"{stem}.pts", np.asarray(points) + 0.5)
            suffix = ".png" if part == "afw" else ".jpg"
            cv2.imwrite(str(raw / part / f"{stem}{suffix}"), marked_image(*size, tuple(points[30])))
    return raw


def build_prepared_landmarks(root: Path, rows: list[tuple[str, str]], extra: dict | None = None,
                             points: np.ndarray | None = None) -> None:
    """A prepared dataset in the samples.csv contract: 64x64 gray crops, 68 keypoints each (random in [8, 56], or
    `points` (68, 2) for every sample); `rows` (id, split)."""
    rng = np.random.default_rng(len(rows))
    (root / "crops").mkdir(parents=True)
    table = []
    for sample_id, split in rows:
        cv2.imwrite(str(root / f"crops/{sample_id}.png"), rng.integers(0, 256, (64, 64), dtype=np.uint8))
        xy = rng.uniform(8, 56, (68, 2)) if points is None else np.asarray(points, float)
        kpts = np.concatenate([xy, np.ones((68, 1))], axis=1).round(2).tolist()
        table.append({"sample_id": sample_id, "split": split, "crop_path": f"crops/{sample_id}.png",
                      "kpts": json.dumps(kpts), **(extra or {})})
    pd.DataFrame(table).to_csv(root / "samples.csv", index=False)
