"""T-FAKE / FaceSynthetics layout: <id06>.png RGB 512x512, <id06>_ldmks.txt (70 rows 'x y'), and the thermal twin
thermal/<id06>.png (8-bit, 20-40 °C linear, clipped; the team contract's layout, since the real T-FAKE thermal
layout is unknown). synth_meta.csv is our extra (pose, accessories)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from thermbench.core.parallel import ordered_map
from thermbench.datasets.synth import scene, thermal
from thermbench.datasets.synth.person import centred_face

# The keys of synth.tfake that `write` reads.
REQUIRED = ("num_images", "image_size", "face_width_px", "max_pose", "blur_px")

DATASET_CODE = 1
THERMAL_DIR = "thermal"


def write(out: Path, cfg: dict, seed: int, workers: int | None = None) -> None:
    """Render `cfg["num_images"]` faces into `out`, on `workers` processes (None = every core; same files)."""
    size = int(cfg["image_size"])
    (out / THERMAL_DIR).mkdir(parents=True)
    sensor = thermal.make_sensor(np.random.default_rng([seed, DATASET_CODE]), (size, size), cfg["blur_px"])
    one = partial(_write_image, out=out, cfg=cfg, seed=seed, sensor=sensor)
    rows = list(ordered_map(one, range(int(cfg["num_images"])), "synth tfake", workers))
    pd.DataFrame(rows).round(4).to_csv(out / "synth_meta.csv", index=False)


def _write_image(i: int, out: Path, cfg: dict, seed: int, sensor: thermal.Sensor) -> dict:
    """Image `i` (drawn from its own seed) and its twin and labels on disk; its synth_meta row."""
    size = int(cfg["image_size"])
    rng = np.random.default_rng([seed, DATASET_CODE, i])
    identity, expr, pose, shot = centred_face(rng, size, cfg["face_width_px"], cfg["max_pose"])
    rgb, temp = scene.composite(
        shot.render, scene.rgb_background(rng, (size, size)),
        scene.thermal_background(rng, (size, size), identity.thermal.ambient, objects=2),
    )
    rgb = cv2.GaussianBlur(rgb, (0, 0), 0.6)  # camera softness; also hides the rasteriser's stair steps
    temp = thermal.apply_sensor(temp, sensor, rng)
    stem = f"{i:06d}"
    cv2.imwrite(str(out / f"{stem}.png"), cv2.cvtColor(np.round(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(out / THERMAL_DIR / f"{stem}.png"), thermal.encode_window(temp))
    (out / f"{stem}_ldmks.txt").write_text("".join(f"{x:.3f} {y:.3f}\n" for x, y in shot.points70))
    lm = shot.points70[:68]
    return {
        "id": stem, "yaw": pose.yaw, "pitch": pose.pitch, "roll": pose.roll,
        "face_width_px": float(np.ptp(lm[:, 0])), "glasses": int(identity.glasses),
        "beard": int(identity.beard > 0),
        "mouth_open": expr.mouth_open, "eyes_closed": expr.eyes_closed, "ambient_c": identity.thermal.ambient,
    }
