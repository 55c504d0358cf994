"""Seeded training augmentation of a batch of crops (`thermbench.datasets.crop_store` pixel conventions): a small
random affine about the image centre and a horizontal flip, the same for an image and its paired twin; the images
warped by cv2 in a loader worker (`apply`) or on the training device (`warp`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from thermbench.core.io import InputError
from thermbench.core.keypoints import load_schema
from thermbench.models import simcc


def flip_index(num_keypoints: int = 68) -> np.ndarray:
    """Permutation that relabels keypoints after a horizontal flip, from the iBUG-68 schema's flip pairs."""
    return np.asarray(simcc.flip_index(load_schema("ibug68")["flip_pairs"], num_keypoints))


@dataclass(frozen=True)
class AugmentConfig:
    """Small random affine about the image centre + horizontal flip (paired images get the same transform)."""

    rotate_deg: float = 0.0
    scale: float = 0.0
    shift: float = 0.0
    flip_prob: float = 0.0

    def __post_init__(self):
        # params train.fit.augment, refused in one line where they are read (and by `make profile`)
        rules = (("rotate_deg", 0 <= self.rotate_deg <= 180, "a number in [0, 180] (degrees either way)"),
                 ("scale", 0 <= self.scale < 1, "a number in [0, 1) (a relative change of size)"),
                 ("shift", self.shift >= 0, "a number of at least 0 (a fraction of the input size)"),
                 ("flip_prob", 0 <= self.flip_prob <= 1, "a probability in [0, 1]"))
        for key, ok, rule in rules:
            if not ok:
                raise InputError(f"params.yaml: 'train.fit.augment.{key}' must be {rule}, not {getattr(self, key)!r}")


DRAWS = ("angle_deg", "scale", "shift_x", "shift_y", "flip")  # one row of `draw` per image


def draw(rng: np.random.Generator, n: int, cfg: AugmentConfig, size: tuple[int, int]) -> np.ndarray:
    """(n, 5) transforms for `n` images of `size` (w, h), columns `DRAWS`, drawn image by image from `rng` (so a
    run's draws depend on its seed and batches only, not on who applies them)."""
    w, h = size
    out = np.empty((n, len(DRAWS)))
    for i in range(n):
        angle = rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)
        scale = 1.0 + rng.uniform(-cfg.scale, cfg.scale)
        shift = rng.uniform(-cfg.shift, cfg.shift, size=2) * (w, h)
        out[i] = angle, scale, shift[0], shift[1], rng.random() < cfg.flip_prob
    return out


def matrices(draws: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(n, 2, 3) affine maps (source pixel -> augmented pixel, cv2's pixel centres at integers) of `draws` for
    images of `size` (w, h): rotation and scale about the image centre, the shift, then the mirror where drawn."""
    w, h = size
    out = np.empty((len(draws), 2, 3))
    for i, (angle, scale, shift_x, shift_y, flip) in enumerate(draws):
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, scale)
        m[:, 2] += (shift_x, shift_y)
        if flip:  # mirror after the affine: x -> (w-1) - x
            m = np.array([[-1.0, 0.0, w - 1], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0.0, 0.0, 1.0]])
        out[i] = m
    return out


def points(kpts: np.ndarray, visible: np.ndarray, draws: np.ndarray, flip_idx: np.ndarray,
           size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The keypoints (n, K, 2) and visibility (n, K) of a batch after `draws`; points pushed outside the image
    become invisible, mirrored images take the flipped labels."""
    w, h = size
    out_kpts, out_vis = kpts.copy(), visible.copy()
    for i, (m, flip) in enumerate(zip(matrices(draws, size), draws[:, DRAWS.index("flip")])):
        # cv2 puts pixel centres at integers; our points are continuous, hence the half-pixel shifts.
        pts = (kpts[i] - 0.5) @ m[:, :2].T + m[:, 2] + 0.5
        vis = visible[i].copy()
        if flip:
            pts, vis = pts[flip_idx], vis[flip_idx]
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        out_kpts[i], out_vis[i] = pts, vis * inside
    return out_kpts, out_vis


def apply(images: np.ndarray, kpts: np.ndarray, visible: np.ndarray, draws: np.ndarray, flip_idx: np.ndarray,
          paired: np.ndarray | None = None):
    """Augmented copies of a batch under `draws` (`draw`), warped by cv2 here (`warp` does it on a device)."""
    n, h, w = images.shape[:3]
    out_img, out_pair = np.empty_like(images), None if paired is None else np.empty_like(paired)
    for i, m in enumerate(matrices(draws, (w, h))):
        warp = lambda img: cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)  # noqa: E731
        out_img[i] = warp(images[i])
        if paired is not None:
            out_pair[i] = warp(paired[i])
    return (out_img, *points(kpts, visible, draws, flip_idx, (w, h)), out_pair)


def warp(images: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """uint8 images (n, H, W) or (n, H, W, C) warped by their maps `affine` (n, 2, 3) (`matrices`) on the images'
    device, bilinear with a zero border: `apply`'s cv2.warpAffine but for cv2's rounding of the sampling point to
    1/32 pixel, so a pixel differs by at most the image's change over 1/32 pixel (and 1 for rounding)."""
    x = (images[:, None] if images.ndim == 3 else images.permute(0, 3, 1, 2)).float()
    n, _, h, w = x.shape
    last_row, pixels, extent = _grid_constants(h, w, x.device)
    # inv_ex: linalg.inv would check its result on the host (a GPU step would wait); a drawn affine is invertible
    square = torch.cat([affine.double(), last_row.expand(n, 1, 3)], dim=1)
    inverse = torch.linalg.inv_ex(square).inverse[:, :2].float()  # output -> source
    source = torch.einsum("nij,hwj->nhwi", inverse, pixels)
    grid = source / extent * 2 - 1  # align_corners: -1 and 1 are pixel centres
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    out = out.round().clamp(0, 255).to(torch.uint8)
    return out[:, 0] if images.ndim == 3 else out.permute(0, 2, 3, 1)


@lru_cache(maxsize=None)
def _grid_constants(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`warp`'s constants, made once per size and device (a tensor of host numbers is a host-to-device copy, which a
    GPU step would wait for): the affine maps' last row, each output pixel's (x, y, 1), and (w - 1, h - 1)."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float32),
                            torch.arange(w, device=device, dtype=torch.float32), indexing="ij")
    return (torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64, device=device),
            torch.stack([xs, ys, torch.ones_like(xs)], dim=-1), torch.tensor([w - 1, h - 1], device=device))
