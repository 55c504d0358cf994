"""The landmark models of the breath sources as predictors: a list of 8-bit gray crops -> per crop (nostril point,
crop-centre point) in crop px, or None (no face). Each wraps a runner from `thermbench.models`; a trained student or
TinyHead is read from its saved files through its loader there."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from thermbench.breath.unavailable import SourceUnavailable
from thermbench.core.io import read_json
from thermbench.core.keypoints import load_schema
from thermbench.models.dlib68 import Dlib68
from thermbench.models.onnx_model import Card, OnnxLandmarks
from thermbench.models.rtmpose import load_model, normalize_input
from thermbench.models.simcc import decode
from thermbench.models.tinyhead import FrozenBackbone, head_backbone_config, load_backbone, load_head, predict
from thermbench.models.weights import WeightsUnavailable

IBUG_NOSE_BASE = [31, 32, 33, 34, 35]  # iBUG-68 nose base arc (0-based): its mean is a 68-point model's nostril point


class MediaPipePredictor:
    """MediaPipe FaceMesh in video mode (detect once, then track inside the crop); one instance per track."""

    def __init__(self, min_detection_confidence: float, min_tracking_confidence: float):
        from mediapipe.python.solutions.face_mesh import FaceMesh  # optional and heavy: only this source needs it

        self.mesh = FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                             min_detection_confidence=min_detection_confidence,
                             min_tracking_confidence=min_tracking_confidence)
        self.nose = load_schema("mediapipe478_nose")["nose_centre"]

    def __call__(self, batch: list) -> list:
        return [self._one(crop) for crop in batch]

    def _one(self, crop: np.ndarray):
        rgb = np.ascontiguousarray(np.repeat(crop[..., None], 3, axis=-1))
        result = self.mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        h, w = crop.shape
        pts = np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark])
        return pts[self.nose].mean(0), (pts.min(0) + pts.max(0)) / 2

    def close(self) -> None:
        self.mesh.close()


class StudentPredictor:
    """A 68-point RTMPose model (MLCM-KD student) on the crop; nostril point = mean of iBUG 31-35."""

    def __init__(self, model_dir: str | Path):
        path = Path(model_dir) / "model.safetensors"
        if not path.is_file():
            raise SourceUnavailable(f"not available: {path} not found (train it: dvc repro of its training stage)")
        self.model = load_model(path).eval()
        self.input_px = int(self.model.cfg.input_size[0])

    def __call__(self, batch: list) -> list:
        with torch.no_grad():
            sx, sy = self.model(normalize_input(torch.from_numpy(np.stack(batch))[:, None]))
        return [(pts[IBUG_NOSE_BASE].mean(0), (pts.min(0) + pts.max(0)) / 2) for pts in decode(sx, sy)[0]]


class OnnxPredictor:
    """A user's ONNX model (its model card, models/onnx_model.py) on the square crop, resized to its input where the
    input is not square; nostril point = its schema's nose centre."""

    def __init__(self, card: Card, threads: int):
        self.card = card
        self.model = OnnxLandmarks(card, threads)

    def __call__(self, batch: list) -> list:
        width, height = self.card.size
        side = batch[0].shape[0]
        images = np.stack([c if c.shape == (height, width) else cv2.resize(c, (width, height)) for c in batch])
        points = self.model(images) * np.array([side / width, side / height])
        return [(p[self.card.nose].mean(0), (p.min(0) + p.max(0)) / 2) for p in points]


class TinyHeadPredictor:
    """The blog's TinyHead (one seed's head file, read by `models.tinyhead.load_head`) on its frozen backbone, one nose
    point per crop.

    The backbone must be the one the head's features came from (`<features>/backbone.json`); its crops are that
    run's crop size, cut as its training crops were (`PersonCrop`).
    """

    def __init__(self, head_path: Path, features: Path, teacher: Path, backbone_cfg, sapiens2_cfg: dict):
        head_path, info_path = Path(head_path), Path(features) / "backbone.json"
        for path in (head_path, info_path):
            if not path.is_file():
                raise SourceUnavailable(f"not available: {path} not found (run the TinyHead stages first)")
        trained = read_json(info_path)
        self.head, self.fit = load_head(head_path)
        if "maps" not in self.fit:
            raise SourceUnavailable(f"not available: {head_path} names no backbone maps (re-run the TinyHead stages)")
        model, info = load_backbone(head_backbone_config(backbone_cfg, self.fit["maps"]), sapiens2_cfg,
                                    allow_download=False, teacher_dir=teacher)
        if info["name"] != trained["name"]:
            raise SourceUnavailable(f"not available: the head was trained on '{trained['name']}' features but "
                                    f"params give the '{info['name']}' backbone (re-run the TinyHead stages)")
        self.backbone = FrozenBackbone(model, backbone_cfg.feature_size)
        self.input_px = int(trained["crop_size"])

    def __call__(self, batch: list) -> list:
        feats = self.backbone(torch.from_numpy(np.stack(batch)))
        points = predict(self.head, feats, self.fit["stride"], self.fit["subpixel"]).numpy().astype(np.float64)
        return [(p, p) for p in points]


class DlibPredictor:
    """dlib-68 (`models.dlib68.Dlib68`: a HOG or MMOD face detector, then the iBUG 68-point predictor on its best
    face) on the crop; nostril point = mean of iBUG 31-35."""

    def __init__(self, detector: str, upsample: int):
        try:
            self.model = Dlib68(detector, upsample)
        except ModuleNotFoundError:
            raise SourceUnavailable("not available: dlib is not installed (pip install dlib-bin==20.0.1.post1)"
                                    ) from None
        except WeightsUnavailable as err:
            raise SourceUnavailable(str(err)) from None

    def __call__(self, batch: list) -> list:
        return [self._one(crop) for crop in batch]

    def _one(self, crop: np.ndarray):
        faces, _ = self.model.detect(crop)
        if not len(faces):
            return None
        pts = self.model.landmarks(crop, faces[0])
        return pts[IBUG_NOSE_BASE].mean(0), (pts.min(0) + pts.max(0)) / 2


class ZeroShotPredictor:
    """A zero-shot runner (`thermbench.models`: DWPose or Sapiens2) run top-down on the whole crop."""

    def __init__(self, adapter):
        self.adapter = adapter

    def __call__(self, batch: list) -> list:
        return [self._one(crop) for crop in batch]

    def _one(self, crop: np.ndarray):
        h, w = crop.shape
        pred = self.adapter.predict(crop, boxes=[[0, 0, w, h]])
        if not len(pred.noses) or not np.isfinite(pred.noses[0]).all():
            return None
        return pred.noses[0], pred.noses[0]


class FaceBoxPredictor:
    """A landmark model that takes face boxes (TFAN, whose own thermal face detector is not here) on a square crop
    of `scale` x the face box: it gets the crop's centre square of 1 / `scale` of its side, the face box its detector
    would give, and its nostril point (the crop follows its landmarks' box, as every source's)."""

    def __init__(self, adapter, scale: float):
        self.adapter, self.scale = adapter, scale

    def __call__(self, batch: list) -> list:
        return [self._one(crop) for crop in batch]

    def _one(self, crop: np.ndarray):
        h, w = crop.shape
        half = np.array([w, h]) / (2 * self.scale)
        box = np.r_[np.array([w, h]) / 2 - half, np.array([w, h]) / 2 + half]
        pred = self.adapter.predict(crop, boxes=[box])
        if not len(pred.noses) or not np.isfinite(pred.noses[0]).all():
            return None
        points = pred.keypoints[0]
        return pred.noses[0], (points.min(0) + points.max(0)) / 2
