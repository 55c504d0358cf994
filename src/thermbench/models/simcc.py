"""SimCC codec (mmpose `SimCCLabel`, gaussian smoothing, normalize=False) and flip helpers for SimCC vectors.

Keypoints are in input-image pixels; bin i of an axis with split ratio r covers pixel i / r.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch


def default_sigma(input_size: tuple[int, int]) -> tuple[float, float]:
    """mmpose face/body configs use sigma = sqrt(L/8) bins per axis: 256 -> 5.66, 192 -> 4.9, 384 -> 6.93."""
    w, h = input_size
    return float(np.sqrt(w / 8)), float(np.sqrt(h / 8))


def encode(keypoints: np.ndarray | torch.Tensor, visible: np.ndarray | torch.Tensor, input_size: tuple[int, int],
           split_ratio: float = 2.0, sigma: tuple[float, float] | None = None):
    """Gaussian SimCC labels.

    keypoints (K,2) or (B,K,2) pixels; visible (K,) or (B,K) in [0,1]; input_size (W,H); sigma in bins per axis
    (default `default_sigma`). Returns float32 target_x (...,K,W*r), target_y (...,K,H*r), weight (...,K): numpy
    arrays for numpy input, tensors on the keypoints' device for tensor input (training on a GPU encodes there).
    As mmpose: mu = round(kpt * r) (integer bin), target = exp(-(i - mu)^2 / (2 sigma^2)) with peak 1 (the loss
    softmaxes it), weight = visibility; a keypoint with visibility < 0.5 or whose 3-sigma window lies entirely
    outside the bins gets an all-zero row and weight 0 (mmpose keeps the raw visibility as weight there; zero is the
    intent and equal for 0/1 visibility).
    Since mu is an integer, every row is a window of one table of the Gaussian at integer offsets: each exp is
    computed once, not per keypoint and bin.
    """
    as_numpy = not isinstance(keypoints, torch.Tensor)
    kpts = torch.from_numpy(np.asarray(keypoints, dtype=np.float64)) if as_numpy else keypoints.double()
    vis = torch.as_tensor(np.asarray(visible, dtype=np.float64) if as_numpy else visible, device=kpts.device,
                          dtype=torch.float64)
    if kpts.shape[-1] != 2 or vis.shape != kpts.shape[:-1]:
        raise ValueError(f"keypoints {tuple(kpts.shape)} and visible {tuple(vis.shape)} do not match as "
                         "(...,K,2)/(...,K)")
    sigma = np.asarray(default_sigma(input_size) if sigma is None else sigma, dtype=np.float64)
    n_bins = (int(round(input_size[0] * split_ratio)), int(round(input_size[1] * split_ratio)))

    mu = torch.round(kpts * split_ratio)  # (..., K, 2) integer bins
    radius, bins = _limits(tuple(3 * sigma), n_bins, kpts.device)
    inside = ((mu - radius < bins) & (mu + radius + 1 >= 0)).all(dim=-1)
    keep = (vis >= 0.5) & inside
    weight = torch.where(keep, vis, 0.0).float()

    targets = []
    for axis, n in enumerate(n_bins):
        margin = int(np.ceil(3 * sigma[axis])) + 1  # a kept mu lies within 3 sigma + 1 of the bins
        windows = _windows(n, margin, float(sigma[axis]), kpts.device)
        row = ((n - 1) + margin - mu[..., axis].nan_to_num(0.0)).clamp(0, len(windows) - 1).long()
        targets.append(torch.where(keep[..., None], windows[row], 0.0))
    out = (targets[0], targets[1], weight)
    return tuple(t.numpy() for t in out) if as_numpy else out


# Both made once per device and size: a tensor of host numbers is a host-to-device copy, which a GPU step would
# wait for.
@lru_cache(maxsize=None)
def _limits(radius: tuple[float, float], n_bins: tuple[int, int],
            device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.tensor(radius, dtype=torch.float64, device=device),
            torch.tensor(n_bins, dtype=torch.float64, device=device))


@lru_cache(maxsize=None)
def _windows(n: int, margin: int, sigma: float, device: torch.device) -> torch.Tensor:
    """The Gaussian at integer offsets as (rows, n) windows: row j holds offsets j - (n-1) - margin + i."""
    offsets = np.arange(-(n - 1) - margin, n + margin, dtype=np.float64)
    table = np.exp(-(offsets ** 2) / (2 * sigma ** 2)).astype(np.float32)
    return torch.from_numpy(table).to(device).unfold(0, n, 1)


def decode(simcc_x: torch.Tensor | np.ndarray, simcc_y: torch.Tensor | np.ndarray,
           split_ratio: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Argmax decoding (mmpose `get_simcc_maximum`): keypoints (...,K,2) = argmax bin / r in input pixels, and
    scores (...,K) = min(max_x, max_y) of the raw values (not a probability).

    Unlike mmpose, locations with score <= 0 are not replaced by -1: callers threshold `scores` if they need to.
    """
    if isinstance(simcc_x, torch.Tensor):  # reduced on their device: only (...,K) values cross to the host
        sx, sy = simcc_x.detach().float(), simcc_y.detach().float()
        bins = torch.stack([sx.argmax(-1), sy.argmax(-1)], dim=-1).cpu().numpy()
        scores = torch.minimum(sx.amax(-1), sy.amax(-1)).cpu().numpy().astype(np.float64)
    else:
        sx, sy = np.asarray(simcc_x), np.asarray(simcc_y)
        bins = np.stack([sx.argmax(-1), sy.argmax(-1)], axis=-1)
        scores = np.minimum(sx.max(-1), sy.max(-1)).astype(np.float64)
    return bins.astype(np.float64) / split_ratio, scores


def flip_index(flip_pairs: Sequence[Sequence[int]], num_keypoints: int) -> list[int]:
    """Permutation that maps keypoint k to its mirror partner (self-symmetric points map to themselves)."""
    index = list(range(num_keypoints))
    for a, b in flip_pairs:
        index[a], index[b] = b, a
    return index
