"""RTMPose t/s/m/l/x (CSPNeXt backbone + RTMCC head with GAU + SimCC) in plain PyTorch.

Jiang et al., "RTMPose: Real-Time Multi-Person Pose Estimation based on MMPose", 2023. Structure and module names
follow mmpose/mmdet (`backbone.*`, `head.*`, mmcv ConvModule naming `conv`/`bn`) so an official mmpose checkpoint
loads by key with `load_mmpose_checkpoint`, and the backbone of an official CSPNeXt checkpoint with `load_backbone`.
Order: building blocks -> backbone -> head -> RTMPose -> arch table -> builders and checkpoint I/O.
"""

from __future__ import annotations

import json
import math
import pickle
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from thermbench.core.flops import count_gflops
from thermbench.core.io import InputError, write_text
from thermbench.models import simcc

__all__ = ["RTMPose", "RTMPoseConfig", "ARCHS", "PIXEL_MEAN", "PIXEL_STD", "build_rtmpose", "normalize_input",
           "read_checkpoint", "load_mmpose_checkpoint", "load_backbone", "save_model", "load_model",
           "count_parameters", "fold_batchnorm"]

# mmpose data preprocessor (RGB order, 0-255 pixel scale).
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)

# mmpose P5 rows: (in, out, blocks, add_identity, use_spp), before widen/deepen.
P5 = ((64, 128, 3, True, False), (128, 256, 6, True, False), (256, 512, 6, True, False), (512, 1024, 3, False, True))


# ---------------------------------------------------------------------------------------------------- building blocks
class ConvModule(nn.Sequential):
    """mmcv ConvModule: conv (no bias) -> BN -> SiLU; keys `conv.*`, `bn.*`.

    BN uses PyTorch defaults (eps 1e-5, momentum 0.1): RTMPose configs pass SyncBN, which overrides CSPNeXt's
    own default.
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.activate = nn.SiLU()


class DepthwiseSeparableConvModule(nn.Sequential):
    """mmcv DepthwiseSeparableConvModule: depthwise k x k (groups = in) + BN + SiLU, then pointwise 1x1 + BN + SiLU;
    keys `depthwise_conv.*`, `pointwise_conv.*`."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1):
        super().__init__()
        self.depthwise_conv = ConvModule(cin, cin, k, stride, groups=cin)
        self.pointwise_conv = ConvModule(cin, cout, 1)


def conv_module(cin: int, cout: int, k: int, stride: int, depthwise: bool) -> nn.Module:
    """mmcv's choice under `use_depthwise`: a depthwise-separable conv, or a plain ConvModule."""
    return DepthwiseSeparableConvModule(cin, cout, k, stride) if depthwise else ConvModule(cin, cout, k, stride)


class CSPNeXtBlock(nn.Module):
    """3x3 conv (depthwise-separable under `depthwise`: RTMDet) -> depthwise-separable 5x5 conv, with a residual add
    when asked."""

    def __init__(self, channels: int, add_identity: bool, depthwise: bool = False):
        super().__init__()
        self.conv1 = conv_module(channels, channels, 3, 1, depthwise)
        self.conv2 = DepthwiseSeparableConvModule(channels, channels, 5)
        self.add_identity = add_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class ChannelAttention(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.act = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.act(self.fc(self.global_avgpool(x)))


class CSPLayer(nn.Module):
    """mmdet CSPLayer with CSPNeXt blocks (expand ratio 0.5): cat[blocks(main_conv(x)), short_conv(x)] ->
    [channel attention] -> final_conv. Input and output widths differ only in RTMDet's neck."""

    def __init__(self, cin: int, cout: int, num_blocks: int, add_identity: bool, depthwise: bool = False,
                 channel_attention: bool = True):
        super().__init__()
        mid = cout // 2
        self.main_conv = ConvModule(cin, mid, 1)
        self.short_conv = ConvModule(cin, mid, 1)
        self.final_conv = ConvModule(2 * mid, cout, 1)
        self.blocks = nn.Sequential(*[CSPNeXtBlock(mid, add_identity, depthwise) for _ in range(num_blocks)])
        self.attention = ChannelAttention(2 * mid) if channel_attention else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.blocks(self.main_conv(x)), self.short_conv(x)], dim=1)
        return self.final_conv(self.attention(x) if self.attention is not None else x)


