"""Backgrounds and shared sampling for the dataset writers."""

from __future__ import annotations

import cv2
import numpy as np

from thermbench.datasets.synth.render import Pose, Render


def rgb_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """An indoor-looking backdrop: a tinted vertical gradient with soft blobs (float RGB 0..1)."""
    h, w = shape
    top, bottom = rng.uniform(0.3, 0.85) * rng.uniform(0.8, 1.2, 3), rng.uniform(0.2, 0.7) * rng.uniform(0.8, 1.2, 3)
    ramp = np.linspace(0, 1, h)[:, None, None]
    image = top * (1 - ramp) + bottom * ramp + np.zeros((h, w, 3))
    shade = rng.normal(0, 0.08, (5, 5, 1)) + rng.normal(0, 0.02, (5, 5, 3))  # mostly brightness, a little hue
    blobs = cv2.resize(shade, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(image + blobs, 0, 1).astype(np.float32)


def thermal_background(rng: np.random.Generator, shape: tuple[int, int], ambient: float,
                       objects: int = 0) -> np.ndarray:
    """°C backdrop at ambient: a gentle floor-to-ceiling gradient plus optional warm or cool objects
    (screens, radiators, windows) as blurred rectangles."""
    h, w = shape
    temp = ambient + np.linspace(-0.6, 0.6, h)[:, None] * rng.uniform(0.3, 1.0) + np.zeros((h, w))
    for _ in range(objects):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        x1, y1 = x0 + rng.integers(w // 12, w // 3), y0 + rng.integers(h // 12, h // 4)
        temp[y0:y1, x0:x1] = ambient + rng.choice([rng.uniform(3, 12), rng.uniform(-4, -1)])
    return cv2.GaussianBlur(temp.astype(np.float32), (0, 0), 1.5)


def composite(out: Render, rgb_bg: np.ndarray | None, temp_bg: np.ndarray):
    """Put a render over the backgrounds (the render's mask decides)."""
    temp = np.where(out.mask, out.temp, temp_bg).astype(np.float32)
    rgb = None if rgb_bg is None else np.where(out.mask[..., None], out.rgb, rgb_bg)
    return rgb, temp


def sample_pose(rng: np.random.Generator, yaw: float = 60.0, pitch: float = 25.0, roll: float = 20.0) -> Pose:
    """Uniform head pose within +-yaw, +-pitch, +-roll degrees."""
    return Pose(float(rng.uniform(-yaw, yaw)), float(rng.uniform(-pitch, pitch)), float(rng.uniform(-roll, roll)))
