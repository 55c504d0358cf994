"""DWPose through rtmlib: YOLOX person boxes -> RTMPose whole-body (COCO-WholeBody 133) -> nose from the nostril arc.

rtmlib does the model-specific pre/post-processing (letterbox for YOLOX; box x1.25, affine warp and SimCC decode for
RTMPose). Like rtmlib's own Wholebody solution, the same BGR array goes to both networks; for gray thermal frames the
open BGR-vs-RGB question of the pose net (https://github.com/Tau-J/rtmlib/issues/48) does not arise, all three
channels are equal.

Pixel centres: rtmlib's affine warp and SimCC decode index pixel centres at integers. Boxes (GT or YOLOX, both read
as continuous corners) go in minus INTEGER_CENTRE_SHIFT and keypoints come out plus it (models/landmarker.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from thermbench.core.io import InputError
from thermbench.core.onnx_session import cpu_session
from thermbench.models.landmarker import INTEGER_CENTRE_SHIFT, Prediction, to_bgr, with_noses
from thermbench.models.weights import WeightsUnavailable


def rtmlib_cached_onnx(url: str) -> Path:
    """Where rtmlib keeps the unpacked model of `url`: <cache>/hub/checkpoints/<zip name up to the first '.'>.onnx."""
    home = os.getenv("TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "rtmlib"))
    name = os.path.basename(urlparse(url).path).split(".")[0] + ".onnx"
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints" / name


def resolve_onnx(spec: str, allow_download: bool, param: str) -> str:
    """A local .onnx path as is; a URL from rtmlib's cache, downloaded into it when allowed. Weights that cannot be
    had raise WeightsUnavailable naming the URL (or path) and `param`, the params key that takes a local file."""
    if Path(spec).is_file():
        return spec
    if urlparse(spec).scheme not in ("http", "https"):
        raise WeightsUnavailable(f"weights not available: DWPose model {spec} is not a file (set {param} to a "
                                 "local .onnx file or to its download URL)")
    cached = rtmlib_cached_onnx(spec)
    if cached.is_file():
        return str(cached)
    how = f"set {param} to a local .onnx file"
    if not allow_download:
        raise WeightsUnavailable(f"weights not available: DWPose model {spec} is not downloaded "
                                 f"(online, data.source.thermeval real downloads it into rtmlib's cache; or {how})")
    return _download(spec, how)


def _download(url: str, how: str) -> str:
    """rtmlib's own download into its cache. No network (or a refused URL) is "weights not available"; a download
    that arrives broken is an error naming the file."""
    from rtmlib.tools.file import download_checkpoint

    try:
        return download_checkpoint(url, progress=False)
    except zipfile.BadZipFile:
        zip_path = rtmlib_cached_onnx(url).with_name(os.path.basename(urlparse(url).path))
        raise InputError(f"{zip_path}: corrupt download of {url} (not a zip archive); delete it and run again")
    except OSError as err:  # URLError, HTTPError and socket timeouts are all OSErrors
        reason = getattr(err, "reason", None) or err
        raise WeightsUnavailable(f"weights not available: DWPose model {url} could not be downloaded ({reason}); "
                                 f"{how}") from None


def _load(tool, path: str, **kwargs):
    """An rtmlib model on an existing file; a file onnxruntime cannot parse is an error naming it, not a status row."""
    try:
        return tool(path, **kwargs)
    except Exception as err:  # onnxruntime raises its own InvalidProtobuf / Fail / InvalidGraph types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: not a loadable ONNX model, corrupt or partly downloaded? ({first}); "
                         "delete it and download it again") from None


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
            self.detector = _load(YOLOX, det, model_input_size=tuple(det_input_size), nms_thr=nms_thr,
                                  score_thr=score_thr)
            self.pose = _load(RTMPose, pose, model_input_size=tuple(pose_input_size))
        for tool in (self.detector, self.pose):
            _limit_threads(tool, threads)

    @classmethod
    def from_params(cls, cfg: dict, allow_download: bool, threads: int = 1, nose: str = "anatomical",
                    where: str = "zeroshot.dwpose") -> "DWPose":
        """`cfg` is the params section `where` (named in the "weights not available" line)."""
        return cls(resolve_onnx(cfg["det"], allow_download, f"{where}.det"),
                   resolve_onnx(cfg["pose"], allow_download, f"{where}.pose"),
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