class SPPBottleneck(nn.Module):
    """SPP with three parallel max-pools (5, 9, 13), not the sequential SPPF."""

    def __init__(self, channels: int, kernels: tuple[int, ...] = (5, 9, 13)):
        super().__init__()
        mid = channels // 2
        self.conv1 = ConvModule(channels, mid, 1)
        self.poolings = nn.ModuleList([nn.MaxPool2d(k, 1, k // 2) for k in kernels])
        self.conv2 = ConvModule(mid * (len(kernels) + 1), channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


class CSPNeXt(nn.Module):
    """CSPNeXt P5 backbone; `forward` returns only the stride-32 stage-4 map (RTMPose `out_indices=(4,)`).
    `depthwise` (mmdet `use_depthwise`, RTMDet) makes the downsampling convs and each block's first conv
    depthwise-separable; the stem stays plain either way (mmdet builds it with ConvModule directly)."""

    def __init__(self, deepen: float, widen: float, depthwise: bool = False):
        super().__init__()
        stem = int(P5[0][0] * widen)
        stem_mid = int(P5[0][0] * widen // 2)
        self.stem = nn.Sequential(ConvModule(3, stem_mid, 3, 2), ConvModule(stem_mid, stem_mid, 3),
                                  ConvModule(stem_mid, stem, 3))
        for i, (cin, cout, blocks, add_identity, use_spp) in enumerate(P5, start=1):
            cin, cout = int(cin * widen), int(cout * widen)
            layers = [conv_module(cin, cout, 3, 2, depthwise)] + ([SPPBottleneck(cout)] if use_spp else [])
            layers.append(CSPLayer(cout, cout, max(round(blocks * deepen), 1), add_identity, depthwise))
            self.add_module(f"stage{i}", nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage4(self.stage3(self.stage2(self.stage1(self.stem(x)))))


class ScaleNorm(nn.Module):
    """x / max(||x|| / sqrt(dim), eps) * g, with one scalar gain g."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.scale = dim ** -0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class GAU(nn.Module):
    """Gated attention unit (mmpose RTMCCBlock, self-attention, no rel-pos bias, no dropout): tokens = keypoints.

    A = relu(q k^T / sqrt(s))^2 (squared ReLU, no softmax); y = res_scale * x + o(u * (A v)).
    """

    def __init__(self, dim: int = 256, s: int = 128, expansion_factor: int = 2):
        super().__init__()
        self.e, self.s = int(dim * expansion_factor), s
        self.ln = ScaleNorm(dim)
        self.uv = nn.Linear(dim, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.o = nn.Linear(self.e, dim, bias=False)
        self.res_scale = Scale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        uv = F.silu(self.uv(self.ln(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        base = base.unsqueeze(2) * self.gamma + self.beta  # (B, K, 2, s)
        q, k = base.unbind(dim=2)
        kernel = F.relu(q @ k.transpose(1, 2) / math.sqrt(self.s)).square()
        return self.res_scale(x) + self.o(u * (kernel @ v))


class RTMCCHead(nn.Module):
    """7x7 conv to K maps -> flatten -> ScaleNorm + Linear -> GAU -> per-axis SimCC classifiers."""

    def __init__(self, in_channels: int, num_keypoints: int, input_size: tuple[int, int], split_ratio: float,
                 hidden_dims: int = 256, s: int = 128, expansion_factor: int = 2, final_kernel: int = 7):
        super().__init__()
        w, h = input_size
        flat = (w // 32) * (h // 32)
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, final_kernel, padding=final_kernel // 2)
        self.mlp = nn.Sequential(ScaleNorm(flat), nn.Linear(flat, hidden_dims, bias=False))
        self.gau = GAU(hidden_dims, s, expansion_factor)
        self.cls_x = nn.Linear(hidden_dims, int(w * split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden_dims, int(h * split_ratio), bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        # mmpose RTMCCHead default_init_cfg; it overrides the GAU's xavier init of `uv`, leaves gamma/beta at rand.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.gau(self.mlp(self.final_layer(feats).flatten(2)))
        return self.cls_x(tokens), self.cls_y(tokens)


# -------------------------------------------------------------------------------------------------------- main module
@dataclass(frozen=True)
class RTMPoseConfig:
    arch: str
    deepen: float
    widen: float
    num_keypoints: int = 68
    input_size: tuple[int, int] = (256, 256)  # (W, H) as mmpose
    split_ratio: float = 2.0
    hidden_dims: int = 256
    s: int = 128
    expansion_factor: int = 2
    final_kernel: int = 7

    @property
    def feature_channels(self) -> int:
        return int(P5[-1][1] * self.widen)


class RTMPose(nn.Module):
    """Top-down RTMPose. Input (B,3,H,W) normalised with PIXEL_MEAN/PIXEL_STD; output SimCC logits
    simcc_x (B,K,W*split) and simcc_y (B,K,H*split)."""

    def __init__(self, cfg: RTMPoseConfig):
        super().__init__()
        w, h = cfg.input_size
        if w % 32 or h % 32:
            raise ValueError(f"input_size {cfg.input_size}: both sides must be multiples of 32")
        self.cfg = cfg
        self.feature_channels = cfg.feature_channels
        self.backbone = CSPNeXt(cfg.deepen, cfg.widen)
        self.head = RTMCCHead(cfg.feature_channels, cfg.num_keypoints, cfg.input_size, cfg.split_ratio,
                              cfg.hidden_dims, cfg.s, cfg.expansion_factor, cfg.final_kernel)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward_head(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(feats)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_head(self.forward_features(x))


# ---------------------------------------------------------------------------------------------------------- arch table
ARCHS: dict[str, tuple[float, float]] = {  # arch -> (deepen, widen), from the mmpose RTMPose configs
    "t": (0.167, 0.375),
    "s": (0.33, 0.5),
    "m": (0.67, 0.75),
    "l": (1.0, 1.0),
    "x": (1.33, 1.25),
}


def build_rtmpose(arch: str, num_keypoints: int = 68, input_size: tuple[int, int] = (256, 256)) -> RTMPose:
    """Build RTMPose-`arch` (t/s/m/l/x); `input_size` is (W, H) in pixels, multiples of 32."""
    if arch not in ARCHS:
        raise InputError(f"rtmpose: unknown arch '{arch}' (expected one of {', '.join(ARCHS)})")
    deepen, widen = ARCHS[arch]
    return RTMPose(RTMPoseConfig(arch, deepen, widen, num_keypoints, tuple(input_size)))


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """`model`, changed in place: each ConvModule's BatchNorm folded, with its running statistics, into the
    convolution (the weight scaled per output channel, a bias added) and replaced by an identity. The function of the
    model in eval mode in fewer kernels, for a network that no longer trains (a frozen teacher); its outputs move by
    float rounding only."""
    for module in list(model.modules()):
        if isinstance(module, ConvModule) and isinstance(module.bn, nn.BatchNorm2d):
            bn, conv = module.bn, module.conv
            scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
            with torch.no_grad():
                conv.weight.copy_(conv.weight.double() * scale.view(-1, 1, 1, 1))
                bias = bn.bias.double() - bn.running_mean.double() * scale
            conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=conv.weight.requires_grad)
            module.bn = nn.Identity()
    return model


def normalize_input(images: torch.Tensor) -> torch.Tensor:
    """(B,1|3,H,W) pixels on the 0-255 scale (RGB order) -> normalised float; a gray image is repeated to 3 channels."""
    images = images.float()
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    mean, std = _pixel_stats(images.device)
    return (images - mean) / std


@lru_cache(maxsize=None)
def _pixel_stats(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    # made once per device: a tensor of host numbers is a host-to-device copy, which a GPU step would wait for
    return (torch.tensor(PIXEL_MEAN, device=device).view(1, 3, 1, 1),
            torch.tensor(PIXEL_STD, device=device).view(1, 3, 1, 1))


def to_input(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (N,H,W) gray or (N,H,W,3) RGB -> normalised float (N,3,H,W) on `device`; gray is repeated to 3 channels."""
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    x = x.to(device, non_blocking=True)
    return normalize_input(x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2))


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Keypoints (N,K,2) in input px from SimCC argmax decoding; the model is put in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(images), batch_size):
        simcc_x, simcc_y = model(to_input(images[start:start + batch_size], device))
        out.append(simcc.decode(simcc_x, simcc_y)[0])
    return np.concatenate(out).astype(np.float64)


def crop_px(model: nn.Module, split, batch_size: int = 64,
            images: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and GT of a `thermbench.datasets.crop_store.Split` in crop pixels (the input-px values scaled back
    per sample); `images` replaces the split's own (the RGB twins)."""
    return split.in_crop_px(predict(model, split.images if images is None else images, batch_size)), \
        split.in_crop_px(split.kpts)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (BN running statistics excluded), as the official Params column counts them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


PAPER_INPUT = 256


def complexity(arch: str) -> dict:
    """Params and forward GFLOPs (FlopCounterMode, 2 per multiply-add) of RTMPose-`arch` at 256x256, built on meta."""
    with torch.device("meta"):
        model = build_rtmpose(arch, input_size=(PAPER_INPUT, PAPER_INPUT))
    return {"params_m": count_parameters(model) / 1e6,
            "gflops": count_gflops(model, (1, 3, PAPER_INPUT, PAPER_INPUT)), "at_input": PAPER_INPUT}


# ------------------------------------------------------------------------------------------------------ checkpoint I/O
_IGNORED_PREFIXES = ("data_preprocessor.",)  # mmpose buffers that are not part of the network
BACKBONE_PREFIX = "backbone."  # the CSPNeXt keys in mmpose, mmdet and mmcls files alike (docs/sources.md)


def _torch_load(path: Path) -> dict:
    """A torch file, zip or legacy (publish_model's) format: weights only where the file allows it. mmengine and
    mmcls `meta` may pickle numpy objects, which weights-only loading refuses; such a file is loaded in full, so only
    give checkpoints from a trusted source."""
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch reports a corrupt file as RuntimeError, EOFError, UnpicklingError, ...
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"{path}: not a readable torch checkpoint ({first})") from None


def _unwrap(state: dict) -> dict:
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return {k.removeprefix("module."): v for k, v in state.items()}


def read_checkpoint(path: str | Path) -> dict:
    """The state dict of a `.safetensors` or torch checkpoint: mmengine's `state_dict` wrapper (next to `meta`) is
    unwrapped, as mmengine does, and a DDP `module.` prefix stripped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        state = load_file(str(path))
    else:
        state = _torch_load(path)
    if not isinstance(state, dict):
        raise InputError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return _unwrap(state)


def _key_problems(own: dict, state: dict, limit: int) -> list[str]:
    """Missing, unexpected and mis-shaped keys of `state` against `own` in file order (stem first), the first
    `limit` of each, for one line."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    return [f"{name} ({len(keys)}): {', '.join(keys[:limit])}{' ...' if len(keys) > limit else ''}"
            for name, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
            if keys]


def load_mmpose_checkpoint(model: RTMPose, path_or_state_dict: str | Path | dict) -> RTMPose:
    """Load official mmpose weights (`.pth` with a `state_dict` wrapper, or a bare state dict) by key, strictly.

    Strips a DDP `module.` prefix and ignores `data_preprocessor.*`. Any missing, unexpected or mis-shaped key raises
    InputError listing them (e.g. a 106-point face6 checkpoint into a 68-point model fails on `head.final_layer`).
    """
    if isinstance(path_or_state_dict, dict):
        source, state = "state dict", _unwrap(path_or_state_dict)
    else:
        source, state = str(path_or_state_dict), read_checkpoint(path_or_state_dict)
    state = {k: v for k, v in state.items() if not k.startswith(_IGNORED_PREFIXES)}
    problems = _key_problems(model.state_dict(), state, limit=20)
    if problems:
        raise InputError(f"{source}: checkpoint does not fit RTMPose-{model.cfg.arch} "
                         f"(K={model.cfg.num_keypoints}, input {model.cfg.input_size}): " + "; ".join(problems))
    model.load_state_dict(state, strict=True)
    return model


def load_backbone(model: RTMPose, state: dict, source: str) -> RTMPose:
    """Load the CSPNeXt backbone of a state dict in mmpose/mmdet/mmcls layout (`backbone.*` keys) into `model`,
    strictly by key; the head keeps its weights. Every other key (any head: `head.*` of SimCC, heatmap or ImageNet
    classifier) is ignored, as mmengine's `Pretrained` init with prefix `backbone.` does; unlike mmengine, a missing,
    unexpected or mis-shaped backbone key is an error (mmengine only logs it), naming `source` and the size."""
    weights = {k.removeprefix(BACKBONE_PREFIX): v for k, v in state.items() if k.startswith(BACKBONE_PREFIX)}
    own = model.backbone.state_dict()
    problems = _key_problems(own, weights, limit=3)
    if problems:
        raise InputError(f"{source}: not the backbone of RTMPose-{model.cfg.arch} (CSPNeXt deepen {model.cfg.deepen}, "
                         f"widen {model.cfg.widen}: {len(own)} tensors under '{BACKBONE_PREFIX}', the file has "
                         f"{len(weights)}): " + "; ".join(problems))
    model.backbone.load_state_dict(weights, strict=True)
    return model


def save_model(model: RTMPose, path: str | Path) -> None:
    """Write `<path>` (safetensors state dict) and `<path>.json` (the RTMPoseConfig) so `load_model` can rebuild it."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(path)
    write_text(path.with_name(path.name + ".json"), json.dumps(asdict(model.cfg), indent=2, sort_keys=True) + "\n")


def load_model(path: str | Path) -> RTMPose:
    """Rebuild a model written by `save_model` from its JSON sidecar and load the weights strictly."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        raise InputError(f"{sidecar}: model config sidecar not found")
    cfg = json.loads(sidecar.read_text())
    cfg["input_size"] = tuple(cfg["input_size"])
    model = RTMPose(RTMPoseConfig(**cfg))
    return load_mmpose_checkpoint(model, path)


def load_run(run_dir: str | Path) -> RTMPose:
    """The model a training run saved in its folder (`<run_dir>/model.safetensors` and its sidecar, as `save_model`
    writes them): the documented way to use a trained student or teacher outside its training code."""
    path = Path(run_dir) / "model.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: model not found (train '{Path(run_dir).name}' first)")
    return load_model(path)
