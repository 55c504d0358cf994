"""Sapiens2 pose model (ViT backbone + 308-keypoint heatmap head) in plain PyTorch.

Follows facebookresearch/sapiens2 @3098c14 (`sapiens/backbones/standalone/sapiens2.py`,
`sapiens/pose/src/models/heads/pose_heatmap_head.py`) so that `sapiens2_0.4b_pose.safetensors` loads by key with
no renaming: RoPE (no absolute position embedding), 1 cls + 8 storage tokens, RMSNorm, QK-norm, SwiGLU FFN,
LayerScale on the attention branch only, grouped-query attention in the middle layers.
Width and depth are configurable so tests can build a tiny instance with the real key names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thermbench.core.io import InputError

# Backbone and head sizes per released arch (Sapiens2's arch_zoo and pose configs; docs/sources.md).
ARCHS = {
    "0.4b": dict(dim=1024, depth=24, heads=16, ffn_dim=4096, gqa_layers=(8, 16),
                 deconv_channels=(1024, 768), conv_channels=(512, 512, 256)),
}


@dataclass
class Sapiens2Config:
    dim: int = 1024
    depth: int = 24
    heads: int = 16
    ffn_dim: int = 4096
    gqa_layers: tuple[int, int] = (8, 16)   # [start, end) layers whose k/v use heads // 2 heads
    deconv_channels: tuple[int, ...] = (1024, 768)
    conv_channels: tuple[int, ...] = (512, 512, 256)
    num_keypoints: int = 308
    patch: int = 16
    storage_tokens: int = 8
    rope_base: float = 100.0
    rope_dtype: torch.dtype = field(default=torch.bfloat16)  # the official default; q/k are rotated in this dtype

    @classmethod
    def from_arch(cls, arch: str, **overrides) -> "Sapiens2Config":
        if arch not in ARCHS:
            raise KeyError(f"unknown Sapiens2 arch '{arch}'; known: {', '.join(ARCHS)}")
        return cls(**{**ARCHS[arch], **overrides})


class RopeEmbedding(nn.Module):
    """DINOv3-style 2D RoPE: per-axis coordinates in (-1, 1), 16 periods per axis for head_dim 64, no eval jitter."""

    def __init__(self, head_dim: int, base: float, dtype: torch.dtype):
        super().__init__()
        n = head_dim // 4
        self.dtype = dtype
        self.register_buffer("periods", (base ** (torch.arange(n, dtype=torch.float32) / n)).to(dtype))

    def forward(self, hp: int, wp: int) -> tuple[torch.Tensor, torch.Tensor]:
        dev = self.periods.device
        ch = (torch.arange(0.5, hp, device=dev, dtype=self.dtype) / hp) * 2 - 1
        cw = (torch.arange(0.5, wp, device=dev, dtype=self.dtype) / wp) * 2 - 1
        coords = torch.stack(torch.meshgrid(ch, cw, indexing="ij"), dim=-1).flatten(0, 1)  # (HW, 2), row-major
        angles = 2 * math.pi * coords[:, :, None] / self.periods.to(self.dtype)[None, None, :]  # (HW, 2, n)
        angles = angles.flatten(1, 2).tile(2)  # h-axis values, then w-axis, tiled x2 -> head_dim
        return torch.sin(angles), torch.cos(angles)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def _apply_rope(x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor, prefix: int) -> torch.Tensor:
    """Rotates all tokens but the first `prefix` (B, heads, N, head_dim) in the RoPE dtype. As the official
    apply_rope, the whole tensor is cast before the split, so the unrotated prefix tokens come back rounded too."""
    dtype = x.dtype
    x = x.to(sin.dtype)
    rest = x[:, :, prefix:]
    return torch.cat((x[:, :, :prefix], rest * cos + _rotate_half(rest) * sin), dim=2).to(dtype)


class LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.full((dim,), 1e-4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_heads: int, num_extra: int):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim, self.num_extra = heads, kv_heads, dim // heads, num_extra
        self.wq = nn.Linear(dim, dim)
        self.wk = nn.Linear(dim, kv_heads * self.head_dim)
        self.wv = nn.Linear(dim, kv_heads * self.head_dim)
        self.q_norm = nn.RMSNorm(self.head_dim, eps=1e-6)
        self.k_norm = nn.RMSNorm(self.head_dim, eps=1e-6)
        self.proj = nn.Linear(dim, dim)
        self.gamma = LayerScale(dim)

    def forward(self, x: torch.Tensor, sin: torch.Tensor, cos: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q = self.q_norm(self.wq(x).view(b, n, self.heads, self.head_dim).transpose(1, 2))
        k = self.k_norm(self.wk(x).view(b, n, self.kv_heads, self.head_dim).transpose(1, 2))
        v = self.wv(x).view(b, n, self.kv_heads, self.head_dim).transpose(1, 2)
        if self.kv_heads != self.heads:  # each kv head serves consecutive q heads
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        q = _apply_rope(q, sin, cos, self.num_extra)  # cls + storage tokens are not rotated
        k = _apply_rope(k, sin, cos, self.num_extra)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c)
        return self.gamma(self.proj(out))


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w12 = nn.Linear(dim, 2 * hidden)
        self.w3 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.w12(x).chunk(2, dim=-1)
        return self.w3(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: Sapiens2Config, kv_heads: int):
        super().__init__()
        self.ln1 = nn.RMSNorm(cfg.dim, eps=1e-6)
        self.attn = Attention(cfg.dim, cfg.heads, kv_heads, 1 + cfg.storage_tokens)
        self.ln2 = nn.RMSNorm(cfg.dim, eps=1e-6)
        self.ffn = SwiGLU(cfg.dim, cfg.ffn_dim)

    def forward(self, x, sin, cos):
        x = x + self.attn(self.ln1(x), sin, cos)
        return x + self.ffn(self.ln2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int, patch: int):
        super().__init__()
        self.projection = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)


class Sapiens2Backbone(nn.Module):
    """Returns the final-normed patch tokens as a feature map (B, dim, H/16, W/16) ('featmap' output type)."""

    def __init__(self, cfg: Sapiens2Config):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg.dim, cfg.patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.storage_tokens = nn.Parameter(torch.zeros(1, cfg.storage_tokens, cfg.dim))
        self.rope_embed = RopeEmbedding(cfg.dim // cfg.heads, cfg.rope_base, cfg.rope_dtype)
        lo, hi = cfg.gqa_layers
        self.blocks = nn.ModuleList(
            Block(cfg, cfg.heads // 2 if lo <= i < hi else cfg.heads) for i in range(cfg.depth))
        self.ln1 = nn.RMSNorm(cfg.dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed.projection(x)
        b, c, hp, wp = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat((self.cls_token.expand(b, -1, -1), self.storage_tokens.expand(b, -1, -1), x), dim=1)
        sin, cos = self.rope_embed(hp, wp)
        for block in self.blocks:
            x = block(x, sin, cos)
        x = self.ln1(x)[:, 1 + self.cfg.storage_tokens:]
        return x.transpose(1, 2).reshape(b, c, hp, wp)


class PoseHeatmapHead(nn.Module):
    """Two stride-2 deconvs then 1x1 convs, each followed by InstanceNorm + SiLU; heatmaps at 1/4 input resolution."""

    def __init__(self, cfg: Sapiens2Config):
        super().__init__()
        layers, c = [], cfg.dim
        for out in cfg.deconv_channels:
            deconv = nn.ConvTranspose2d(c, out, 4, stride=2, padding=1, bias=False)
            layers += [deconv, nn.InstanceNorm2d(out), nn.SiLU()]
            c = out
        self.deconv_layers = nn.Sequential(*layers)
        layers = []
        for out in cfg.conv_channels:
            layers += [nn.Conv2d(c, out, 1), nn.InstanceNorm2d(out), nn.SiLU()]
            c = out
        self.conv_layers = nn.Sequential(*layers)
        self.conv_pose = nn.Conv2d(c, cfg.num_keypoints, 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.conv_pose(self.conv_layers(self.deconv_layers(feats)))


class Sapiens2(nn.Module):
    """Top-down pose estimator: `backbone.*` and `decode_head.*` match the released checkpoint keys."""

    def __init__(self, cfg: Sapiens2Config):
        super().__init__()
        self.cfg = cfg
        self.backbone = Sapiens2Backbone(cfg)
        self.decode_head = PoseHeatmapHead(cfg)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) normalised RGB -> (B,dim,H/16,W/16); 256x256 gives (B,1024,16,16) for 0.4B."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> heatmaps (B,num_keypoints,H/4,W/4)."""
        return self.decode_head(self.backbone(x))


