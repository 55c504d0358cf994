"""Tiny downloads in each real dataset's on-disk format, placed where the fetch stages look (params `fetch.*`,
`breath.real_dir`), so the paper route runs offline: ThermEval-D's Kaggle zip (with a wrapper folder and split 2's
.jpg names for .png files), FaceSynthetics' dataset_100.zip with T-FAKE's warm and cold thermal folders beside it,
the CHARLOTTE folder (frontal and profile rows, every frame one size), breath recordings in the video format
(one with full truth, one with a short truth.csv, one without), and the RGB teacher's sets: COCO's image zips with
the COCO-WholeBody annotations beside them, and 300W's part folders. Nothing here comes from the synthetic world."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from raw_builders import build_300w, build_charlotte, build_cocowholebody, build_tfake, build_thermeval, face_points
from thermbench.datasets.video import Subject, write_sequence


def _zip(folder: Path, archive: Path) -> None:
    """`folder` zipped with its own name as the wrapper folder inside."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder.parent).as_posix())


def thermeval_frames(n: int, offset: int) -> list[list]:
    """n frames of one person each (every third frame two), Person 40x80 px with a 5x7 px Nose box."""
    frames = []
    for i in range(n):
        x = 10 + (7 * i + offset) % 90
        persons = [([x, 60.0, 40.0, 80.0], [x + 17.0, 80.0, 5.0, 7.0])]
        if i % 3 == 0:
            persons.append(([x + 50.0, 120.0, 36.0, 90.0], [x + 65.0, 140.0, 5.0, 7.0]))
        frames.append(persons)
    return frames


def profile_points(mirror: bool) -> np.ndarray:
    """43 profile points over x 40..120, y 40..140, nose tip (18) left of the eye points (22-27) unless mirrored."""
    points = np.column_stack([np.linspace(40, 120, 43), np.linspace(40, 140, 43)])
    points[18, 0], points[22:28, 0] = 50, 90
    if mirror:
        points[:, 0] = 160 - points[:, 0]
    return points


def frontal_points(scale: float, x72: bool) -> np.ndarray:
    forehead = [[80, 30], [93, 28], [107, 28], [120, 30]] + ([[100, 20]] if x72 else [])
    return np.vstack([face_points(100, 80, scale), forehead])


def breath_frames(n: int, fps: float, bpm: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A warm face on a 22 °C room, the nostril spot warming 1 °C peak to peak at `bpm`; (frames °C, nostril xy)."""
    t = np.arange(n) / fps
    ys, xs = np.mgrid[0:96, 0:128] + 0.5
    face = ((xs - 64) ** 2 / 30**2 + (ys - 45) ** 2 / 38**2) <= 1
    resp = -0.5 * np.cos(2 * np.pi * bpm / 60 * t)
    spot = np.exp(-((xs - 64) ** 2 + (ys - 55) ** 2) / (2 * 2.5**2))
    frames = np.where(face, 33.0, 22.0)[None] + resp[:, None, None] * spot[None] + rng.normal(0, 0.05, (n, 96, 128))
    return frames, np.tile([64.0, 55.0], (n, 1))


def build_breath(root: Path) -> None:
    fps, n, bpm = 2.5, 30, 15.0  # 12 s: one rate window (real-smoke: breath.rates.chain.window_s 10)
    rng = np.random.default_rng(0)
    subject = [Subject("p", (34.0, 7.0, 94.0, 83.0))]
    for name, truth_frames in (("rec_full", n), ("rec_short", n // 2), ("rec_none", 0)):
        frames, nose = breath_frames(n, fps, bpm, rng)
        truth = None if not truth_frames else pd.DataFrame({
            "frame": range(truth_frames), "subject": "p", "rate_bpm": bpm,
            "nose_x": nose[:truth_frames, 0], "nose_y": nose[:truth_frames, 1]})
        write_sequence(root / name, frames, fps, subject, "centikelvin", truth)


def build_downloads(repo: Path) -> None:
    """Every download of the paper route under `repo` (its downloads/ and recordings/breath/)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_thermeval(tmp / "ThermEval_KDD", {1: thermeval_frames(10, 0), 2: thermeval_frames(10, 3)})
        _zip(tmp / "ThermEval_KDD", repo / "downloads/thermeval/thermeval.zip")  # kaggle_download's file name
        build_tfake(tmp / "dataset_100", 10, {"warm": 170, "cold": 90})
        shutil.move(tmp / "dataset_100" / "thermal", repo / "downloads/tfake_thermal")
        _zip(tmp / "dataset_100", repo / "downloads/tfake/dataset_100.zip")
    rows = [{"subject": "S1", "id": f"R1000{i}", "points": frontal_points(scale, x72=i == 0), "width": 320,
             "celsius": 31.0} for i, scale in enumerate((30, 40, 50))]
    rows += [{"subject": "S2", "id": f"R2000{i}", "points": profile_points(mirror=i == 1), "width": 320,
              "celsius": 32.0} for i in range(2)]
    build_charlotte(repo / "downloads/charlotte", rows)
    build_breath(repo / "recordings/breath")
    build_rgb_sets(repo)


COCO_FACES = {"train": (3, 1), "val": (2, 2)}  # split: (faces kept, faces MMPose skips); both images 320 x 240


def build_rgb_sets(repo: Path) -> None:
    """COCO-WholeBody (image zips in downloads/cocowholebody, the annotation JSONs put by hand beside them) and 300W
    (the iBUG part folders put by hand), where profiles/paper.yaml's fetch settings look."""
    points = np.column_stack([face_points(160, 110, 40), np.full(68, 2.0)])
    splits = {}
    for number, (split, (kept, skipped)) in enumerate(COCO_FACES.items()):
        faces = [{"id": 100 * number + i, "face_kpts": points + [8 * i, 0, 0], "face_box": [120 + 8 * i, 90, 80, 60],
                  "face_valid": True} for i in range(kept)]
        faces += [{"id": 100 * number + 50 + i, "face_kpts": np.zeros((68, 3)), "face_box": [0, 0, 0, 0],
                   "face_valid": False} for i in range(skipped)]
        splits[split] = [{"image_id": number + 1, "size": (320, 240), "mark": (160, 110), "faces": faces}]
    with tempfile.TemporaryDirectory() as tmp:
        raw = build_cocowholebody(Path(tmp) / "coco", splits)
        for split in COCO_FACES:
            _zip(raw / f"{split}2017", repo / f"downloads/cocowholebody/{split}2017.zip")
        shutil.move(raw / "annotations", repo / "downloads/cocowholebody_annotations")
    parts = ("afw", "helen/trainset", "lfpw/trainset", "helen/testset", "lfpw/testset", "ibug")
    build_300w(repo / "downloads/300w", {part: [(f"{i}_1", face_points(80 + i, 60, 20))]
                                         for i, part in enumerate(parts)})
