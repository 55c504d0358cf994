"""Landmark sources for the breath benchmark: per frame and subject, one nostril point (frame px) or none.

Every model source runs top-down on a crop that follows the face: the face box starts at the subject's first-frame
`face_box`, keeps its size and moves to be centred on the source's own landmarks of the previous frame (the centre of
their bounding box, or the nostril point for a model that gives only noses; it stays put while the model finds
nothing). The crop about it is a square (`SquareCrop`: `scale` x the face box's longer side) or, for the TinyHead,
the crop it was trained on (`PersonCrop`: a ThermEval Person-like box cut by the blog's geometry). No source sees the
ground truth after the first-frame box. A point outside the frame counts as no face (and is counted). Batching models
may update the box once per `chunk` model frames (one batch), from the last prediction before the chunk, and may run
on every `stride`-th frame only (the track is interpolated in between: CPU budget; 9 fps / 4 still samples 2.25 Hz,
above twice the band's 0.7 Hz).

A source whose model or weights are absent raises `SourceUnavailable` with one line saying what is missing; so does
a subject the source cannot track (no ground truth for the oracle, a face the TinyHead never saw at that scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import cv2
import numpy as np

from thermbench.core import crops
from thermbench.core.keypoints import load_schema
from thermbench.datasets.thermeval import crop_pair
from thermbench.datasets.video import Sequence, Subject, read_sequence

IBUG_NOSE_BASE = [31, 32, 33, 34, 35]  # iBUG-68 nose base arc (0-based): its mean is a 68-point model's nostril point


class SourceUnavailable(Exception):
    """The source cannot run here; the message is the one line the stage reports instead of numbers."""


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


@dataclass
class CropConfig:
    crop: SquareCrop | PersonCrop
    window_c: tuple[float, float] | None = None  # °C mapped to 0..255; None = 1st..99.5th percentile of frame 0
    chunk: int = 1  # model frames that share one crop box (the box follows the last prediction before them)
    stride: int = 1  # the model runs on every stride-th frame; the track is interpolated linearly in between


class Track(NamedTuple):
    points: np.ndarray  # (T, 2) nostril points in frame px, NaN where the model found no face
    outside_frame: int  # model frames whose point fell outside the frame (counted as no face)
    model_frames: int  # frames the model ran on


# A predictor maps a list of 8-bit gray crops to one result per crop: (nostril point, crop-centre point) in crop px,
# or None (no face). Batching models take the list as one batch.
Predictor = Callable[[list], list]


def to_uint8(frame: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    lo, hi = window
    return np.clip(np.round((frame - lo) / max(hi - lo, 1e-6) * 255), 0, 255).astype(np.uint8)


def sequence_window(seq: Sequence, window_c: tuple[float, float] | None) -> tuple[float, float]:
    """One fixed 8-bit window per sequence (a per-frame min-max stretch would flicker with the breathing)."""
    if window_c is not None:
        return tuple(window_c)
    lo, hi = np.percentile(seq.frames[0], [1.0, 99.5])
    return float(lo), float(hi)


def track(seq: Sequence, subject: Subject, predict: Predictor, cfg: CropConfig) -> Track:
    """The subject's nostril track; `SourceUnavailable` where the crop cannot take this face."""
    face = np.asarray(subject.face_box, dtype=np.float64)
    height, width = seq.frames.shape[1:]
    window = sequence_window(seq, cfg.window_c)
    if isinstance(cfg.crop, PersonCrop):  # the face's scale in the first frame's crop
        cfg.crop.check(face, cfg.crop.cut(to_uint8(seq.frames[0], window), face)[1])
    start_centre = centre = (face[:2] + face[2:]) / 2
    out = np.full((len(seq.frames), 2), np.nan)
    run = np.unique(np.r_[np.arange(0, len(seq.frames), max(cfg.stride, 1)), len(seq.frames) - 1])  # ends included
    chunk, outside = max(cfg.chunk, 1), 0
    for start in range(0, len(run), chunk):
        idx = run[start:start + chunk]
        at = face + np.tile(centre - start_centre, 2)
        cuts = [cfg.crop.cut(to_uint8(seq.frames[i], window), at) for i in idx]
        if cuts[0][0] is None:  # an empty crop window (one box per chunk): no face there
            continue
        box, size = cuts[0][1], cuts[0][0].shape[::-1]
        for i, found in zip(idx, predict([c for c, _ in cuts])):
            if found is None:
                continue
            point = crops.to_frame(found[0], box, size)
            if not (0 <= point[0] < width and 0 <= point[1] < height):
                outside += 1
                continue
            out[i] = point
            centre = crops.to_frame(found[1], box, size)
    return Track(interpolate_track(out) if cfg.stride > 1 else out, outside, len(run))


