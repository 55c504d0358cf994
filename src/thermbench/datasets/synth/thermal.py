"""Thermal appearance (design §4): regional skin temperatures in °C, the sensor model, and each dataset's encoding.

Ranges are for 20-26 °C ambient: inner canthi warmest (35-36.5), forehead 33.5-35, cheeks 32-34, nose tip the
coolest part of the face (28-33), lips ~34, ears and hair 26-31, clothing 28-31, background at ambient.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

TFAKE_WINDOW = (20.0, 40.0)  # °C mapped linearly to 0..255 in the T-FAKE thermal twin (team contract)


@dataclass
class ThermalLook:
    ambient: float
    canthus: float
    forehead: float
    cheek: float
    nose: float
    lips: float
    hair: float
    ear: float
    beard: float
    neck: float
    clothing: float


def sample_thermal_look(rng: np.random.Generator, ambient: float | None = None) -> ThermalLook:
    amb = float(rng.uniform(20.0, 26.0)) if ambient is None else ambient
    warm = 0.15 * (amb - 23.0)  # skin follows the room a little
    canthus = rng.uniform(35.0, 36.5)
    cheek = rng.uniform(32.0, 34.0)
    return ThermalLook(
        ambient=amb,
        canthus=canthus + warm / 2,
        # The canthi stay the warmest spot: the forehead is drawn below them by at least 0.7 °C.
        forehead=rng.uniform(33.5, min(35.0, canthus - 0.7)) + warm,
        cheek=cheek + warm,
        # The nose tip is always the coolest facial region, by a variable margin (vasoconstriction).
        nose=min(rng.uniform(28.0, 33.0), cheek - 0.8) + warm,
        lips=rng.uniform(33.6, 34.4) + warm,
        hair=rng.uniform(27.0, 31.0),
        ear=rng.uniform(29.0, 31.5),
        beard=rng.uniform(29.5, 31.5),
        neck=rng.uniform(33.0, 34.5),
        clothing=rng.uniform(28.0, 31.0),
    )


def _mix(temp: np.ndarray, target: float, weight: np.ndarray) -> np.ndarray:
    return temp + weight * (target - temp)


def _gauss(v: np.ndarray, centre: np.ndarray, sx: float, sy: float | None = None) -> np.ndarray:
    sy = sx if sy is None else sy
    return np.exp(-((v[:, 0] - centre[0]) ** 2) / (2 * sx**2) - ((v[:, 1] - centre[1]) ** 2) / (2 * sy**2))


def face_temperatures(v: np.ndarray, look: ThermalLook) -> np.ndarray:
    """°C per base-mesh vertex (head units, MediaPipe indices): a smooth field with the regional targets."""
    temp = np.full(len(v), look.cheek)
    brow_y = v[[105, 334], 1].mean()
    temp = _mix(temp, look.forehead, np.clip((brow_y - v[:, 1]) / 0.07, 0, 1))
    temp -= 1.2 * np.clip((np.abs(v[:, 0]) - 0.33) / 0.17, 0, 1)  # cooler towards the face outline
    temp -= 0.6 * np.clip((v[:, 1] - 0.5) / 0.2, 0, 1)  # and under the chin
    for eye in (v[[33, 133]].mean(0), v[[263, 362]].mean(0)):
        temp = _mix(temp, look.canthus - 1.0, _gauss(v, eye, 0.08, 0.05))
    temp = _mix(temp, look.lips, _gauss(v, v[[13, 14]].mean(0), 0.14, 0.05))
    temp = _mix(temp, look.nose, _gauss(v, v[4], 0.075, 0.09))
    for canthus in (133, 362):
        temp = _mix(temp, look.canthus, _gauss(v, v[canthus], 0.045))
    return temp


def view_emissivity(cos_view: np.ndarray) -> np.ndarray:
    """Effective emissivity factor vs the cosine between surface normal and view: skin seen at grazing angles
    radiates less towards the camera, so silhouettes look cooler."""
    return 1.0 - 0.35 * (1.0 - np.clip(cos_view, 0, 1)) ** 3


@dataclass
class Sensor:
    blur_sigma: float  # px at output resolution (optics + detector footprint)
    netd: float  # °C, temporal noise
    fpn: np.ndarray  # (H, W) °C fixed-pattern offsets of this camera


def make_sensor(rng: np.random.Generator, shape: tuple[int, int], blur_sigma: float, netd: float = 0.045,
                fpn_sigma: float = 0.05) -> Sensor:
    h, w = shape
    columns = rng.normal(0, fpn_sigma, (1, w))  # column offsets, typical of microbolometer read-out
    pixels = rng.normal(0, fpn_sigma / 2, (h, w))
    return Sensor(blur_sigma, netd, (columns + pixels).astype(np.float32))


def apply_sensor(temp: np.ndarray, sensor: Sensor, rng: np.random.Generator) -> np.ndarray:
    out = cv2.GaussianBlur(temp.astype(np.float32), (0, 0), sensor.blur_sigma) if sensor.blur_sigma > 0 else temp
    return (out + sensor.fpn + rng.normal(0, sensor.netd, temp.shape)).astype(np.float32)


def encode_window(temp: np.ndarray, lo: float = TFAKE_WINDOW[0], hi: float = TFAKE_WINDOW[1]) -> np.ndarray:
    """°C -> uint8, linear lo..hi -> 0..255, clipped (T-FAKE twin, CHARLOTTE crops)."""
    return np.clip(np.round((temp - lo) / (hi - lo) * 255), 0, 255).astype(np.uint8)


def decode_window(image: np.ndarray, lo: float = TFAKE_WINDOW[0], hi: float = TFAKE_WINDOW[1]) -> np.ndarray:
    return lo + image.astype(np.float64) / 255 * (hi - lo)


def encode_minmax(temp: np.ndarray) -> np.ndarray:
    """°C -> uint8 by the frame's own min..max (ThermEval-D visualisation PNGs)."""
    lo, hi = float(temp.min()), float(temp.max())
    return np.round((temp - lo) / max(hi - lo, 1e-6) * 255).astype(np.uint8)