def build_sapiens2(arch: str = "0.4b", **overrides) -> Sapiens2:
    return Sapiens2(Sapiens2Config.from_arch(arch, **overrides))


def load_sapiens2(path: str | Path, cfg: Sapiens2Config) -> Sapiens2:
    """Build on the meta device and assign the safetensors weights (strict; the RoPE periods may be absent
    from the file, then they are recomputed). Returns an fp32 model in eval mode."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except SafetensorError as err:  # a truncated download or another file under the weights' name
        raise InputError(f"{path}: not a readable safetensors file, corrupt or partly downloaded? ({err}); "
                         "delete it and download it again") from None
    with torch.device("meta"):
        model = Sapiens2(cfg)
    periods = "backbone.rope_embed.periods"
    if periods not in state:
        state[periods] = RopeEmbedding(cfg.dim // cfg.heads, cfg.rope_base, cfg.rope_dtype).periods
    model.load_state_dict(state, strict=True, assign=True)
    return model.float().eval()


# --- decoding: the official UDPHeatmap codec (docs/sources.md, Sapiens2) ---

BLUR_KERNEL = 11  # UDPHeatmap blur_kernel_size of the keypoints308 configs


def heatmap_argmax(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, H, W) -> integer peak locations (K, 2) as (x, y) heatmap px in float32 (as the official codec, whose
    refinement then updates them in that precision), and the peak values (K,)."""
    k, _, w = heatmaps.shape
    flat = heatmaps.reshape(k, -1)
    idx = flat.argmax(axis=1)
    return np.stack([idx % w, idx // w], axis=1).astype(np.float32), flat.max(axis=1)


def blur_heatmaps(heatmaps: np.ndarray, kernel: int = BLUR_KERNEL) -> np.ndarray:
    """Gaussian blur of each map (zero border of kernel//2, cv2 sigma from ksize), rescaled to keep its maximum."""
    border = (kernel - 1) // 2
    out = np.empty_like(heatmaps, dtype=np.float32)
    for k, heat in enumerate(heatmaps.astype(np.float32)):
        padded = np.pad(heat, border)
        blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[border:-border, border:-border]
        peak = blurred.max()
        out[k] = blurred * (heat.max() / peak) if peak != 0 else blurred
    return out


def refine_dark_udp(keypoints: np.ndarray, heatmaps: np.ndarray, kernel: int = BLUR_KERNEL) -> np.ndarray:
    """DARK-UDP sub-pixel refinement of integer peaks (K, 2) on heatmaps (K, H, W), as mmpose's
    `refine_keypoints_dark_udp`: blur, clip to [1e-3, 50], log, then one Newton step with central differences.
    The differences are taken in float32 in the official order of terms and the step is subtracted from float32
    locations: a near-singular Hessian magnifies any other rounding into visible shifts."""
    k, h, w = heatmaps.shape
    logs = np.log(np.clip(blur_heatmaps(heatmaps, kernel), 1e-3, 50.0))
    padded = np.pad(logs, ((0, 0), (1, 1), (1, 1)), mode="edge")
    x = keypoints[:, 0].astype(int) + 1
    y = keypoints[:, 1].astype(int) + 1
    ch = np.arange(k)

    def at(dx: int, dy: int) -> np.ndarray:
        return padded[ch, y + dy, x + dx]

    centre = at(0, 0)
    grad = np.stack([0.5 * (at(1, 0) - at(-1, 0)), 0.5 * (at(0, 1) - at(0, -1))], axis=1)
    dxx = at(1, 0) - 2 * centre + at(-1, 0)
    dyy = at(0, 1) - 2 * centre + at(0, -1)
    dxy = 0.5 * (at(1, 1) - at(1, 0) - at(0, 1) + centre + centre - at(-1, 0) - at(0, -1) + at(-1, -1))
    hessian = np.stack([np.stack([dxx, dxy], -1), np.stack([dxy, dyy], -1)], axis=1)
    inverse = np.linalg.inv(hessian + np.finfo(np.float32).eps * np.eye(2))
    refined = keypoints.astype(np.float32)  # a copy
    refined -= np.einsum("kij,kj->ki", inverse, grad)
    return refined


def decode_udp(heatmaps: np.ndarray, refine: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """UDPHeatmap decode to heatmap px: argmax, then DARK-UDP refinement (the official decoder) unless `refine` is
    False. Returns (K, 2) locations and (K,) scores (the raw maxima)."""
    xy, scores = heatmap_argmax(heatmaps)
    return (refine_dark_udp(xy, heatmaps) if refine else xy), scores
