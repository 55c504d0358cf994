"""CHARLOTTE-ThermalFace layout: S<k>/R<k><nnnn>.tiff (uint16 centikelvin) and S<k>.csv at the root with
ID, x0..x71, y0..y71, Distance, RH, Airflow, env-temp, Sensation. Frontal rows carry 72 points (iBUG-68 + 4 on the
forehead); profile rows 43 points written with the team's profile table (schemas/charlotte43_to_ibug68.json).
synth_meta.csv (pose per image) is our extra."""

from __future__ import annotations

import csv
import dataclasses
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from thermbench.core.keypoints import load_schema
from thermbench.core.parallel import ordered_map
from thermbench.datasets.common import centikelvin_from_celsius
from thermbench.datasets.synth import scene, thermal
from thermbench.datasets.synth.face import sample_expression, sample_identity
from thermbench.datasets.synth.person import shoot
from thermbench.datasets.synth.render import Camera, Pose

# The keys of synth.charlotte that `write` reads.
REQUIRED = ("subjects", "images_per_subject", "median_width_px")

DATASET_CODE = 3
N_POINTS = 72
ENV_TEMPS = (20.5, 22.5, 24.5, 26.5)
DISTANCES = np.round(np.linspace(1.0, 6.6, 10), 2)
YAWS, PITCHES = (-65.0, -30.0, 0.0, 30.0, 65.0), (-20.0, -10.0, 0.0, 10.0, 20.0)  # 25 head positions
PROFILE_YAW = 50.0
# MediaPipe vertices for the points no iBUG index covers (our choice): four forehead points of the frontal set,
# left to right in the image; and, per visible side, the profile points that the table leaves as None.
FOREHEAD4 = [104, 108, 337, 333]
PROFILE_EXTRA = {"left": {14: 285, 40: 299, 41: 333, 42: 298}, "right": {14: 55, 40: 69, 41: 104, 42: 68}}
SKIN_FIELDS = ("canthus", "forehead", "cheek", "nose", "lips", "ear", "beard", "neck")


def header() -> list[str]:
    return ["ID"] + [f"x{i}" for i in range(N_POINTS)] + [f"y{i}" for i in range(N_POINTS)] + [
        "Distance", "RH", "Airflow", "env-temp", "Sensation"]


def profile_points(points478: np.ndarray, points68: np.ndarray) -> np.ndarray:
    """The 43 profile points, for whichever side the pose shows (the nose lies beyond both eyes on that side)."""
    table = load_schema("charlotte43_to_ibug68")["profile_to_ibug68_left"]
    flip = {}
    for a, b in load_schema("ibug68")["flip_pairs"]:
        flip[a], flip[b] = b, a
    side = "left" if points68[30, 0] < points68[36:48, 0].mean() else "right"
    out = np.zeros((len(table), 2))
    for k, j in enumerate(table):
        if j is None:
            out[k] = points478[PROFILE_EXTRA[side][k]]
        else:
            out[k] = points68[j if side == "left" else flip.get(j, j)]
    return out


def _image_width(rng: np.random.Generator, median: float) -> int:
    """A third of the images at the median width, a third wider, a third narrower (the prepared set groups
    images as high|mean|low against the median)."""
    side = int(rng.integers(-1, 2))
    if side == 0:
        return int(round(median))
    return int(np.clip(round(median * np.exp(side * (0.05 + abs(rng.normal(0, 0.25))))), 100, 400))


def _look_at(look: thermal.ThermalLook, env_temp: float) -> thermal.ThermalLook:
    """The subject's skin follows the room a little; hair and clothing stay."""
    shift = 0.15 * (env_temp - look.ambient)
    return dataclasses.replace(look, ambient=env_temp, **{f: getattr(look, f) + shift for f in SKIN_FIELDS})


def write(out: Path, cfg: dict, seed: int, workers: int | None = None) -> None:
    """`cfg["subjects"]` subject folders of `cfg["images_per_subject"]` images, on `workers` processes (None = every
    core): each subject and image draws from its own seed, so the files do not depend on the number of workers."""
    write_one = partial(_write_subject, out=out, cfg=cfg, seed=seed)
    subjects = range(1, int(cfg["subjects"]) + 1)
    parts = ordered_map(write_one, subjects, "synth charlotte", workers, unit="subject")
    meta = [row for rows in parts for row in rows]
    pd.DataFrame(meta).round(3).to_csv(out / "synth_meta.csv", index=False)


def _write_subject(subject: int, out: Path, cfg: dict, seed: int) -> list[dict]:
    """Subject `subject`'s folder of TIFFs and its label CSV; its synth_meta rows."""
    median_w = float(cfg["median_width_px"])
    (out / f"S{subject}").mkdir(parents=True)
    subject_rng = np.random.default_rng([seed, DATASET_CODE, subject])
    identity = sample_identity(subject_rng)
    base_look = identity.thermal
    rows, meta = [], []
    for j in range(int(cfg["images_per_subject"])):
        rng = np.random.default_rng([seed, DATASET_CODE, subject, j])
        env = float(rng.choice(ENV_TEMPS))
        distance = float(rng.choice(DISTANCES))
        identity.thermal = _look_at(base_look, env)
        pose = Pose(float(rng.choice(YAWS) + rng.normal(0, 4)), float(rng.choice(PITCHES) + rng.normal(0, 3)),
                    float(rng.normal(0, 4)))
        width = _image_width(rng, median_w)
        height = int(round(width * 1.25))
        face_w = width * rng.uniform(0.5, 0.62)
        cam = Camera(face_w, (width / 2 + rng.normal(0, 4), height * 0.45), (height, width))
        shot = shoot(identity, sample_expression(rng), pose, cam, rng)
        _, temp = scene.composite(shot.render, None, scene.thermal_background(rng, (height, width), env))
        sensor = thermal.make_sensor(rng, (height, width), blur_sigma=0.6 + 0.12 * distance)
        temp = thermal.apply_sensor(temp, sensor, rng)
        image_id = f"R{subject}{j:04d}"
        tifffile.imwrite(out / f"S{subject}" / f"{image_id}.tiff", centikelvin_from_celsius(temp))
        profile = abs(pose.yaw) >= PROFILE_YAW
        pts = profile_points(shot.render.points, shot.points70[:68]) if profile else np.concatenate(
            [shot.points70[:68], shot.render.points[FOREHEAD4]])
        xs, ys = [""] * N_POINTS, [""] * N_POINTS
        for k, (x, y) in enumerate(pts):
            xs[k], ys[k] = f"{x:.2f}", f"{y:.2f}"
        sensation = int(np.clip(round((env - 23.5) / 2.5 + rng.normal(0, 0.5)), -1, 1))
        rows.append([image_id, *xs, *ys, distance, round(float(rng.uniform(30, 60)), 1),
                     round(float(rng.choice([0.0, 0.2, 0.4, 0.8])), 1), env, sensation])
        meta.append({"ID": image_id, "subject": subject, "yaw": pose.yaw, "pitch": pose.pitch, "roll": pose.roll,
                     "view": "side" if profile else "front", "image_width": width,
                     "glasses": int(identity.glasses)})
    with open(out / f"S{subject}.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header())
        writer.writerows(rows)
    return meta
