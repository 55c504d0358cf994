"""RTMDet-nano (CSPNeXt backbone + CSPNeXtPAFPN neck + RTMDetSepBNHead) in plain PyTorch: the face/person detector
that the MLCM-KD paper's Table II times in front of every pose model (320x320, 0.99 M parameters, 0.31 GFLOPs).

Lyu et al., "RTMDet: An Empirical Study of Designing Real-Time Object Detectors", 2022. The configuration is mmpose's
`projects/rtmpose/rtmdet/person/rtmdet_nano_320-8xb32_coco-person.py` (one class), which derives from mmdet's
`rtmdet_l_8xb32-300e_coco.py`:

- backbone CSPNeXt P5, deepen 0.33, widen 0.25, `use_depthwise=True` (the four downsampling convs and each
  CSPNeXtBlock's first conv become depthwise-separable 3x3; the stem stays plain), channel attention, outputs of
  stages 2-4 (strides 8, 16, 32; 64/128/256 channels);
- neck CSPNeXtPAFPN(in 64/128/256, out 64, one block per CSPLayer, `use_depthwise=True`: the two bottom-up
  downsampling convs, the three output convs and each block's first conv are depthwise-separable; its CSPLayers
  have no identity and no channel attention). Older mmdet (before `use_depthwise` reached the neck's CSPLayers and
  output convs) gives 1.42 M parameters, not the published 0.99 M;
- head RTMDetSepBNHead(64 channels, 2 stacked convs per branch, depthwise-separable, `share_conv=False`,
  `exp_on_reg=False`, 1x1 predictors): per level a class logit map (1 channel) and box distances (l, t, r, b) in
  input pixels (the regression map times the stride);
- every ConvModule is conv (no bias) -> BN -> SiLU; the base config passes SyncBN, so BN uses PyTorch's defaults
  (eps 1e-5), not CSPNeXt's class default (eps 1e-3), as in thermbench.models.rtmpose.

Module names follow mmdet/mmcv (`backbone.*`, `neck.*`, `bbox_head.*`; `conv`/`bn`, `depthwise_conv`/
`pointwise_conv`), so an official mmdet checkpoint loads by key with `load_mmdet_checkpoint`. Building blocks that
are the same network are reused from thermbench.models.rtmpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from thermbench.core.io import InputError
from thermbench.models.rtmpose import P5, ConvModule, CSPLayer, CSPNeXt, conv_module, read_checkpoint

__all__ = ["RTMDet", "RTMDetConfig", "DETECTORS", "PIXEL_MEAN_BGR", "PIXEL_STD_BGR", "build_rtmdet",
           "normalize_detector_input", "load_mmdet_checkpoint", "decode_top_box"]

# mmdet DetDataPreprocessor of the RTMDet configs: BGR order (bgr_to_rgb=False), 0-255 pixel scale.
PIXEL_MEAN_BGR = (103.53, 116.28, 123.675)
PIXEL_STD_BGR = (57.375, 57.12, 58.395)

# ----------------------------------------------------------------------------------------------------------- backbone
class CSPNeXtP345(CSPNeXt):
    """CSPNeXt P5 returning the stride-8/16/32 maps (mmdet `out_indices=(2, 3, 4)`)."""

    def __init__(self, deepen: float, widen: float, depthwise: bool):
        super().__init__(deepen, widen, depthwise)
        self.out_channels = tuple(int(row[1] * widen) for row in P5[1:])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        c2 = self.stage2(self.stage1(self.stem(x)))
        c3 = self.stage3(c2)
        return c2, c3, self.stage4(c3)


# --------------------------------------------------------------------------------------------------------------- neck
class CSPNeXtPAFPN(nn.Module):
    """Top-down then bottom-up path aggregation over three levels, then a 3x3 conv per level to `out_channels`."""

    def __init__(self, in_channels: tuple[int, int, int], out_channels: int, num_blocks: int, depthwise: bool):
        super().__init__()
        c = in_channels
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        # Index 0 works on the deepest level, as mmdet orders them.
        self.reduce_layers = nn.ModuleList([ConvModule(c[i], c[i - 1], 1) for i in (2, 1)])
        self.top_down_blocks = nn.ModuleList([CSPLayer(2 * c[i - 1], c[i - 1], num_blocks, False, depthwise, False)
                                              for i in (2, 1)])
        self.downsamples = nn.ModuleList([conv_module(c[i], c[i], 3, 2, depthwise) for i in (0, 1)])
        self.bottom_up_blocks = nn.ModuleList([CSPLayer(2 * c[i], c[i + 1], num_blocks, False, depthwise, False)
                                               for i in (0, 1)])
        self.out_convs = nn.ModuleList([conv_module(c[i], out_channels, 3, 1, depthwise) for i in (0, 1, 2)])

    def forward(self, feats: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        c2, c3, c4 = feats
        p4 = self.reduce_layers[0](c4)
        t3 = self.top_down_blocks[0](torch.cat([self.upsample(p4), c3], 1))
        p3 = self.reduce_layers[1](t3)
        t2 = self.top_down_blocks[1](torch.cat([self.upsample(p3), c2], 1))
        b3 = self.bottom_up_blocks[0](torch.cat([self.downsamples[0](t2), p3], 1))
        b4 = self.bottom_up_blocks[1](torch.cat([self.downsamples[1](b3), p4], 1))
        return tuple(conv(x) for conv, x in zip(self.out_convs, (t2, b3, b4)))


# --------------------------------------------------------------------------------------------------------------- head
class RTMDetSepBNHead(nn.Module):
    """Per level: `stacked_convs` convs -> 1x1 class logits, and `stacked_convs` convs -> 1x1 box distances
    (l, t, r, b) times the stride. No weights shared between levels (`share_conv=False`), no exp on the distances."""

    def __init__(self, in_channels: int, feat_channels: int, num_classes: int, strides: tuple[int, ...],
                 stacked_convs: int, depthwise: bool):
        super().__init__()
        self.strides = strides

        def branch() -> nn.ModuleList:
            return nn.ModuleList([conv_module(in_channels if i == 0 else feat_channels, feat_channels, 3, 1, depthwise)
                                  for i in range(stacked_convs)])

        self.cls_convs = nn.ModuleList([branch() for _ in strides])
        self.reg_convs = nn.ModuleList([branch() for _ in strides])
        self.rtm_cls = nn.ModuleList([nn.Conv2d(feat_channels, num_classes, 1) for _ in strides])
        self.rtm_reg = nn.ModuleList([nn.Conv2d(feat_channels, 4, 1) for _ in strides])
        self._init_weights()

    def _init_weights(self) -> None:
        # mmdet RTMDetSepBNHead.init_weights: convs N(0, 0.01), class bias for a 1 % prior probability.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for conv in self.rtm_cls:
            nn.init.constant_(conv.bias, -float(np.log((1 - 0.01) / 0.01)))

    def forward(self, feats: tuple[torch.Tensor, ...]) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        scores, boxes = [], []
        for i, (x, stride) in enumerate(zip(feats, self.strides)):
            cls_feat, reg_feat = x, x
            for layer in self.cls_convs[i]:
                cls_feat = layer(cls_feat)
            for layer in self.reg_convs[i]:
                reg_feat = layer(reg_feat)
            scores.append(self.rtm_cls[i](cls_feat))
            boxes.append(self.rtm_reg[i](reg_feat) * stride)
        return tuple(scores), tuple(boxes)


# -------------------------------------------------------------------------------------------------------- main module
@dataclass(frozen=True)
class RTMDetConfig:
    name: str
    deepen: float
    widen: float
    neck_blocks: int
    head_channels: int
    depthwise: bool
    num_classes: int = 1
    input_size: tuple[int, int] = (320, 320)  # (W, H) as mmdet
    stacked_convs: int = 2
    strides: tuple[int, ...] = (8, 16, 32)


class RTMDet(nn.Module):
    """Input (B,3,H,W) normalised with PIXEL_MEAN_BGR/PIXEL_STD_BGR. Output: the raw head outputs before decoding as
    one flat tuple (an ONNX export names each): class logits at strides 8, 16, 32, each (B, num_classes, H/s, W/s),
    then box distances at strides 8, 16, 32, each (B, 4, H/s, W/s)."""

    def __init__(self, cfg: RTMDetConfig):
        super().__init__()
        w, h = cfg.input_size
        if w % 32 or h % 32:
            raise ValueError(f"input_size {cfg.input_size}: both sides must be multiples of 32")
        self.cfg = cfg
        self.backbone = CSPNeXtP345(cfg.deepen, cfg.widen, cfg.depthwise)
        self.neck = CSPNeXtPAFPN(self.backbone.out_channels, cfg.head_channels, cfg.neck_blocks, cfg.depthwise)
        self.bbox_head = RTMDetSepBNHead(cfg.head_channels, cfg.head_channels, cfg.num_classes, cfg.strides,
                                         cfg.stacked_convs, cfg.depthwise)

    @property
    def output_names(self) -> list[str]:
        return [f"{kind}_s{s}" for kind in ("cls", "reg") for s in self.cfg.strides]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        scores, boxes = self.bbox_head(self.neck(self.backbone(x)))
        return scores + boxes


DETECTORS: dict[str, RTMDetConfig] = {  # mmpose rtmdet_nano_320-8xb32_coco-person.py (one class)
    "nano": RTMDetConfig("nano", deepen=0.33, widen=0.25, neck_blocks=1, head_channels=64, depthwise=True),
}


def build_rtmdet(name: str = "nano", input_size: tuple[int, int] | None = None) -> RTMDet:
    """RTMDet-`name` at its configured input size, or at `input_size` (W, H; multiples of 32: the weights do not
    depend on it)."""
    if name not in DETECTORS:
        raise InputError(f"rtmdet: unknown detector '{name}' (expected one of {', '.join(DETECTORS)})")
    cfg = DETECTORS[name]
    if input_size is not None:
        cfg = RTMDetConfig(**{**cfg.__dict__, "input_size": tuple(input_size)})
    return RTMDet(cfg)


def normalize_detector_input(images: torch.Tensor) -> torch.Tensor:
    """(B,1|3,H,W) pixels on the 0-255 scale (BGR order) -> normalised float; gray is repeated to 3 channels."""
    images = images.float()
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    mean = torch.tensor(PIXEL_MEAN_BGR, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(PIXEL_STD_BGR, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


def decode_top_box(outputs: list[np.ndarray], strides: tuple[int, ...]) -> tuple[np.ndarray, float]:
    """The best-scoring box of image 0 in RTMDet's flat outputs (class logits per stride, then box distances per
    stride) as (x1, y1, x2, y2) in input pixels, and its probability.

    mmdet's point priors sit at (col * stride, row * stride) (`MlvlPointGenerator`, offset 0); a box is the prior
    minus (l, t) and plus (r, b) (`distance2bbox`). One face per frame needs no NMS: the top box is the answer.
    """
    scores, boxes = outputs[:len(strides)], outputs[len(strides):]
    best = (-np.inf, None)
    for score, box, stride in zip(scores, boxes, strides):
        s = score[0].max(axis=0)  # (H, W): best class per prior
        row, col = np.unravel_index(int(np.argmax(s)), s.shape)
        if s[row, col] > best[0]:
            left, top, right, bottom = box[0, :, row, col]
            px, py = col * stride, row * stride
            best = (float(s[row, col]), np.array([px - left, py - top, px + right, py + bottom], dtype=np.float64))
    logit, xyxy = best
    return xyxy, float(1 / (1 + np.exp(-logit)))


_IGNORED_PREFIXES = ("data_preprocessor.",)


def load_mmdet_checkpoint(model: RTMDet, path_or_state_dict: str | Path | dict) -> RTMDet:
    """Load official mmdet weights (a checkpoint file as `rtmpose.read_checkpoint` reads one, or a state dict with or
    without mmengine's `state_dict` wrapper) by key, strictly; a DDP `module.` prefix is stripped. An unreadable
    file, or missing, unexpected or mis-shaped keys, raise InputError in one line."""
    if isinstance(path_or_state_dict, dict):
        source, state = "state dict", path_or_state_dict
        if isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        state = {k.removeprefix("module."): v for k, v in state.items()}
    else:
        source, state = str(path_or_state_dict), read_checkpoint(path_or_state_dict)
    state = {k: v for k, v in state.items() if not k.startswith(_IGNORED_PREFIXES)}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                        for k in set(own) & set(state) if tuple(state[k].shape) != tuple(own[k].shape))
    if missing or unexpected or mismatched:
        parts = [f"{name} ({len(keys)}): {', '.join(keys[:20])}{' ...' if len(keys) > 20 else ''}"
                 for name, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
                 if keys]
        raise InputError(f"{source}: checkpoint does not fit RTMDet-{model.cfg.name}: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)
    return model
