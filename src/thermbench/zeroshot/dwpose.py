"""DWPose through rtmlib: YOLOX person boxes -> RTMPose whole-body (COCO-WholeBody 133) -> nose from the nostril arc.

rtmlib does the model-specific pre/post-processing (letterbox for YOLOX; box x1.25, affine warp and SimCC decode for
RTMPose). Like rtmlib's own Wholebody solution, the same BGR array goes to both networks; for gray thermal frames the
open BGR-vs-RGB question of the pose net (rtmlib issue #48) does not arise, all three channels are equal.

Pixel centres: rtmlib's affine warp and SimCC decode index pixel centres at integers. Boxes (GT or YOLOX, both read
as continuous corners) go in minus INTEGER_CENTRE_SHIFT and keypoints come out plus it (common.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from thermbench.core.onnx_session import cpu_session
from thermbench.zeroshot.common import INTEGER_CENTRE_SHIFT, Prediction, WeightsUnavailable, to_bgr, with_noses


def rtmlib_cached_onnx(url: str) -> Path:
    """Where rtmlib keeps the unpacked model of `url`: <cache>/hub/checkpoints/<zip name up to the first '.'>.onnx."""
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "rtmlib"))
    name = os.path.basename(urlparse(url).path).split(".")[0] + ".onnx"
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints" / name


def resolve_onnx(spec: str, allow_download: bool) -> str:
    """A local .onnx path as is; a URL from rtmlib's cache, or left to rtmlib to download when allowed."""
    if Path(spec).is_file():
        return spec
    if urlparse(spec).scheme in ("http", "https"):
        cached = rtmlib_cached_onnx(spec)
        if cached.is_file():
            return str(cached)
        if allow_download:
            return spec
    raise WeightsUnavailable(
        f"weights not available: {spec} (run with data.source=real online so rtmlib downloads it, "
        "or set zeroshot.dwpose.det/pose to local .onnx files)")


def _limit_threads(tool, threads: int) -> None:
    """rtmlib builds its onnxruntime session with default threading; rebuild it with a fixed thread count."""
    tool.session = cpu_session(tool.onnx_model, threads)


class DWPose:
    schema = "coco_wholebody133"
    num_keypoints = 133

    def __init__(self, det: str, pose: str, det_input_size, pose_input_size, nms_thr: float = 0.45,
                 score_thr: float = 0.3, threads: int = 1, nose: str = "anatomical"):
        from rtmlib import YOLOX, RTMPose

        self.nose = nose
        with contextlib.redirect_stdout(sys.stderr):  # rtmlib prints "load <model>" on stdout
            self.detector = YOLOX(det, model_input_size=tuple(det_input_size), nms_thr=nms_thr, score_thr=score_thr)
            self.pose = RTMPose(pose, model_input_size=tuple(pose_input_size))
        for tool in (self.detector, self.pose):
            _limit_threads(tool, threads)

    @classmethod
    def from_params(cls, cfg: dict, allow_download: bool, threads: int = 1, nose: str = "anatomical") -> "DWPose":
        return cls(resolve_onnx(cfg["det"], allow_download), resolve_onnx(cfg["pose"], allow_download),
                   cfg["det_input_size"], cfg["pose_input_size"], cfg["nms_thr"], cfg["score_thr"], threads, nose)

    def detect(self, image: np.ndarray) -> np.ndarray:
        """YOLOX person boxes (N, 4) xyxy frame px."""
        return np.asarray(self.detector(to_bgr(image)), dtype=np.float64).reshape(-1, 4)

    def predict(self, image: np.ndarray, boxes=None) -> Prediction:
        """Person boxes (xyxy frame px) given -> top-down on them; None -> detect persons in the frame first."""
        bgr = to_bgr(image)
        if boxes is None:
            boxes = self.detector(bgr)
        if len(boxes) == 0:
            return Prediction.empty(self.num_keypoints)
        shifted = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) - INTEGER_CENTRE_SHIFT
        keypoints, scores = self.pose(bgr, bboxes=[list(b) for b in shifted])
        return with_noses(np.asarray(keypoints) + INTEGER_CENTRE_SHIFT, scores, self.schema, self.nose)
