"""Detector + pose end to end, as the paper's Table II times them: RTMDet-nano finds the face in a frame at its
320x320 input, the top box is cut out (mmpose's top-down affine crop, box padded 1.25x, fixed aspect) at the pose
model's input size, the pose model runs, and its SimCC logits are decoded and mapped back to frame pixels.

One call of `run_onnx` / `run_torch` is one frame through the whole chain, the same steps in both runtimes
(pre-processing, detector, box decoding, crop, pose model, keypoint decoding); their median over repeated runs is
the pipeline latency. With seeded (untrained) weights the box is arbitrary: the crop costs the same wherever it is,
since the warp writes a fixed-size output.
"""

from __future__ import annotations

import statistics

import cv2
import numpy as np
import onnxruntime as ort
import torch

from thermbench.models import simcc
from thermbench.models.rtmdet import RTMDet, decode_top_box, normalize_detector_input
from thermbench.models.rtmpose import RTMPose, to_input
from thermbench.speed.pose_speed import INPUT_NAME, time_interleaved

BOX_PADDING = 1.25  # mmpose GetBBoxCenterScale / rtmlib


def crop_transform(box_xyxy: np.ndarray, out_size: tuple[int, int], padding: float = BOX_PADDING) -> np.ndarray:
    """2x3 affine map from frame pixels to the pose input: the box centre to the input centre, the padded box
    (aspect ratio fixed to the input's, as mmpose's TopdownAffine) to the input."""
    out_w, out_h = out_size
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w, h = max(x2 - x1, 1.0) * padding, max(y2 - y1, 1.0) * padding
    w, h = max(w, h * out_w / out_h), max(h, w * out_h / out_w)
    s = out_w / w
    return np.array([[s, 0.0, out_w / 2 - s * cx], [0.0, s, out_h / 2 - s * cy]], dtype=np.float64)


def to_frame(kpts_input: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Keypoints (..., 2) in pose-input pixels back to frame pixels (inverse of `crop_transform`)."""
    s, tx, ty = matrix[0, 0], matrix[0, 2], matrix[1, 2]
    return np.stack([(kpts_input[..., 0] - tx) / s, (kpts_input[..., 1] - ty) / s], axis=-1)


def _crop(frame: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    matrix = crop_transform(box, size)
    return cv2.warpAffine(frame, matrix, size, flags=cv2.INTER_LINEAR), matrix


def run_onnx(frame: np.ndarray, detector: ort.InferenceSession, pose: ort.InferenceSession,
             strides: tuple[int, ...], pose_size: tuple[int, int]) -> np.ndarray:
    """One gray uint8 frame at the detector's input size through detector and pose sessions: (K, 2) frame px."""
    det_in = normalize_detector_input(torch.from_numpy(frame)[None, None]).numpy()
    box, _ = decode_top_box(detector.run(None, {INPUT_NAME: det_in}), strides)
    crop, matrix = _crop(frame, box, pose_size)
    simcc_x, simcc_y = pose.run(None, {INPUT_NAME: to_input(crop[None]).numpy()})
    return to_frame(simcc.decode(simcc_x, simcc_y)[0][0], matrix)


@torch.inference_mode()
def run_torch(frame: np.ndarray, detector: RTMDet, pose: RTMPose) -> np.ndarray:
    """`run_onnx` with the PyTorch models in eager mode."""
    outputs = detector(normalize_detector_input(torch.from_numpy(frame)[None, None]))
    box, _ = decode_top_box([o.numpy() for o in outputs], detector.cfg.strides)
    crop, matrix = _crop(frame, box, tuple(pose.cfg.input_size))
    simcc_x, simcc_y = pose(to_input(crop[None]))
    return to_frame(simcc.decode(simcc_x, simcc_y)[0][0], matrix)


def frame(detector: RTMDet, seed: int) -> np.ndarray:
    """A seeded gray uint8 frame at the detector's input size (pixel values do not change the work done)."""
    width, height = detector.cfg.input_size
    return np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)


def measure_pipeline(detector: RTMDet, pose: RTMPose, detector_onnx, pose_onnx, warmup: int, repeats: int,
                     threads: int, seed: int = 0) -> dict:
    """Median ms and fps of one frame end to end in ONNX Runtime and in PyTorch eager, interleaved, `threads`
    intra-op threads each (as `speed.measure_latency`)."""
    from thermbench.core.onnx_session import cpu_session

    image = frame(detector, seed)
    det_session, pose_session = cpu_session(detector_onnx, threads), cpu_session(pose_onnx, threads)
    detector.eval(), pose.eval()
    size = tuple(pose.cfg.input_size)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        times = time_interleaved(
            {"onnxruntime": lambda: run_onnx(image, det_session, pose_session, detector.cfg.strides, size),
             "torch": lambda: run_torch(image, detector, pose)}, warmup, repeats)
    finally:
        torch.set_num_threads(previous)
    result = {"warmup": warmup, "repeats": repeats, "threads": threads, "batch": 1}
    for name, ms in times.items():
        result[f"{name}_ms"] = statistics.median(ms)
        result[f"{name}_min_ms"] = min(ms)
        result[f"{name}_fps"] = 1e3 / statistics.median(ms)
    return result
