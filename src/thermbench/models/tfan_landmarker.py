"""TFAN (the T-FAKE authors' landmarker, models/tfan.py) top-down on given face boxes, with its package's pre- and
post-processing (thermal-face-alignment 1.0.0, `ThermalLandmarks.process` and `_refine_landmarks`):

1. The frame becomes one gray 0..255 float image, by `mode`:
   "temperature" (°C): clip to 20..40 °C (the training range), then stretch the clipped frame's own min..max to
   0..255, so the mapping depends on the frame (fixed only when the frame spans 20..40 °C);
   "pixel": values in [0, 1] (1st and 99th percentiles) are x255, anything else is clipped to 0..255 (a 16-bit raw
   frame saturates: convert it to °C first);
   "auto": an integer frame is pixels; a float frame is pixels when its percentiles lie in [0, 1], °C when its 99th
   percentile is at most 80 and its 1st at least -10, else pixels. A 3-channel frame is averaged to gray first
   (a float result, so "auto" judges an 8-bit colour frame by its values).
2. The face crop: a square of side 1.25 x the box's longer side about its centre, its bounds truncated to whole
   pixels (the package's int() arithmetic on a zero-padded frame), resized to 224x224 (bilinear).
3. The 224 px crop is repeated to 3 channels, divided by 255 and ImageNet-normalised.
4. Decoding: point = crop origin + (x, y) x side (the float side, as the package, not the crop's integer width); the
   third value is the package's per-point "confidence", kept as `scores` (lower = better, see models/tfan.py).

Pixel centres: the network's (x, y) are fractions of the crop, and cv2.resize maps continuous coordinates (pixel i
covers [i, i+1)), so the decoded points are the project's continuous frame px; no shift. The package finds faces
with the TFW detector (neurovc, YOLOv5-face), which is not here: boxes come from the caller.

Schemas: 70 points = FaceSynthetics (iBUG-68 + the two pupils, schema "facesynthetics70": nose centre 31-35
anatomical, 32/34 blog; the schema's note says why); Table I scores their iBUG-68 part (`ibug68_points`). 478 points =
the MediaPipe mesh (schema "mediapipe478_nose").
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from thermbench.core.io import InputError
from thermbench.core.keypoints import load_schema
from thermbench.models.landmarker import TFAN_SCHEMAS, Prediction, with_noses
from thermbench.models.tfan import TFAN, load_tfan
from thermbench.models.weights import WeightsUnavailable

TEMPERATURE_WINDOW_C = (20.0, 40.0)   # the README's training range
AUTO_TEMPERATURE_C = (-10.0, 80.0)    # "auto": a float frame with p1 >= -10 and p99 <= 80 is read as °C
PERCENTILE_SAMPLES = 200_000          # "auto" looks at every k-th value of a larger frame
UNIT_TOLERANCE = 1e-6
MODES = ("auto", "temperature", "pixel")
BOX_SCALE = 1.25
CROP_PX = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# The package's Google Drive files (`_file_id_map`) and where it keeps them (`_ModelDownloader`).
DRIVE_FILE_IDS = {70: "1DqBVVmw9NscDELsnCxB4Pt9ltVUuNoWR", 478: "1DZU3OOACp8gqxCxotZGwe3_gyNJCoY1p"}
PACKAGE_CACHE = "~/.tfan/models"


# ------------------------------------------------------------------------------------------ frame -> 0..255 gray
def robust_percentiles(frame: np.ndarray) -> tuple[float, float]:
    """1st and 99th percentiles, of every k-th value when the frame has more than PERCENTILE_SAMPLES."""
    flat = np.asarray(frame).reshape(-1)
    if flat.size > PERCENTILE_SAMPLES:
        flat = flat[:: flat.size // PERCENTILE_SAMPLES]
    p1, p99 = np.nanpercentile(flat, [1, 99])
    return float(p1), float(p99)


def _unit_range(p1: float, p99: float) -> bool:
    return p1 >= -UNIT_TOLERANCE and p99 <= 1.0 + UNIT_TOLERANCE


def to_gray(image: np.ndarray) -> np.ndarray:
    """A 3-channel frame -> float32 channel mean (the package's reading of colour input); 2-D passes."""
    image = np.asarray(image)
    return image.astype(np.float32).mean(axis=2) if image.ndim == 3 else image


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown TFAN input mode '{mode}' (one of {', '.join(MODES)})")
    return mode


def resolve_mode(frame: np.ndarray, mode: str = "auto") -> str:
    """"temperature" or "pixel" for a 2-D frame."""
    if check_mode(mode) != "auto":
        return mode
    if np.issubdtype(frame.dtype, np.integer):
        return "pixel"
    p1, p99 = robust_percentiles(frame)
    lo, hi = AUTO_TEMPERATURE_C
    return "temperature" if not _unit_range(p1, p99) and p99 <= hi and p1 >= lo else "pixel"


def temperature_to_pixels(frame_c: np.ndarray) -> np.ndarray:
    """°C -> 0..255: clip to the training window, then stretch the clipped frame's min..max (a flat frame is 0)."""
    x = np.clip(np.asarray(frame_c, dtype=np.float32), *TEMPERATURE_WINDOW_C)
    lo, hi = x.min(), x.max()
    if hi - lo < UNIT_TOLERANCE:
        return np.zeros_like(x)
    return (x - lo) / (hi - lo) * np.float32(255)


def pixels_to_0_255(frame: np.ndarray) -> np.ndarray:
    """Intensities -> 0..255: a frame in [0, 1] is scaled by 255, any other is clipped (the package converts to
    float first, so integer frames take the same test)."""
    x = np.asarray(frame, dtype=np.float32)
    if _unit_range(*robust_percentiles(x)):
        return np.clip(x, 0.0, 1.0) * np.float32(255)
    return np.clip(x, 0.0, 255.0)


def network_frame(image: np.ndarray, mode: str = "auto") -> np.ndarray:
    """Any frame (°C or intensities, 2-D or 3-channel) -> the 2-D float32 0..255 frame the crops are cut from."""
    gray = to_gray(image)
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D or 3-channel frame, got shape {np.shape(image)}")
    if resolve_mode(gray, mode) == "temperature":
        return temperature_to_pixels(gray)
    return pixels_to_0_255(gray)


# ------------------------------------------------------------------------------------------------ crop and decode
def face_window(box_xyxy) -> tuple[np.ndarray, float, tuple[int, int, int, int], int]:
    """The package's crop of a face box: (origin (x, y) in frame px, side, slice bounds (x0, y0, x1, y1) in the
    frame zero-padded by `padding` on every side, padding)."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    side = max(x1 - x0, y1 - y0) * BOX_SCALE
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    padding = int(side // 2)
    bounds = (int(cx - side / 2 + padding), int(cy - side / 2 + padding),
              int(cx + side / 2 + padding), int(cy + side / 2 + padding))
    origin = np.array([bounds[0] - padding, bounds[1] - padding], dtype=np.float64)
    return origin, side, bounds, padding


def crop_face(frame: np.ndarray, box_xyxy) -> tuple[np.ndarray, np.ndarray, float]:
    """(224x224 float32 crop, origin in frame px, side) of a 2-D 0..255 frame; outside the frame is 0."""
    origin, side, (x0, y0, x1, y1), padding = face_window(box_xyxy)
    patch = np.pad(frame, padding)[y0:y1, x0:x1]
    return cv2.resize(patch, (CROP_PX, CROP_PX), interpolation=cv2.INTER_LINEAR), origin, side


def to_tensor(crops: list[np.ndarray]) -> torch.Tensor:
    """0..255 gray crops -> (B, 3, 224, 224) ImageNet-normalised network input."""
    x = torch.from_numpy(np.stack(crops).astype(np.float32))[:, None].expand(-1, 3, -1, -1) / 255.0
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return (x - mean) / std


def decode(output: np.ndarray, origin: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    """One crop's (n, 3) output -> points (n, 2) in frame px and scores (n,)."""
    output = np.asarray(output, dtype=np.float64)
    return output[:, :2] * side + origin, output[:, 2]


def ibug68_part() -> slice:
    """Where iBUG-68 lies among the 70 FaceSynthetics points (the schema's `ibug68` range; the rest are pupils)."""
    return slice(*load_schema("facesynthetics70")["ibug68"])


def ibug68_points(points70: np.ndarray) -> np.ndarray:
    """(..., 70, 2) FaceSynthetics points -> their iBUG-68 part (Table I scores these)."""
    return np.asarray(points70)[..., ibug68_part(), :]


# ------------------------------------------------------------------------------------------------------- weights
def package_cache_path(n_landmarks: int) -> Path:
    """Where the package keeps its download (`~/.tfan/models/<n>.pt`)."""
    return Path(PACKAGE_CACHE).expanduser() / f"{n_landmarks}.pt"


def check_n_landmarks(n_landmarks: int, where: str) -> int:
    if n_landmarks not in DRIVE_FILE_IDS:
        raise InputError(f"params.yaml: {where}.n_landmarks must be one of {', '.join(map(str, DRIVE_FILE_IDS))}, "
                         f"got {n_landmarks}")
    return n_landmarks


def resolve_weights(cfg: dict, where: str = "zeroshot.tfan") -> Path:
    """`local_path` first, then the package's own download; never downloads. Absent: WeightsUnavailable saying
    where the file comes from and which params key takes a local copy (the home folder as `~`, so the status a
    stage writes is the same on every machine)."""
    n = check_n_landmarks(int(cfg["n_landmarks"]), where)
    local, cached = Path(cfg["local_path"]), package_cache_path(n)
    for path in (local, cached):
        if path.is_file():
            return path
    url = f"https://drive.google.com/uc?export=download&id={DRIVE_FILE_IDS[n]}"
    raise WeightsUnavailable(
        f"weights not available: TFAN {n}-point landmarker (T-FAKE, research use only) neither at {local} nor at "
        f"{PACKAGE_CACHE}/{n}.pt; `gdown '{url}' -O {PACKAGE_CACHE}/{n}.pt` (what pip's thermal-face-alignment "
        f"fetches on first use) or place the file at {where}.local_path = {local}")


# ------------------------------------------------------------------------------------------------------- adapter
class TFANLandmarker:
    """TFAN on face boxes: one crop per box, one batch per frame. `scores` are the package's per-point values
    (lower = better). With no boxes, the whole frame is the box (the package's detector is not here)."""

    def __init__(self, model: TFAN, mode: str = "auto", nose: str = "anatomical", device: str = "cpu"):
        self.mode = check_mode(mode)  # a typo fails here, not at the first frame
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.n_landmarks = self.num_keypoints = model.n_landmarks
        self.schema = TFAN_SCHEMAS[self.n_landmarks]
        self.nose = nose

    @classmethod
    def from_params(cls, cfg: dict, nose: str = "anatomical", device: str = "cpu", where: str = "zeroshot.tfan"
                    ) -> "TFANLandmarker":
        path = resolve_weights(cfg, where)
        return cls(load_tfan(path, int(cfg["n_landmarks"])), cfg["mode"], nose, device)

    @torch.no_grad()
    def landmarks(self, image: np.ndarray, boxes_xyxy) -> tuple[np.ndarray, np.ndarray]:
        """All n points (frame px) and scores per face box: (F, n, 2), (F, n)."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        if not len(boxes):
            return np.zeros((0, self.n_landmarks, 2)), np.zeros((0, self.n_landmarks))
        frame = network_frame(image, self.mode)
        cuts = [crop_face(frame, box) for box in boxes]
        out = self.model(to_tensor([c[0] for c in cuts]).to(self.device)).cpu().numpy()
        decoded = [decode(o, origin, side) for o, (_, origin, side) in zip(out, cuts)]
        return np.stack([d[0] for d in decoded]), np.stack([d[1] for d in decoded])

    def predict(self, image: np.ndarray, boxes=None) -> Prediction:
        """One prediction per face box (xyxy frame px), all n points in the schema `self.schema`."""
        if boxes is None or len(boxes) == 0:
            h, w = np.shape(image)[:2]
            boxes = [[0.0, 0.0, w, h]]
        return with_noses(*self.landmarks(image, boxes), self.schema, self.nose)
