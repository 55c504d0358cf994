"""Crop geometry of the breath sources: the square about a face box, and the TinyHead's Person crop about a
Person-like box made from it."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from thermbench.breath.unavailable import SourceUnavailable
from thermbench.core import crops
from thermbench.datasets.thermeval import crop_pair


@dataclass
class SquareCrop:
    """A square of `scale` x the face box's longer side about its centre, resampled to `px` (zeros outside)."""

    scale: float
    px: int

    def cut(self, image: np.ndarray, face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(crop, its (x0, y0, w, h) box in frame px) for the face box (x0, y0, x1, y1)."""
        box = crops.square_box(face.reshape(2, 2), self.scale)
        return crops.crop(image, box, (self.px, self.px)), box


@dataclass
class PersonCrop:
    """The TinyHead's training crop (a ThermEval Person box, blog geometry) about a Person-like box made from a face
    box: as wide as `width` face widths and centred on the face, from `top` face widths above the face box to the
    frame's last row (the synthetic ThermEval Person boxes' proportions, params breath.track.tinyhead). Where the
    frame ends less than `height` face widths below the box top (a near face, whose torso the frame cuts early), the
    frame is set on a canvas of its edge pixels repeated and the box reaches `height` face widths down, so the face
    fills the share of the window that it fills in the training crops."""

    width: float
    top: float
    height: float
    face_in_crop: tuple[float, float]  # face box width / crop window width of the head's training crops
    geometry: dict  # `thermeval.crop_pair`'s cfg: params prepare.thermeval with the head's crop_size

    def cut(self, image: np.ndarray, face: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """(crop or None for an empty window, its (x0, y0, w, h) box in frame px) for the face box (x0, y0, x1, y1)."""
        box = person_box(face, self.width, self.top, image.shape[::-1])
        fw = face[2] - face[0]
        if box[3] >= self.height * fw:
            return crop_pair(image, box, self.geometry)
        pad = int(np.ceil(self.geometry["box_scale"] * max(self.width, self.height) * fw))  # the window's side
        canvas = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0 = (face[0] + face[2] - self.width * fw) / 2
        crop, window = crop_pair(canvas, [x0 + pad, face[1] - self.top * fw + pad, self.width * fw, self.height * fw],
                                 self.geometry)
        return crop, window - np.array([pad, pad, 0, 0])

    def check(self, face: np.ndarray, box: np.ndarray) -> None:
        """Raises `SourceUnavailable` when the face box fills a share of the crop box's width (x0, y0, w, h) that
        the head never saw."""
        share, (lo, hi) = (face[2] - face[0]) / box[2], self.face_in_crop
        if not lo <= share <= hi:
            raise SourceUnavailable(f"the head does not apply: the face box fills {share:.2f} of its Person crop's "
                                    f"width, the head's training crops {lo:g}-{hi:g}")


def person_box(face: np.ndarray, width: float, top: float, frame_size: tuple[int, int]) -> list[float]:
    """A ThermEval-like Person box (x0, y0, w, h) for the face box (x0, y0, x1, y1) in a frame of `frame_size` (w, h):
    `width` face widths wide about the face centre, from `top` face widths above the face box down to the last row,
    clipped to the frame as the annotations are (their corners are pixel indices, 0..size - 1)."""
    fw, cx = face[2] - face[0], (face[0] + face[2]) / 2
    right, bottom = frame_size[0] - 1, frame_size[1] - 1
    x0, x1 = np.clip([cx - width * fw / 2, cx + width * fw / 2], 0, right)
    y0 = float(np.clip(face[1] - top * fw, 0, bottom))
    return [float(x0), y0, float(x1 - x0), bottom - y0]
