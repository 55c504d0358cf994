"""dlib's 68-point face landmarks: a HOG or CNN (MMOD) face detector, then the iBUG 300-W shape predictor.

Models: `shape_predictor_68_face_landmarks.dat` and `mmod_human_face_detector.dat` from the PyPI package
`face-recognition-models` (Davis King's dlib-models; the 68-point predictor is trained on iBUG 300-W, whose images are
for research use only); the HOG detector is built into dlib (`dlib-bin` wheel). All are RGB-trained on real faces.

Pixel centres: dlib works on integer pixel indices (pixel centre at i) and returns integer landmark positions. The
predictor therefore runs on a face crop resampled to CROP_SIZE px (sub-pixel in frame px after mapping back), and
every point gets +0.5 to reach the project's continuous convention (pixel i covers [i, i+1), core/crops.py).

Nose centre (iBUG-68, 0-based): "anatomical" = mean of the nose-base arc 31-35 (alar points 31/35, subnasale 33);
"blog" = midpoint of 32 and 34, the points either side of subnasale, i.e. the blog's COCO-WholeBody 55/57 for DWPose.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from thermbench.core import crops
from thermbench.models.landmarker import Prediction, to_bgr, with_noses
from thermbench.models.weights import WeightsUnavailable

CROP_SIZE = 256          # px, side of the square face crop the shape predictor runs on
FACE_PAD = 1.5           # the crop spans the detector box x this (the predictor looks slightly outside its box)
DETECTORS = ("hog", "mmod")
PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
MMOD_FILE = "mmod_human_face_detector.dat"


def model_dir() -> Path:
    """The `models` folder of face-recognition-models, found without importing it (its __init__ needs setuptools)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailable("weights not available: pip install face-recognition-models==0.3.0")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def rect_to_box(rect) -> np.ndarray:
    """dlib rectangle (inclusive integer pixel indices) -> continuous (x0, y0, w, h)."""
    return np.array([rect.left(), rect.top(), rect.right() - rect.left() + 1, rect.bottom() - rect.top() + 1],
                    dtype=np.float64)


def box_to_rect(box: np.ndarray):
    """Continuous (x0, y0, w, h) -> the dlib rectangle of the pixels it covers."""
    import dlib

    x0, y0, w, h = box
    return dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x0 + w)) - 1, int(round(y0 + h)) - 1)


def parts_to_points(shape) -> np.ndarray:
    """dlib full_object_detection -> (68, 2) continuous px (integer indices + 0.5)."""
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64) + 0.5


class Dlib68:
    schema = "ibug68"
    num_keypoints = 68

    def __init__(self, detector: str = "hog", upsample: int = 1, nose: str = "anatomical"):
        import dlib

        if detector not in DETECTORS:
            raise ValueError(f"unknown dlib detector '{detector}' (one of {', '.join(DETECTORS)})")
        folder = model_dir()
        for name in (PREDICTOR_FILE, MMOD_FILE):
            if not (folder / name).is_file():
                raise WeightsUnavailable(
                    f"weights not available: {folder / name} (pip install face-recognition-models==0.3.0)")
        self.detector_name = detector
        self.upsample = upsample
        self.nose = nose
        self.predictor = dlib.shape_predictor(str(folder / PREDICTOR_FILE))
        self._hog = dlib.get_frontal_face_detector() if detector == "hog" else None
        self._mmod = dlib.cnn_face_detection_model_v1(str(folder / MMOD_FILE)) if detector == "mmod" else None

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Face boxes (F, 4) continuous (x0, y0, w, h) and scores (F,), best first."""
        rgb = np.ascontiguousarray(to_bgr(image)[..., ::-1])
        if self._hog is not None:
            rects, scores, _ = self._hog.run(rgb, self.upsample, 0.0)
        else:
            found = self._mmod(rgb, self.upsample)
            rects, scores = [d.rect for d in found], [d.confidence for d in found]
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
        boxes = np.array([rect_to_box(rects[i]) for i in order], dtype=np.float64).reshape(-1, 4)
        return boxes, np.asarray(scores, dtype=np.float64)[order]

    def landmarks(self, image: np.ndarray, face_box: np.ndarray) -> np.ndarray:
        """68 points (frame px) for one face box: the box (padded) is resampled to a CROP_SIZE square first."""
        side = max(face_box[2], face_box[3]) * FACE_PAD
        cx, cy = face_box[0] + face_box[2] / 2, face_box[1] + face_box[3] / 2
        region = np.array([cx - side / 2, cy - side / 2, side, side])
        size = (CROP_SIZE, CROP_SIZE)
        patch = np.ascontiguousarray(crops.crop(to_bgr(np.asarray(image)), region, size)[..., ::-1])
        inner = crops.to_crop(np.array([face_box[:2], face_box[:2] + face_box[2:]]), region, size)
        rect = box_to_rect(np.concatenate([inner[0], inner[1] - inner[0]]))
        return crops.to_frame(parts_to_points(self.predictor(patch, rect)), region, size)

    def faces(self, image: np.ndarray, boxes=None) -> np.ndarray:
        """Face boxes (F, 4) x0 y0 w h. No boxes: every face the detector finds in the frame. Person boxes (xyxy): the
        detector runs on each box's square crop (x1.25) and its best face there is kept (at most one face per box)."""
        if boxes is None:
            return self.detect(image)[0]
        found = [self.detect_in_box(image, np.array([x0, y0, x1 - x0, y1 - y0]))
                 for x0, y0, x1, y1 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4)]
        return np.asarray([f for f in found if f is not None], dtype=np.float64).reshape(-1, 4)

    def predict(self, image: np.ndarray, boxes=None) -> Prediction:
        """The 68 points of each face `faces` finds."""
        kpts = np.array([self.landmarks(image, f) for f in self.faces(image, boxes)],
                        dtype=np.float64).reshape(-1, 68, 2)
        # dlib's shape predictor has no per-point confidence.
        return with_noses(kpts, np.full(kpts.shape[:2], np.nan), self.schema, self.nose)

    def detect_in_box(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """The best face (frame px, x0 y0 w h) inside a person box's square 1.25x crop at CROP_SIZE, or None."""
        side = max(box[2], box[3]) * 1.25
        region = np.array([box[0] + box[2] / 2 - side / 2, box[1] + box[3] / 2 - side / 2, side, side])
        size = (CROP_SIZE, CROP_SIZE)
        faces, _ = self.detect(crops.crop(np.asarray(image), region, size))
        if not len(faces):
            return None
        corners = crops.to_frame(np.array([faces[0, :2], faces[0, :2] + faces[0, 2:]]), region, size)
        return np.concatenate([corners[0], corners[1] - corners[0]])
