"""Detector + pose end to end, as the paper's Table II times them: RTMDet-nano finds its top box in a frame at
its 320x320 input, that box is cut out (mmpose's top-down affine crop, box padded 1.25x, fixed aspect) at the pose
model's input size, the pose model runs, and its SimCC logits are decoded and mapped back to frame pixels.

One call of a `Pipeline` (ONNX Runtime or OpenVINO, any precision of `speed.runtimes`) or of `run_torch` is one
frame through the whole chain, the same steps in every runtime (pre-processing, detector, box decoding, crop, pose
model, keypoint decoding); their median over paired rounds is the pipeline latency. With seeded (untrained) weights
the box is arbitrary: the crop costs the same wherever it is, since the warp writes a fixed-size output. Trained
detector weights are compared on ThermEval frames letterboxed to the detector's input (`person_frames`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from thermbench.core.io import InputError
from thermbench.datasets.common import read_image
from thermbench.datasets.prepared import read_frames
from thermbench.models import simcc
from thermbench.models.rtmdet import PIXEL_MEAN_BGR, PIXEL_STD_BGR, RTMDet, decode_top_box, normalize_detector_input
from thermbench.models.rtmpose import PIXEL_MEAN, PIXEL_STD, RTMPose, to_input
from thermbench.speed import runtimes
from thermbench.speed.runtimes import Runner

BOX_PADDING = 1.25  # mmpose GetBBoxCenterScale / rtmlib
MISSED_BELOW_IOU = 0.5  # COCO's AP50 match: a box below it against the fp32 one counts as missed
# A reference box narrower than this has no overlap worth comparing: a seeded detector's distances are near 0, so its
# top box is a point, and the IoU of two points (or of two sub-pixel boxes) measures nothing.
MIN_BOX_SIDE_PX = 1.0
CALIBRATION_SEED = 10_000  # offset of the calibration frames' seeds from the timed frames'
PAD_VALUE = 114  # mmdet's letterbox padding
BOTH = "-both"  # suffix of an int8 variant's row whose detector is int8 too (without it, only the pose model is)


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


def lookup_table(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(3, 256) float32: channel c's normalised value of each gray level, (v - mean[c]) / std[c] in float32, the
    arithmetic of `normalize_input` / `normalize_detector_input` (so the values are identical)."""
    levels = np.arange(256, dtype=np.float32)[None]
    return (levels - np.array(mean, np.float32)[:, None]) / np.array(std, np.float32)[:, None]


DETECTOR_TABLE = lookup_table(PIXEL_MEAN_BGR, PIXEL_STD_BGR)
POSE_TABLE = lookup_table(PIXEL_MEAN, PIXEL_STD)


def normalize_into(gray: np.ndarray, table: np.ndarray, out: np.ndarray) -> np.ndarray:
    """A gray uint8 (H, W) image normalised into `out` (3, H, W) float32, in place: a table lookup per channel
    (cv2.LUT). Both inputs of a frame (320x320 detector, 256x256 crop), one thread, 200 paired rounds on a shared
    2-core AMD EPYC: median 0.51 ms CPU time, against 0.85 ms for torch's float arithmetic and its copies."""
    for channel in range(3):
        cv2.LUT(gray, table[channel], dst=out[channel])
    return out


class Pipeline:
    """One gray uint8 frame at the detector's input size -> (K, 2) keypoints in frame pixels, through two runners
    (`runtimes.Runner`: input array -> outputs). The input buffers are allocated once and filled in place: the
    runners read them as they are (OpenVINO shares them; ONNX Runtime reads a contiguous float32 array without a
    copy)."""

    def __init__(self, detector: Runner, pose: Runner, detector_size: tuple[int, int], strides: tuple[int, ...],
                 pose_size: tuple[int, int]):
        self.detector, self.pose, self.strides, self.pose_size = detector, pose, strides, pose_size
        (det_w, det_h), (pose_w, pose_h) = detector_size, pose_size
        self.det_in = np.empty((1, 3, det_h, det_w), np.float32)
        self.pose_in = np.empty((1, 3, pose_h, pose_w), np.float32)
        self.crop = np.empty((pose_h, pose_w), np.uint8)

    def box(self, frame: np.ndarray) -> np.ndarray:
        """The frame's top box (x1, y1, x2, y2), input pixels: the detector's part of the chain."""
        normalize_into(frame, DETECTOR_TABLE, self.det_in[0])
        return decode_top_box(self.detector(self.det_in), self.strides)[0]

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        box = self.box(frame)
        matrix = crop_transform(box, self.pose_size)
        cv2.warpAffine(frame, matrix, self.pose_size, dst=self.crop, flags=cv2.INTER_LINEAR)
        normalize_into(self.crop, POSE_TABLE, self.pose_in[0])
        simcc_x, simcc_y = self.pose(self.pose_in)
        return to_frame(simcc.decode(simcc_x, simcc_y)[0][0], matrix)