def interpolate_track(points: np.ndarray) -> np.ndarray:
    """Fill frames between two predictions linearly; frames outside the first..last prediction stay NaN."""
    out = points.copy()
    ok = np.flatnonzero(np.isfinite(points).all(1))
    if len(ok) < 2:
        return out
    inside = np.arange(ok[0], ok[-1] + 1)
    for k in range(2):
        out[inside, k] = np.interp(inside, ok, points[ok, k])
    return out


def oracle(seq: Sequence, subject: Subject) -> np.ndarray:
    """Ground-truth nostril points (the ceiling of what landmarks can give)."""
    gt = seq.subject_truth(subject.id)
    if gt is None or not {"nose_x", "nose_y"} <= set(gt.columns):
        raise SourceUnavailable("no ground-truth nostril points (truth.csv nose_x, nose_y)")
    return gt[["nose_x", "nose_y"]].to_numpy(dtype=np.float64)


# ------------------------------------------------------------------------------------------------------ predictors


class MediaPipePredictor:
    """MediaPipe FaceMesh in video mode (detect once, then track inside the crop); one instance per track."""

    def __init__(self, min_detection_confidence: float, min_tracking_confidence: float):
        from mediapipe.python.solutions.face_mesh import FaceMesh

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
        import torch

        from thermbench.models.rtmpose import load_model, normalize_input
        from thermbench.models.simcc import decode

        self.torch, self.normalize, self.decode = torch, normalize_input, decode
        self.model = load_model(path).eval()
        self.input_px = int(self.model.cfg.input_size[0])

    def __call__(self, batch: list) -> list:
        with self.torch.no_grad():
            sx, sy = self.model(self.normalize(self.torch.from_numpy(np.stack(batch))[:, None]))
        return [(pts[IBUG_NOSE_BASE].mean(0), (pts.min(0) + pts.max(0)) / 2) for pts in self.decode(sx, sy)[0]]


class TinyHeadPredictor:
    """The blog's TinyHead (one seed's head file) on its frozen backbone, one nose point per crop.

    The backbone must be the one the head's features came from (`<features>/backbone.json`); its crops are that
    run's crop size, cut as its training crops were (`PersonCrop`).
    """

    def __init__(self, head_path: Path, features: Path, teacher: Path, backbone_cfg, sapiens2_cfg: dict):
        head_path, info_path = Path(head_path), Path(features) / "backbone.json"
        for path in (head_path, info_path):
            if not path.is_file():
                raise SourceUnavailable(f"not available: {path} not found (run the TinyHead stages first)")
        import torch

        from thermbench.core.io import read_json
        from thermbench.tinyhead.finetune import FrozenBackbone, head_backbone_config, load_backbone, load_head, predict

        trained = read_json(info_path)
        self.head, self.fit = load_head(head_path)
        if "maps" not in self.fit:
            raise SourceUnavailable(f"not available: {head_path} names no backbone maps (re-run the TinyHead stages)")
        model, info = load_backbone(head_backbone_config(backbone_cfg, self.fit["maps"]), sapiens2_cfg,
                                    allow_download=False, teacher_dir=teacher)
        if info["name"] != trained["name"]:
            raise SourceUnavailable(f"not available: the head was trained on '{trained['name']}' features but "
                                    f"params give the '{info['name']}' backbone (re-run the TinyHead stages)")
        self.torch, self.predict = torch, predict
        self.backbone = FrozenBackbone(model, backbone_cfg.feature_size)
        self.input_px = int(trained["crop_size"])

    def __call__(self, batch: list) -> list:
        feats = self.backbone(self.torch.from_numpy(np.stack(batch)))
        points = self.predict(self.head, feats, self.fit["stride"], self.fit["subpixel"]).numpy().astype(np.float64)
        return [(p, p) for p in points]


