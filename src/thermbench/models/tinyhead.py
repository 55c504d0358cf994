"""TinyHead (the nostril-finetune blog): a one-keypoint heatmap head on a frozen backbone, with its heatmap codec, the
frozen backbones that feed it and the loader of a trained head.

Coordinate convention (one for encode and decode, so they round-trip): a point at crop pixel x lies at heatmap
coordinate x / stride, where stride = input size / heatmap size (4 for 256 -> 64), as mmpose's MSRA heatmap codec.

A trained head is `<name>.safetensors` (its weights) + `<name>.json` (its training record: the backbone maps it reads,
stride, decode, seed, ...), written by `save_head`; `load_head` reads it back and `seed_heads` finds the main run of
each seed in a heads folder. A consumer runs it as `predict(head, FrozenBackbone(model)(crops), ...)` with the backbone
`load_backbone(head_backbone_config(cfg, record["maps"]), ...)` gives.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from thermbench.core.io import InputError, read_json, write_json
from thermbench.core.numerics import check_device, check_precision, inference_autocast
from thermbench.models.rtmpose import load_model, normalize_input
from thermbench.models.sapiens2 import Sapiens2Config, load_sapiens2
from thermbench.models.weights import WeightsUnavailable, resolve_sapiens2

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


INITS = ("default", "zero_last")


def initialise(head: TinyHead, init: str) -> TinyHead:
    """params `head.init`: "default" keeps PyTorch's initialisation (the blog's); "zero_last" sets the last 1x1 conv's
    weight and bias to 0, so the head starts at the all-zero heatmap instead of a random one (on the teacher's
    features its MSE to the Gaussian targets is 20-70x the all-zero heatmap's). The other layers are drawn either
    way, so the two differ only in that conv."""
    if init not in INITS:
        raise InputError(f"params.yaml: head.init {init!r} is not one of {', '.join(INITS)}")
    if init == "zero_last":
        with torch.no_grad():
            head.final.weight.zero_()
            head.final.bias.zero_()
    return head


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


@torch.no_grad()
def predict(head: TinyHead, features: torch.Tensor, stride: float, subpixel: bool) -> torch.Tensor:
    """(N, C, s, s) features -> (N, 2) nose points in crop px."""
    return decode_heatmap(head.eval()(features), stride, subpixel)


# ---------------------------------------------------------------- frozen backbones


@dataclass(frozen=True)
class BackboneConfig:
    name: str                     # sapiens2 | teacher (the pipeline's RGB RTMPose teacher)
    fallback: str | None          # used, with a one-line notice, when the Sapiens2 weights are absent; None = fail
    teacher_input_px: tuple       # (w, h) crops are resized to before the teacher
    teacher_stages: tuple         # candidate sets of CSPNeXt stages (1-4 = stride 4, 8, 16, 32), chosen on val
    feature_size: int             # feature grid the head sees
    batch_size: int               # feature extraction only
    device: str                   # where the backbone runs (features, timing): cpu | cuda | cuda:N | mps
    precision: str = "fp32"       # fp32 | bf16 (autocast on a CUDA device; maps returned in float32)

    def __post_init__(self):
        check_device(self.device, "head.backbone.device")


class FrozenBackbone(nn.Module):
    """Gray crops (B, H, W) uint8 -> feature maps (B, C_i, s, s) of a backbone that never trains, on `device`.

    `model` is any module with `forward_features(x)` taking ImageNet-normalised RGB on the 0..255 scale (Sapiens2 and
    RTMPose share that normalisation, the blog's mean/std) and returning one map or a list of maps, named by its
    `map_names` (default: "final"). Each map of another size is resized bilinearly to s x s (antialiased, so a shrink
    averages instead of skipping rows): the head always sees the blog's 16 x 16 grid and its x4 upsample gives a
    64 x 64 heatmap. `forward` concatenates the maps along channels.
    """

    def __init__(self, model: nn.Module, feature_size: int = 16, device: str | torch.device = "cpu",
                 precision: str = "fp32"):
        super().__init__()
        check_precision(precision, "head.backbone.precision")
        self.device, self.precision = torch.device(device), precision
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.feature_size = feature_size
        self.map_names = tuple(getattr(model, "map_names", ("final",)))

    def train(self, mode: bool = True) -> "FrozenBackbone":
        return super().train(False)  # BN/dropout statistics of a frozen backbone stay as loaded

    @torch.no_grad()
    def maps(self, crops: torch.Tensor) -> list[torch.Tensor]:
        with inference_autocast(self.precision, self.device):
            maps = self.model.forward_features(normalize_input(crops[:, None].to(self.device)))  # gray -> 3 channels
        maps = [maps.float()] if torch.is_tensor(maps) else [m.float() for m in maps]
        if len(maps) != len(self.map_names):
            raise InputError(f"backbone returned {len(maps)} maps for names {list(self.map_names)}")
        size = (self.feature_size, self.feature_size)
        return [m if m.shape[-2:] == size else F.interpolate(m, size=size, mode="bilinear", align_corners=False,
                                                             antialias=True) for m in maps]

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        maps = self.maps(crops)
        return maps[0] if len(maps) == 1 else torch.cat(maps, dim=1)


class TeacherFeatures(nn.Module):
    """The RGB RTMPose teacher's CSPNeXt backbone as a feature extractor for thermal person crops.

    The (normalised) crop is resized to `input_px` = (w, h), e.g. to bring its faces to the teacher's training scale,
    and the maps after the CSPNeXt `stages` listed are returned (1-4: stride 4, 8, 16, 32; stage 4 is what the
    teacher's own head reads) for `FrozenBackbone` to bring to one grid. Which ones to read is a measured choice
    (params `head.backbone`): features transfer across the RGB-to-thermal gap less the deeper they are.
    """

    def __init__(self, model: nn.Module, input_px, stages):
        super().__init__()
        if isinstance(input_px, int):
            input_px = (input_px, input_px)
        if len(input_px) != 2 or any(int(v) % 32 for v in input_px):
            raise InputError(f"params.yaml: head.backbone.teacher_input_px {list(input_px)} must be [w, h], "
                             "multiples of 32")
        if not stages or not set(stages) <= {1, 2, 3, 4}:
            raise InputError(f"params.yaml: head.backbone.teacher_stages {stages} must list CSPNeXt stages 1..4")
        self.backbone = model.backbone
        self.input_px = tuple(int(v) for v in input_px)
        self.stages = tuple(sorted(set(stages)))
        self.map_names = tuple(f"stage{i}" for i in self.stages)
        # each stage opens with its stride-2 ConvModule, whose width is the stage's output width
        self.channels = sum(getattr(self.backbone, f"stage{i}")[0].conv.out_channels for i in self.stages)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        w, h = self.input_px
        if x.shape[-2:] != (h, w):
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        x, maps = self.backbone.stem(x), []
        for i in range(1, self.stages[-1] + 1):
            x = getattr(self.backbone, f"stage{i}")(x)
            if i in self.stages:
                maps.append(x)
        return maps


def load_backbone(cfg: BackboneConfig, sapiens2_cfg: dict, allow_download: bool,
                  teacher_dir: Path) -> tuple[nn.Module, dict]:
    """The backbone `cfg.name` names, as (model, info); info says which one ran and why (kept with the features).

    Sapiens2 weights are found as the zero-shot stage finds them (`sapiens2_cfg` = params `zeroshot.sapiens2`); when
    they are absent we say so in one line and use `cfg.fallback`.
    """
    name, info = cfg.name, {"requested": cfg.name}
    if name == "sapiens2":
        try:
            weights = resolve_sapiens2(sapiens2_cfg, allow_download)
        except WeightsUnavailable as err:
            if not cfg.fallback:
                raise InputError(f"Sapiens2 {err}; and head.backbone.fallback is empty") from None
            info["note"] = f"Sapiens2 weights not available; fell back to the {cfg.fallback} backbone"
            print(f"{info['note']} ({err})", file=sys.stderr)
            name = cfg.fallback
        else:
            model = load_sapiens2(weights, Sapiens2Config.from_arch(sapiens2_cfg["arch"]))
            return model, {**info, "name": "sapiens2", "arch": sapiens2_cfg["arch"], "channels": model.cfg.dim,
                           "candidates": [["final"]]}  # the blog's backbone(x)[0]: nothing to choose
    if name == "teacher":
        teacher = load_teacher(teacher_dir)
        candidates = stage_candidates(cfg.teacher_stages)
        model = TeacherFeatures(teacher, list(cfg.teacher_input_px), sorted(set().union(*candidates)))
        return model, {**info, "name": "teacher", "arch": teacher.cfg.arch, "channels": model.channels,
                       "trained_px": list(teacher.cfg.input_size), "input_px": list(model.input_px),
                       "stages": list(model.stages),
                       "candidates": [[f"stage{i}" for i in sorted(set(c))] for c in candidates]}
    raise InputError(f"params.yaml: head.backbone.name '{name}' is not one of sapiens2, teacher")


def head_backbone_config(cfg: BackboneConfig, maps) -> BackboneConfig:
    """`cfg` narrowed to the maps a trained head reads (its sidecar's "maps"), so a backbone loaded from it returns
    exactly the head's input: the teacher then runs only the chosen stages; Sapiens2 has one map anyway."""
    stages = tuple(int(m.removeprefix("stage")) for m in maps if m.startswith("stage"))
    return dataclasses.replace(cfg, teacher_stages=(stages,)) if stages else cfg


def stage_candidates(teacher_stages) -> list[list[int]]:
    """params `head.backbone.teacher_stages`: a list of candidate stage lists (chosen on val), or one flat list."""
    stages = list(teacher_stages)
    if stages and all(isinstance(s, int) for s in stages):
        return [stages]
    if not stages or not all(isinstance(c, (list, tuple)) and c for c in stages):
        raise InputError(f"params.yaml: head.backbone.teacher_stages {stages} must list candidate stage lists, "
                         "e.g. [[1], [1, 2]]")
    return [list(c) for c in stages]


def load_teacher(teacher_dir: str | Path) -> nn.Module:
    """The pipeline's RGB RTMPose teacher: `<dir>/model.safetensors` + the `.json` sidecar the teacher stage writes.

    Only its fully convolutional backbone is used, so it runs at any input size (see `TeacherFeatures`).
    """
    path = Path(teacher_dir) / "model.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: teacher checkpoint not found (run the teacher stage)")
    return load_model(path)


# ---------------------------------------------------------------- trained heads


def save_head(path: str | Path, head: TinyHead, config: dict) -> None:
    """The head's weights -> `path`, `config` (its training record) and its input width -> the `.json` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(path))
    write_json(path.with_suffix(".json"), {**config, "in_channels": head.in_channels})


def load_head(path: str | Path) -> tuple[TinyHead, dict]:
    """What `save_head` wrote: (the head in eval mode, its training record)."""
    path = Path(path)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise InputError(f"{path}: head checkpoint or its .json sidecar not found (run the head_train stage)")
    config = json.loads(path.with_suffix(".json").read_text())
    head = TinyHead(in_channels=config["in_channels"])
    head.load_state_dict(load_file(str(path)))
    return head.eval(), config


def seed_heads(models_dir: Path) -> dict[int, Path]:
    """The main-run head file of each seed under `models_dir` (head_train's `main*.safetensors`; `main.safetensors`
    is the base seed's), keyed by the seed its sidecar records, in seed order."""
    heads = {int(read_json(path.with_suffix(".json"))["seed"]): path
             for path in Path(models_dir).glob("main*.safetensors")}
    if not heads:
        raise InputError(f"{models_dir}: no main*.safetensors head (run the head_train stage)")
    return dict(sorted(heads.items()))
