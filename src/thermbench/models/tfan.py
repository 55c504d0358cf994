"""TFAN, the T-FAKE authors' thermal face landmarker (their package's `DMMv2`), in plain PyTorch.

Flotho, Piening, Kukleva, Steidl, "T-FAKE: Synthesizing Thermal Images for Facial Landmarking", CVPR 2025. Weights:
PyPI `thermal-face-alignment` (import name `tfan`) downloads them from Google Drive; research use only (R-UDA v1.0,
see the provenance table in docs/models.md).

Architecture (`tfan/core/models.py` of thermal-face-alignment 1.0.0, class DMMv2): timm's `mobilenetv2_100` with
`num_classes=0` as `feature_network` (stem, 17 blocks, 1x1 head conv to 1280, global average pool), then
`fc` = Linear(1280, 3 n) reshaped to (n, 3) and passed through a LeakyReLU (slope 0.01), coordinates included.
Per point: x and y as fractions of the square face crop, then a third value that the package returns as the
point's "confidence" (its sliding-window search keeps the window with the lowest mean, so lower is better).
The MobileNetV2 modules follow timm 1.0's EfficientNet builder (`_gen_mobilenet_v2`, DepthwiseSeparableConv,
InvertedResidual, BatchNormAct2d) so the state-dict keys are the package's (`feature_network.conv_stem.weight`,
`feature_network.blocks.1.0.conv_pwl.weight`, ..., `fc.weight`) and its weights load strictly. Order: building
blocks -> MobileNetV2 features -> TFAN -> checkpoint I/O.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from thermbench.core.io import InputError

__all__ = ["TFAN", "MobileNetV2Features", "FEATURES", "load_tfan", "count_parameters"]

FEATURES = 1280  # width of the pooled MobileNetV2 features the head reads
STEM = 32
# timm's mobilenetv2_100 arch_def: (expansion, out channels, repeats, first stride); expansion 1 = the
# depthwise-separable first block, others are inverted residuals. All kernels 3x3, no squeeze-excite.
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
VALUES_PER_POINT = 3  # x, y, score


# ---------------------------------------------------------------------------------------------------- building blocks
class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm followed by ReLU6 when `act` (timm's BatchNormAct2d: the same keys as nn.BatchNorm2d)."""

    def __init__(self, channels: int, act: bool = True):
        super().__init__(channels)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return F.relu6(x) if self.act else x


def conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """timm's create_conv2d with pad_type '': symmetric padding k // 2, no bias."""
    return nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)


class DepthwiseSeparableConv(nn.Module):
    """3x3 depthwise (BN + ReLU6) -> 1x1 pointwise (BN, no activation); residual when the shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv_dw = conv(cin, cin, 3, stride, groups=cin)
        self.bn1 = BatchNormAct2d(cin)
        self.conv_pw = conv(cin, cout, 1)
        self.bn2 = BatchNormAct2d(cout, act=False)
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_pw(self.bn1(self.conv_dw(x))))
        return out + x if self.has_skip else out


class InvertedResidual(nn.Module):
    """1x1 expand (BN + ReLU6) -> 3x3 depthwise (BN + ReLU6) -> 1x1 linear projection (BN); residual when the
    shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        self.conv_pw = conv(cin, mid, 1)
        self.bn1 = BatchNormAct2d(mid)
        self.conv_dw = conv(mid, mid, 3, stride, groups=mid)
        self.bn2 = BatchNormAct2d(mid)
        self.conv_pwl = conv(mid, cout, 1)
        self.bn3 = BatchNormAct2d(cout, act=False)
        self.has_skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv_pwl(self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))))
        return out + x if self.has_skip else out


def _stage(cin: int, expansion: int, cout: int, repeats: int, stride: int) -> nn.Sequential:
    blocks = []
    for i in range(repeats):
        first_in, first_stride = (cin, stride) if i == 0 else (cout, 1)
        blocks.append(DepthwiseSeparableConv(first_in, cout, first_stride) if expansion == 1
                      else InvertedResidual(first_in, cout, first_stride, expansion))
    return nn.Sequential(*blocks)