@torch.inference_mode()
def torch_box(frame: np.ndarray, detector: RTMDet) -> np.ndarray:
    """`Pipeline.box` with the PyTorch detector in eager mode (normalising in torch, as training does)."""
    outputs = detector(normalize_detector_input(torch.from_numpy(frame)[None, None]))
    return decode_top_box([o.numpy() for o in outputs], detector.cfg.strides)[0]


@torch.inference_mode()
def run_torch(frame: np.ndarray, detector: RTMDet, pose: RTMPose) -> np.ndarray:
    """`Pipeline` with the PyTorch models in eager mode (normalising in torch, as training does)."""
    box = torch_box(frame, detector)
    matrix = crop_transform(box, tuple(pose.cfg.input_size))
    crop = cv2.warpAffine(frame, matrix, tuple(pose.cfg.input_size), flags=cv2.INTER_LINEAR)
    simcc_x, simcc_y = pose(to_input(crop[None]))
    return to_frame(simcc.decode(simcc_x, simcc_y)[0][0], matrix)


def frame(detector: RTMDet, seed: int) -> np.ndarray:
    """A seeded gray uint8 frame at the detector's input size (pixel values do not change the work done)."""
    width, height = detector.cfg.input_size
    return np.random.default_rng(seed).integers(0, 256, (height, width), dtype=np.uint8)


def seeded_frames(detector: RTMDet, count: int, seed: int) -> np.ndarray:
    """`count` frames (`frame`) from seeds `seed`, `seed + 1`, ...: what a seeded detector is timed and compared on."""
    return np.stack([frame(detector, seed + i) for i in range(count)])


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """`image` (H, W) scaled to fit `size` (W, H) with its aspect kept, top-left aligned, the rest padded with
    mmdet's value: (frame, scale); a box in the image maps to the frame by `* scale`."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                         interpolation=cv2.INTER_LINEAR)
    out = np.full((height, width), PAD_VALUE, dtype=np.uint8)
    out[:resized.shape[0], :resized.shape[1]] = resized
    return out, scale


def person_frames(prepared: Path, raw: Path, splits: tuple[str, ...], size: tuple[int, int],
                  count: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """The first `count` (None: every) ThermEval frames of `splits` (frames.csv order) letterboxed to the
    detector's input `size` (W, H), with their person boxes (k, 4) x1, y1, x2, y2 in frame pixels: what a trained
    detector is fitted, calibrated and compared on."""
    rows = read_frames(prepared)
    rows = rows[rows["split"].isin(splits)].head(count)
    if rows.empty:
        raise InputError(f"{prepared}: no frames in split(s) {', '.join(splits)}")
    frames, boxes = [], []
    for row in rows.itertuples(index=False):
        frame, scale = letterbox(read_image(raw / row.image_file), size)
        frames.append(frame)
        boxes.append(np.asarray(json.loads(row.persons), np.float64).reshape(-1, 4) * scale)
    return np.stack(frames), boxes


def calibration_frames(detector: RTMDet, count: int, seed: int) -> np.ndarray:
    """`count` frames like the timed ones (`frame`), from seeds none of the timed or compared frames use, to
    calibrate the int8 detector on."""
    return seeded_frames(detector, count, CALIBRATION_SEED + seed)


def agreement(pred: np.ndarray, reference: np.ndarray) -> dict:
    """Keypoint agreement of `pred` with `reference` (same shape, (..., 2) px): mean distance and the share of
    keypoints within 1 px."""
    dist = np.linalg.norm(np.asarray(pred, np.float64) - reference, axis=-1)
    return {"mean_px_from_fp32": float(dist.mean()), "within_1px_share": float((dist <= 1.0).mean())}


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes (..., 4) x1, y1, x2, y2, pairwise along the leading axes. A seeded detector
    can predict negative distances, so each box's corners are put in order first; two equal empty boxes agree (1)."""
    a, b = (np.concatenate([np.minimum(x[..., :2], x[..., 2:]), np.maximum(x[..., :2], x[..., 2:])], axis=-1)
            for x in (np.asarray(a, np.float64), np.asarray(b, np.float64)))
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    area = lambda x: np.clip(x[..., 2] - x[..., 0], 0, None) * np.clip(x[..., 3] - x[..., 1], 0, None)  # noqa: E731
    union = area(a) + area(b) - w * h
    return np.where(union > 0, w * h / np.where(union > 0, union, 1), np.all(a == b, axis=-1).astype(np.float64))


