"""Sapiens2 top-down 308-keypoint pose on person boxes: UDP affine crop -> network -> UDP heatmap decode -> frame px.

Pre- and post-processing follow the official demo (docs/sources.md, Sapiens2): box x1.25, aspect fixed to the input's
w/h, UDP warp, RGB ImageNet normalisation on the 0..255 scale; decoding is the official UDPHeatmap decoder (argmax +
DARK-UDP refinement, `refine=False` gives the plain argmax) mapped back through the same UDP transform; the flip test
(average with the heatmaps of the mirrored crop, channels swapped by `flip_indices`) is an option.

Pixel centres: the UDP warp indexes pixel centres at integers, so box centres go in minus INTEGER_CENTRE_SHIFT and
keypoints come out plus it (models/landmarker.py). With no box, the whole frame is the box [0, 0, w-1, h-1] in the
demo's integer convention, i.e. the pixel-centre span [0.5, w-0.5] here.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from thermbench.core.keypoints import load_schema
from thermbench.core.numerics import check_precision, inference_autocast
from thermbench.models.landmarker import INTEGER_CENTRE_SHIFT, Prediction, to_bgr, with_noses
from thermbench.models.sapiens2 import Sapiens2, Sapiens2Config, decode_udp, load_sapiens2
from thermbench.models.weights import resolve_sapiens2

MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])
PADDING = 1.25


def box_center_scale(box_xyxy, aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre and padded size (w, h) of a box, the short side grown so that w/h == aspect."""
    x0, y0, x1, y1 = np.asarray(box_xyxy, dtype=np.float64)
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    w, h = (x1 - x0) * PADDING, (y1 - y0) * PADDING
    if w > aspect * h:
        h = w / aspect
    else:
        w = aspect * h
    return center, np.array([w, h])


def udp_warp(image: np.ndarray, center: np.ndarray, scale: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """UDP affine crop to `size` = (W, H): x_out = (W-1)/scale_w * (x - cx + scale_w/2)."""
    s = (np.array(size) - 1) / scale
    t = s * (scale / 2 - center)
    matrix = np.array([[s[0], 0.0, t[0]], [0.0, s[1], t[1]]])
    flags = cv2.INTER_AREA if s.min() < 1 else cv2.INTER_CUBIC
    return cv2.warpAffine(image, matrix, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def decode_heatmaps(heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray,
                    refine: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(K, Hh, Wh) -> keypoints (K, 2) and scores (K,) (the heatmap maxima), in the coordinates `center` is in."""
    _, hh, wh = heatmaps.shape
    xy, scores = decode_udp(heatmaps, refine)
    return xy / np.array([wh - 1, hh - 1]) * scale + center - scale / 2, scores


def flip_back(heatmaps: np.ndarray, flip_indices: list[int]) -> np.ndarray:
    """Heatmaps of the mirrored crop -> the unmirrored layout: flip along W, swap left/right channels."""
    return heatmaps[flip_indices, :, ::-1]


class Sapiens2Pose:
    schema = "sapiens308"

    def __init__(self, model: Sapiens2, input_size: tuple[int, int] = (768, 1024), device: str = "cpu",
                 refine: bool = True, flip_test: bool = False, nose: str = "anatomical", precision: str = "fp32"):
        check_precision(precision, "zeroshot.sapiens2.precision")
        self.device, self.precision = torch.device(device), precision
        self.model = model.eval().to(self.device)
        self.input_size = tuple(input_size)  # (W, H)
        self.refine, self.flip_test, self.nose = refine, flip_test, nose
        self.flip_indices = load_schema(self.schema)["flip_indices"]

    @classmethod
    def from_params(cls, cfg: dict, allow_download: bool, device: str = "cpu", nose: str = "anatomical"
                    ) -> "Sapiens2Pose":
        path = resolve_sapiens2(cfg, allow_download)
        return cls(load_sapiens2(path, Sapiens2Config.from_arch(cfg["arch"])), cfg["input_size"], device,
                   cfg.get("refine", True), cfg.get("flip_test", False), nose, cfg.get("precision", "fp32"))

    def preprocess(self, image: np.ndarray, box) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """Crop tensor (1, 3, H, W) for a box (xyxy, continuous px), its centre (continuous px) and padded size."""
        w, h = self.input_size
        center, scale = box_center_scale(box, w / h)
        crop = udp_warp(to_bgr(image), center - INTEGER_CENTRE_SHIFT, scale, self.input_size)[..., ::-1]  # -> RGB
        x = (crop - MEAN) / STD
        return torch.from_numpy(x.transpose(2, 0, 1).copy()).float()[None], center, scale

    def heatmaps(self, x: torch.Tensor) -> np.ndarray:
        """(K, Hh, Wh) heatmaps of one crop on the configured device (bf16 autocast on a GPU where `precision` says
        so); with flip test, averaged with the mirror's."""
        with inference_autocast(self.precision, self.device):
            heat = self.model(x.to(self.device))[0].float().cpu().numpy()
            if self.flip_test:
                mirrored = self.model(x.flip(-1).to(self.device))[0].float().cpu().numpy()
                heat = (heat + flip_back(mirrored, self.flip_indices)) / 2
        return heat

    @torch.no_grad()
    def predict(self, image: np.ndarray, boxes=None) -> Prediction:
        """One prediction per person box (xyxy frame px); no boxes = the whole frame, as the official demo."""
        if boxes is None or len(boxes) == 0:
            h, w = image.shape[:2]
            boxes = [[0.5, 0.5, w - 0.5, h - 0.5]]
        kpts, scores = [], []
        for box in boxes:
            x, center, scale = self.preprocess(image, box)
            k, s = decode_heatmaps(self.heatmaps(x), center, scale, self.refine)
            kpts.append(k)
            scores.append(s)
        return with_noses(np.stack(kpts), np.stack(scores), self.schema, self.nose)