# ------------------------------------------------------------------------------------------------ MobileNetV2 features
class MobileNetV2Features(nn.Module):
    """timm `mobilenetv2_100` without classifier: (B, 3, H, W) -> (B, 1280) pooled features (stride 32 before
    pooling: 224 px gives a 7x7 map)."""

    def __init__(self):
        super().__init__()
        self.conv_stem = conv(3, STEM, 3, stride=2)
        self.bn1 = BatchNormAct2d(STEM)
        stages, cin = [], STEM
        for expansion, cout, repeats, stride in STAGES:
            stages.append(_stage(cin, expansion, cout, repeats, stride))
            cin = cout
        self.blocks = nn.Sequential(*stages)
        self.conv_head = conv(cin, FEATURES, 1)
        self.bn2 = BatchNormAct2d(FEATURES)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 1280, H/32, W/32), timm's forward_features (head conv included)."""
        return self.bn2(self.conv_head(self.blocks(self.bn1(self.conv_stem(x)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x).mean(dim=(2, 3))  # timm's global_pool: average, flattened


# ------------------------------------------------------------------------------------------------------------ TFAN
class TFAN(nn.Module):
    """The package's DMMv2: MobileNetV2 features -> Linear(1280, 3 n) -> (B, n, 3) -> LeakyReLU."""

    def __init__(self, n_landmarks: int = 70):
        super().__init__()
        self.n_landmarks = n_landmarks
        self.feature_network = MobileNetV2Features()
        self.fc = nn.Linear(FEATURES, n_landmarks * VALUES_PER_POINT)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) ImageNet-normalised crops -> (B, 1280) pooled features."""
        return self.feature_network(x)

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        out = self.fc(feats).reshape(feats.shape[0], self.n_landmarks, VALUES_PER_POINT)
        return F.leaky_relu(out)  # on x, y and score alike, as the package does

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 224, 224) -> (B, n, 3): x, y as fractions of the crop side, then the score (lower = better)."""
        return self.forward_head(self.forward_features(x))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------------------------ checkpoint I/O
DATA_PARALLEL_PREFIX = "module."  # the package loads its Drive file into nn.DataParallel(DMMv2) (convert_model)


def load_tfan(path: str | Path, n_landmarks: int) -> TFAN:
    """A TFAN in eval mode from a `.pt` state dict: the Drive file (keys under `module.`) or the package's converted
    one (plain keys). Strict: any missing, unexpected or mis-shaped key is one InputError line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: TFAN weights not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, or a Drive web page saved under the name; torch's own text is long
        raise InputError(f"{path}: not a readable torch state dict ({type(err).__name__}): a partial download or "
                         "another file under this name? Download it again") from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise InputError(f"{path}: not a TFAN state dict (expected a flat mapping of names to tensors)")
    state = {k.removeprefix(DATA_PARALLEL_PREFIX): v for k, v in state.items()}
    model = TFAN(n_landmarks)
    problem = layout_problem(model.state_dict(), state)
    if problem:
        raise InputError(f"{path}: does not fit TFAN with {n_landmarks} points: {problem}")
    model.load_state_dict(state, strict=True)
    return model.eval()


def layout_problem(own: dict, state: dict) -> str:
    """'' when `state` has exactly `own`'s keys and shapes; else what differs, short enough for one line."""
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
                        for k in set(own) & set(state) if state[k].shape != own[k].shape)
    parts = [f"{name} ({len(keys)}): {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
             for name, keys in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", mismatched))
             if keys]
    if "fc.weight" in state and state["fc.weight"].shape != own["fc.weight"].shape:
        parts.append(f"the file's head has {state['fc.weight'].shape[0] / VALUES_PER_POINT:g} points")
    return "; ".join(parts)