def box_agreement(boxes: np.ndarray, reference: np.ndarray, min_iou: float = MISSED_BELOW_IOU) -> dict:
    """Top-box agreement of `boxes` with `reference` ((frames, 4) each): the reference's shortest box side, and where
    it is at least `MIN_BOX_SIDE_PX`, the mean and lowest IoU and the frames whose box the reference's would not
    match (IoU below `min_iou`: a detector evaluation's miss)."""
    reference = np.asarray(reference, np.float64)
    side = float(np.abs(reference[:, 2:] - reference[:, :2]).min())
    if side < MIN_BOX_SIDE_PX:
        return {"reference_box_side_px": side}
    overlap = iou(boxes, reference)
    return {"reference_box_side_px": side, "box_iou_mean": float(overlap.mean()), "box_iou_min": float(overlap.min()),
            "boxes_missed": int((overlap < min_iou).sum())}


def pose_variant(row_name: str) -> str:
    """The runtime variant a pipeline row (`row_names`) runs its pose model in: the row's own, `-both` aside."""
    return row_name.removesuffix(BOTH)


def pose_precision(row_name: str) -> str:
    """The precision a pipeline row (`row_names`) runs its pose model in."""
    return pose_variant(row_name).rsplit("-", 1)[1]


def detector_precision(row_name: str) -> str:
    """The precision a pipeline row (`row_names`) runs its detector in: an int8 row's pose model alone is int8 unless
    it is a `-both` row; any other variant runs both models in its own precision."""
    if row_name.endswith(BOTH):
        return "int8"
    precision = pose_precision(row_name)
    return "fp32" if precision == "int8" else precision


def row_names() -> list[str]:
    """The pipeline's rows in table order: each variant, each int8 one also with the int8 detector, then PyTorch."""
    return [*(name for v in runtimes.VARIANTS for name in ([v.name, v.name + BOTH] if v.precision == "int8"
                                                            else [v.name])), "torch-fp32"]


def measure_pipeline(detector: RTMDet, pose: RTMPose, detector_onnx: Path, detector_int8_onnx: Path, pose_onnx: Path,
                     pose_int8_onnx: Path, warmup: int, repeats: int, threads: int, images: np.ndarray,
                     seed: int = 0) -> tuple[dict, dict]:
    """One frame end to end in every runtime variant (`runtimes.VARIANTS`: an int8 one runs the int8 pose behind the
    float detector, and as `<variant>-both` behind the int8 detector too) and in PyTorch eager, `threads` intra-op
    threads each, timed in shuffled paired rounds (`runtimes.time_paired`). Returns (timing, agreement): timing per
    row (wall and CPU medians, the paired speed-ups over ONNX Runtime fp32), or its reason not to run; agreement of
    each row's keypoints and top boxes with ONNX Runtime fp32's on `images` (frames, H, W) gray uint8 at the
    detector's input size; the first is the timed one."""
    capabilities = runtimes.openvino_capabilities()
    size = tuple(pose.cfg.input_size)
    runs, boxes = {}, {}
    variants, skipped = runtimes.runnable(capabilities)
    for variant in variants:
        detectors = {variant.name: dataclasses.replace(variant, precision="fp32") if variant.precision == "int8"
                     else variant}
        if variant.precision == "int8":
            detectors[variant.name + BOTH] = variant
        for name, det_variant in detectors.items():
            try:
                det = runtimes.runner(det_variant, detector_onnx, detector_int8_onnx, threads)
                pose_run = runtimes.runner(variant, pose_onnx, pose_int8_onnx, threads)
            except RuntimeError as err:
                skipped[name] = runtimes.refused(variant, err)
                continue
            runs[name] = Pipeline(det, pose_run, tuple(detector.cfg.input_size), detector.cfg.strides, size)
            boxes[name] = runs[name].box
    for variant_name, reason in list(skipped.items()):
        if variant_name in {v.name for v in runtimes.VARIANTS if v.precision == "int8"}:
            skipped.setdefault(variant_name + BOTH, reason)
    detector.eval(), pose.eval()
    runs["torch-fp32"] = lambda image: run_torch(image, detector, pose)
    boxes["torch-fp32"] = lambda image: torch_box(image, detector)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        keypoints = {name: np.stack([run(image) for image in images]) for name, run in runs.items()}
        top = {name: np.stack([box(image) for image in images]) for name, box in boxes.items()}
        times = runtimes.time_paired({name: (lambda run=run: run(images[0])) for name, run in runs.items()},
                                     warmup, repeats, seed)
    finally:
        torch.set_num_threads(previous)
    reference = runtimes.REFERENCE.name
    ratios = runtimes.paired_ratios(times, reference)
    rows = {**{name: {**runtimes.summary(times[name]), f"speedup_over_{reference}": ratios[name]} for name in runs},
            **skipped}
    agree = {**{name: {**agreement(keypoints[name], keypoints[reference]), **box_agreement(top[name], top[reference])}
                for name in runs}, **skipped}
    order = row_names()
    return ({"warmup": warmup, "repeats": repeats, "threads": threads, "batch": 1,
             "variants": {name: rows[name] for name in order}},
            {"frames": len(images), "variants": {name: agree[name] for name in order}})
