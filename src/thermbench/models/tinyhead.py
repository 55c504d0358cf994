"""TinyHead (the nostril-finetune blog): a one-keypoint heatmap head on a frozen backbone, with its heatmap codec.

Coordinate convention (one for encode and decode, so they round-trip): a point at crop pixel x lies at heatmap
coordinate x / stride, where stride = input size / heatmap size (4 for 256 -> 64), as mmpose's MSRA heatmap codec.
"""

from __future__ import annotations

import torch
from torch import nn

HEATMAP_UPSAMPLE = 4  # the blog's bilinear x4: a 16 x 16 feature grid -> 64 x 64 heatmap


class TinyHead(nn.Module):
    """1x1 conv C->256 + BN + GELU, 3x3 conv 256->64 + BN + GELU, bilinear x4, 1x1 conv 64->1 (blog architecture).

    At C = 1024 (Sapiens2-0.4B) it has 410,625 trainable parameters; C follows whichever backbone feeds it.
    """

    def __init__(self, in_channels: int = 1024, mid_channels: int = 256, out_mid_channels: int = 64,
                 upsample: int = HEATMAP_UPSAMPLE):
        super().__init__()
        self.in_channels = in_channels
        self.block1 = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, 1), nn.BatchNorm2d(mid_channels), nn.GELU())
        self.block2 = nn.Sequential(
            nn.Conv2d(mid_channels, out_mid_channels, 3, padding=1), nn.BatchNorm2d(out_mid_channels), nn.GELU())
        self.upsample = nn.Upsample(scale_factor=upsample, mode="bilinear", align_corners=False)
        self.final = nn.Conv2d(out_mid_channels, 1, 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) features -> (B, 1, 4h, 4w) heatmap."""
        return self.final(self.upsample(self.block2(self.block1(feats))))


def count_trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def encode_heatmap(points: torch.Tensor, heatmap_size: int, stride: float, sigma: float) -> torch.Tensor:
    """Unnormalised Gaussian targets (peak 1 at the point): points (B, 2) crop px -> (B, 1, S, S).

    `sigma` is in heatmap pixels.
    """
    grid = torch.arange(heatmap_size, dtype=torch.float32)
    centre = points.to(torch.float32) / stride
    gx = torch.exp(-((grid[None, :] - centre[:, :1]) ** 2) / (2 * sigma**2))  # (B, S) along x
    gy = torch.exp(-((grid[None, :] - centre[:, 1:]) ** 2) / (2 * sigma**2))  # (B, S) along y
    return (gy[:, :, None] * gx[:, None, :])[:, None]


def decode_heatmap(heatmaps: torch.Tensor, stride: float, subpixel: bool = False) -> torch.Tensor:
    """Argmax decode: (B, 1, S, S) -> (B, 2) crop px (x, y).

    With `subpixel`, each axis is refined by the vertex of a parabola through the log-heatmap at the peak and its two
    neighbours (exact for a Gaussian peak); off by default because the blog decodes by plain argmax.
    """
    hm = heatmaps[:, 0].detach().to(torch.float64)
    size = hm.shape[-1]
    flat = hm.flatten(1).argmax(dim=1)
    ys, xs = flat // size, flat % size
    coords = torch.stack([xs, ys], dim=1).to(torch.float64)
    if subpixel:
        coords = coords + _parabola_offsets(hm, xs, ys)
    return (coords * stride).to(torch.float32)


def _parabola_offsets(hm: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Per-axis log-parabola vertex offset in [-0.5, 0.5]; 0 at a border or where the peak is not strictly positive."""
    size = hm.shape[-1]
    log = torch.log(hm.clamp(min=1e-10))
    offsets = torch.zeros(len(xs), 2, dtype=torch.float64)
    for b, (x, y) in enumerate(zip(xs.tolist(), ys.tolist())):
        if hm[b, y, x] <= 0:
            continue
        for axis, (pos, line) in enumerate(((x, log[b, y, :]), (y, log[b, :, x]))):
            if 0 < pos < size - 1:
                left, mid, right = line[pos - 1], line[pos], line[pos + 1]
                curvature = left - 2 * mid + right
                if curvature < 0:
                    offsets[b, axis] = (0.5 * (left - right) / curvature).clamp(-0.5, 0.5)
    return offsets
