"""Crop geometry: padded boxes, zero-padded resampling, and point transforms between frame and crop.

Coordinates are continuous pixel coordinates (pixel i covers [i, i+1)), as COCO boxes are. A box is
(x0, y0, w, h) in frame pixels; it may leave the frame, and the outside is filled with zeros.
"""

from __future__ import annotations

import cv2
import numpy as np


def scale_box(x0: float, y0: float, w: float, h: float, scale: float) -> np.ndarray:
    """Scale a box about its centre (each side by `scale`)."""
    cx, cy = x0 + w / 2.0, y0 + h / 2.0
    return np.array([cx - w * scale / 2.0, cy - h * scale / 2.0, w * scale, h * scale])


def square_box(points: np.ndarray, scale: float) -> np.ndarray:
    """Square box about the points' bounding-box centre, side = longer side x `scale`."""
    points = np.asarray(points, dtype=np.float64)
    lo, hi = np.nanmin(points, axis=0), np.nanmax(points, axis=0)
    side = max(hi[0] - lo[0], hi[1] - lo[1], 1.0) * scale
    cx, cy = (lo + hi) / 2.0
    return np.array([cx - side / 2.0, cy - side / 2.0, side, side])


def _scales(box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.array([size[0] / box[2], size[1] / box[3]])


def to_crop(points: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frame pixels -> crop pixels for a crop of `size` = (width, height)."""
    return (np.asarray(points, dtype=np.float64) - box[:2]) * _scales(box, size)


def to_frame(points: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Crop pixels -> frame pixels (inverse of `to_crop`)."""
    return np.asarray(points, dtype=np.float64) / _scales(box, size) + box[:2]


def crop(image: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample `box` of `image` to `size` = (width, height) with bilinear interpolation and zero padding."""
    sx, sy = _scales(box, size)
    # cv2 puts pixel centres at integers, hence the half-pixel shifts around the continuous-coordinate map.
    matrix = np.array([[sx, 0.0, sx * (0.5 - box[0]) - 0.5], [0.0, sy, sy * (0.5 - box[1]) - 0.5]])
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def blog_window(box, frame_size: tuple[int, int], scale: float) -> tuple[int, int, int, int]:
    """The nostril-finetune blog's crop window (its build_dataset_thermeval.py) as integer bounds (x0, y0, x1, y1).

    A square of side `scale` x max(w, h) about the box centre whose corner is truncated to an integer pixel and moved
    inside at the left/top frame border (so the window shifts inward there) and whose far side is truncated and
    clipped to the frame at the right/bottom (so the window is not square there). The arithmetic follows the blog's
    line by line, Python's int() truncation included, so windows agree to the pixel.
    """
    x, y, w, h = (float(v) for v in box)
    width, height = frame_size
    side = max(w, h) * scale
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    return x0, y0, min(width, int(x0 + side)), min(height, int(y0 + side))


def window_box(window: tuple[int, int, int, int]) -> np.ndarray:
    """(x0, y0, x1, y1) integer window -> (x0, y0, w, h) box, for `to_crop`/`to_frame` and the samples table."""
    x0, y0, x1, y1 = window
    return np.array([x0, y0, x1 - x0, y1 - y0], dtype=np.float64)


def crop_window(image: np.ndarray, window: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray | None:
    """The blog's resampling: slice the window's whole pixels and resize them bilinearly to `size` = (width, height),
    ignoring the aspect ratio; None for an empty window. cv2.resize maps pixel centres as `to_crop` does, so a point
    transforms with `to_crop(points, window_box(window), size)`."""
    x0, y0, x1, y1 = window
    patch = image[y0:y1, x0:x1]
    if patch.size == 0:
        return None
    return cv2.resize(patch, size, interpolation=cv2.INTER_LINEAR)
