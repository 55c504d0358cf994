"""ThermEval-D layout: Annotations/annotations_{1,2}.json (COCO; Person/Chest/Forehead/Nose), images/<stem>.png
(8-bit, per-frame min-max) and Temp_Matrix/<stem>.tiff (float32 °C), 192 wide x 256 tall, 0-3 small people per frame.
In annotations_2.json file names end in .jpg while the files are .png, as in the real set.
synth_meta.csv (one row per person: pose, face width, whether a Nose was annotated) is our extra."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import tifffile

from thermbench.core.parallel import ordered_map
from thermbench.datasets.synth import scene, thermal
from thermbench.datasets.synth.face import base_vertices, sample_expression, sample_identity
from thermbench.datasets.synth.person import shoot
from thermbench.datasets.synth.render import Camera, Pose

# The keys of synth.thermeval that `write` reads.
REQUIRED = ("frames_file1", "frames_file2", "people_probs", "face_width_px", "blur_px")

DATASET_CODE = 2
WIDTH, HEIGHT = 192, 256
CATEGORIES = [{"id": i, "name": n} for i, n in enumerate(("Person", "Chest", "Forehead", "Nose"))]
SUPERSAMPLE = 4  # heads are rendered at 4x and area-averaged: faces are only 20-30 px wide
NOSE_TIP = 4  # MediaPipe vertex
HEAD_BOX = (-0.75, -1.0, 0.75, 1.45)  # head-unit extent of head + neck (x0, y0, x1, y1)


def _forehead_vertices() -> np.ndarray:
    v = base_vertices()
    brow_y = v[[105, 334], 1].mean()
    return np.nonzero((v[:, 1] < brow_y - 0.05) & (v[:, 1] > -0.45) & (np.abs(v[:, 0]) < 0.3))[0]


def _polygon(points: np.ndarray) -> list[float]:
    return [round(float(c), 2) for c in points.reshape(-1)]


def _annotation(cat: int, poly: np.ndarray) -> dict:
    x0, y0 = poly.min(0)
    x1, y1 = poly.max(0)
    area = float(cv2.contourArea(poly.astype(np.float32)))
    return {"category_id": cat, "bbox": [round(float(x0), 2), round(float(y0), 2), round(float(x1 - x0), 2),
            round(float(y1 - y0), 2)], "segmentation": [_polygon(poly)], "area": round(area, 2), "iscrowd": 0}


def _clip_poly(poly: np.ndarray) -> np.ndarray:
    return np.clip(poly, [0, 0], [WIDTH - 1, HEIGHT - 1])


def _sample_person_yaw(rng: np.random.Generator) -> float:
    """Mostly towards the camera; some side views and backs of heads, so some people have no Nose label."""
    kind = rng.random()
    if kind < 0.72:
        return float(rng.uniform(-60, 60))
    if kind < 0.86:
        return float(rng.choice([-1, 1]) * rng.uniform(75, 110))
    return float(rng.choice([-1, 1]) * rng.uniform(130, 180))


def _person(frame_t: np.ndarray, rng: np.random.Generator, cx: float, ambient: float, people_meta: list,
            face_width: tuple[float, float]) -> list:
    """Draw one person into `frame_t` (°C, in place), its face `face_width` px wide (uniform range); return its
    annotations (without ids) and append its pose to `people_meta`."""
    fw = float(rng.uniform(*face_width))
    hy = float(rng.uniform(45, 140))
    identity, expr = sample_identity(rng), sample_expression(rng)
    identity.thermal = thermal.sample_thermal_look(rng, ambient)  # everyone in the frame shares the room
    pose = Pose(_sample_person_yaw(rng), float(rng.uniform(-15, 15)), float(rng.uniform(-10, 10)))
    # Shoulders and trunk (clothing) as a soft silhouette in °C, drawn before the head; the chest sits below the neck.
    torso = np.zeros_like(frame_t)
    half = 1.15 * fw * (0.7 + 0.3 * abs(np.cos(np.radians(pose.yaw * 0.3))))
    top_y = hy + 1.25 * fw
    cv2.ellipse(torso, (int(round(cx)), int(round(top_y + 0.45 * fw))), (int(half), int(0.5 * fw)), 0, 180, 360, 1, -1)
    cv2.rectangle(torso, (int(round(cx - half)), int(round(top_y + 0.45 * fw))), (int(round(cx + half)), HEIGHT), 1, -1)
    torso = cv2.GaussianBlur(torso, (0, 0), 0.8)
    cloth = identity.thermal.clothing + np.linspace(0.8, -0.8, HEIGHT)[:, None] * (torso > 0)
    frame_t[:] = frame_t * (1 - torso) + torso * cloth
    chest_c = (cx, top_y + 1.3 * fw)

    s = SUPERSAMPLE
    x0, y0, x1, y1 = HEAD_BOX
    pw, ph = int(np.ceil((x1 - x0) * fw)), int(np.ceil((y1 - y0) * fw))
    left, top = int(round(cx + x0 * fw)), int(round(hy + y0 * fw))
    cam = Camera(fw * s, ((cx - left) * s, (hy - top) * s), (ph * s, pw * s))
    shot = shoot(identity, expr, pose, cam, rng, with_torso=False)
    alpha = cv2.resize(shot.render.mask.astype(np.float32), (pw, ph), interpolation=cv2.INTER_AREA)
    hot = cv2.resize(shot.render.temp * shot.render.mask, (pw, ph), interpolation=cv2.INTER_AREA)
    head_t = hot / np.maximum(alpha, 1e-6)
    # Paste the patch where it overlaps the frame.
    fx0, fy0, fx1, fy1 = max(left, 0), max(top, 0), min(left + pw, WIDTH), min(top + ph, HEIGHT)
    if fx1 <= fx0 or fy1 <= fy0:
        return []
    a = alpha[fy0 - top : fy1 - top, fx0 - left : fx1 - left]
    region = frame_t[fy0:fy1, fx0:fx1]
    region[:] = region * (1 - a) + head_t[fy0 - top : fy1 - top, fx0 - left : fx1 - left] * a

    def to_frame(points: np.ndarray) -> np.ndarray:
        return points / s + np.array([left, top])

    mask_pts = np.argwhere(torso > 0.5)[:, ::-1].astype(float)
    head_pts = np.argwhere(alpha > 0.5)[:, ::-1] + np.array([left, top])
    body = np.concatenate([mask_pts, head_pts]) if len(head_pts) else mask_pts
    bx0, by0 = body.min(0)
    bx1, by1 = body.max(0)
    anns = [_annotation(0, _clip_poly(np.array([[bx0, by0], [bx1, by0], [bx1, by1], [bx0, by1]])))]
    if abs(pose.yaw) < 90:
        centre = (int(round(chest_c[0])), int(round(chest_c[1])))
        chest = cv2.ellipse2Poly(centre, (int(0.55 * fw), int(0.4 * fw)), 0, 0, 360, 45)
        anns.append(_annotation(1, _clip_poly(chest.astype(float))))
    fore = _forehead_vertices()
    if shot.render.visible[fore].mean() > 0.6:
        pts = to_frame(shot.render.points[fore][shot.render.visible[fore]]).astype(np.float32)
        anns.append(_annotation(2, _clip_poly(cv2.convexHull(pts)[:, 0].astype(float))))
    nose = to_frame(shot.render.points[NOSE_TIP])
    in_frame = 3 <= nose[0] < WIDTH - 3 and 3 <= nose[1] < HEIGHT - 3
    has_nose = bool(shot.render.visible[NOSE_TIP] and abs(pose.yaw) < 75 and in_frame)
    if has_nose:
        poly = cv2.ellipse2Poly((0, 0), (25, 35), 0, 0, 360, 45).astype(float) / 10 + nose  # ~5x7 px
        anns.append(_annotation(3, _clip_poly(poly)))
    people_meta.append({"yaw": pose.yaw, "pitch": pose.pitch, "roll": pose.roll, "face_width_px": fw,
                        "nose": int(has_nose)})
    return anns


def frame(rng: np.random.Generator, sensor: thermal.Sensor, p_people: list[float], face_width: tuple[float, float]):
    """One frame: (°C after the sensor, COCO annotations without ids, the people's meta rows)."""
    ambient = float(rng.uniform(20, 26))
    temp = scene.thermal_background(rng, (HEIGHT, WIDTH), ambient, objects=int(rng.integers(0, 3)))
    n = int(rng.choice(len(p_people), p=p_people))
    slots = (np.arange(n) + rng.uniform(0.3, 0.7, n)) * WIDTH / max(n, 1)
    anns, people = [], []
    for cx in rng.permutation(slots):
        anns += _person(temp, rng, float(cx), ambient, people, face_width)
    return thermal.apply_sensor(temp, sensor, rng), anns, people


def write(out: Path, cfg: dict, seed: int, workers: int | None = None) -> None:
    """Frames of annotations_1 then annotations_2, on `workers` processes (None = every core): each frame draws from
    its own seed, so the files do not depend on the number of workers."""
    for sub in ("Annotations", "images", "Temp_Matrix"):
        (out / sub).mkdir(parents=True)
    sensor = thermal.make_sensor(np.random.default_rng([seed, DATASET_CODE]), (HEIGHT, WIDTH), cfg["blur_px"])
    counts = (int(cfg["frames_file1"]), int(cfg["frames_file2"]))
    write_one = partial(_write_frame, out=out, p_people=cfg["people_probs"], seed=seed, sensor=sensor,
                        face_width=tuple(cfg["face_width_px"]))
    frames = iter(ordered_map(write_one, range(1, sum(counts) + 1), "synth thermeval", workers, unit="frame"))
    meta = []
    for file_no, n_frames in zip((1, 2), counts):
        coco = {"images": [], "annotations": [], "categories": CATEGORIES}
        for k in range(n_frames):
            stem, anns, people = next(frames)
            image_id = k + 1
            coco["images"].append({"id": image_id, "file_name": f"{stem}.png" if file_no == 1 else f"{stem}.jpg",
                                   "width": WIDTH, "height": HEIGHT})
            for ann in anns:
                coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": image_id, **ann})
            meta += [{"image_file": f"{stem}.png", "annotation_file": file_no, **p} for p in people]
        (out / "Annotations" / f"annotations_{file_no}.json").write_text(json.dumps(coco))
    pd.DataFrame(meta).round(3).to_csv(out / "synth_meta.csv", index=False)


def _write_frame(frame_no: int, out: Path, p_people: list[float], seed: int, sensor: thermal.Sensor,
                 face_width: tuple[float, float]):
    """Frame `frame_no` (1-based over both files) as its TIFF and PNG; (its file stem, its annotations, its people's
    meta rows)."""
    rng = np.random.default_rng([seed, DATASET_CODE, frame_no])
    temp, anns, people = frame(rng, sensor, p_people, face_width)
    stem = f"Thermal_{frame_no}"
    tifffile.imwrite(out / "Temp_Matrix" / f"{stem}.tiff", temp)
    cv2.imwrite(str(out / "images" / f"{stem}.png"), thermal.encode_minmax(temp))
    return stem, anns, people