class DlibPredictor:
    """dlib-68 (`zeroshot.dlib68.Dlib68`: a HOG or MMOD face detector, then the iBUG 68-point predictor on its best
    face) on the crop; nostril point = mean of iBUG 31-35."""

    def __init__(self, detector: str, upsample: int):
        from thermbench.models.dlib68 import Dlib68
        from thermbench.models.weights import WeightsUnavailable

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
    """A zero-shot adapter (`thermbench.zeroshot`: DWPose or Sapiens2) run top-down on the whole crop."""

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


def require_weights(name: str, cfg: dict) -> None:
    """Raises `SourceUnavailable` when the weight files of zero-shot model `name` (dwpose | sapiens2 | tfan) are not here;
    looks for the files only (never downloads, loads nothing), so a stage can say so before starting its workers."""
    from thermbench.models.weights import WeightsUnavailable

    try:
        if name == "dwpose":
            from thermbench.models.dwpose import resolve_onnx

            for key in ("det", "pose"):
                resolve_onnx(cfg[key], allow_download=False, param=f"zeroshot.dwpose.{key}")
        elif name == "tfan":
            from thermbench.models.tfan_landmarker import resolve_weights

            resolve_weights(cfg)
        else:
            from thermbench.models.weights import resolve_sapiens2

            resolve_sapiens2(cfg, allow_download=False)
    except WeightsUnavailable as err:
        raise SourceUnavailable(str(err)) from None


def zero_shot_adapter(name: str, cfg: dict, threads: int):
    """The zero-shot model `name` with its `zeroshot.<name>` params; never downloads (absent weights: unavailable)."""
    from thermbench.models.weights import WeightsUnavailable

    try:
        if name == "dwpose":
            from thermbench.models.dwpose import DWPose

            return DWPose.from_params(cfg, allow_download=False, threads=threads)
        if name == "tfan":
            from thermbench.models.tfan_landmarker import TFANLandmarker

            return TFANLandmarker.from_params(cfg)
        from thermbench.models.sapiens2_pose import Sapiens2Pose

        return Sapiens2Pose.from_params(cfg, allow_download=False)
    except WeightsUnavailable as err:
        raise SourceUnavailable(str(err)) from None


def track_sequence(path: Path, make_predictor: Callable[[], Predictor] | None, cfg: CropConfig | None) -> dict:
    """One sequence folder's tracks: {"name", "tracks": {subject: (T, 2) points}, "not_tracked": [why a subject has
    no track], "subjects", "outside_frame", "model_frames" (`Track`'s counts, summed)}. `make_predictor` None = the
    oracle (which reads no frames). A new predictor per track, so a tracking model never carries state from one face
    to another."""
    seq = read_sequence(path, with_frames=make_predictor is not None)
    out = {"name": seq.name, "tracks": {}, "not_tracked": [], "subjects": len(seq.subjects), "outside_frame": 0,
           "model_frames": 0}
    for subject in seq.subjects:
        predictor = None if make_predictor is None else make_predictor()
        try:
            one = Track(oracle(seq, subject), 0, 0) if predictor is None else track(seq, subject, predictor, cfg)
        except SourceUnavailable as err:  # this subject only: no ground truth here, or a face the model cannot take
            out["not_tracked"].append(f"{seq.name}/{subject.id}: {err}")
            one = Track(np.full((len(seq.frames), 2), np.nan), 0, 0)
        if hasattr(predictor, "close"):
            predictor.close()
        out["tracks"][subject.id] = one.points
        out["outside_frame"] += one.outside_frame
        out["model_frames"] += one.model_frames
    return out


def merge_sequences(results: list[dict]) -> dict:
    """`track_sequence` results in one: {"tracks": {sequence: {subject: points}}, "not_tracked", "outside_frame",
    "model_frames"}; a source that tracks no subject at all is unavailable."""
    not_tracked = [m for r in results for m in r["not_tracked"]]
    if not_tracked and len(not_tracked) == sum(r["subjects"] for r in results):
        raise SourceUnavailable(f"not available: {not_tracked[0]} (and every other subject)")
    return {"tracks": {r["name"]: r["tracks"] for r in results}, "not_tracked": not_tracked,
            "outside_frame": sum(r["outside_frame"] for r in results),
            "model_frames": sum(r["model_frames"] for r in results)}
