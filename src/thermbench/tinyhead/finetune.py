"""The blog's finetune protocol: cache frozen-backbone features once, train a TinyHead on them, evaluate on crops.

The backbone never trains, so its features are a pure function of (backbone, crop): computing them once turns
120 epochs of head training into seconds and lets head hyper-parameters change without touching the backbone.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from thermbench.core import metrics
from thermbench.core.io import InputError, read_csv, write_json, write_text
from thermbench.models.rtmpose import load_model, normalize_input
from thermbench.models.sapiens2 import Sapiens2Config, load_sapiens2
from thermbench.models.tinyhead import HEATMAP_UPSAMPLE, TinyHead, decode_heatmap, encode_heatmap
from thermbench.zeroshot.common import WeightsUnavailable
from thermbench.zeroshot.sapiens2 import resolve_weights

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class BackboneConfig:
    name: str                     # sapiens2 | teacher (the pipeline's RGB RTMPose teacher)
    fallback: str | None          # used, with a one-line notice, when the Sapiens2 weights are absent; None = fail
    teacher_input_px: tuple       # (w, h) crops are resized to before the teacher
    teacher_stages: tuple         # CSPNeXt stages whose maps feed the head (1-4 = stride 4, 8, 16, 32)
    feature_size: int             # feature grid the head sees
    batch_size: int               # feature extraction only


@dataclass(frozen=True)
class HeadConfig:
    backbone: BackboneConfig
    sigma: float                  # Gaussian target sigma, heatmap px
    subpixel: bool                # log-parabola refinement of the argmax; False = the blog's plain argmax
    lr: float
    weight_decay: float
    epochs: int
    batch_size: int
    seed: int
    label_counts: tuple           # learning curve over the number of labelled train crops
    curve_seeds: tuple
    pck_thresholds: tuple         # px
    threads: int                  # torch threads for every head stage (timings are reported with it)
    timing_crops: int             # test crops timed end to end (backbone + head), batch 1
SAMPLE_COLUMNS = ("sample_id", "split", "crop_path", "nose_x", "nose_y", "box_w", "box_h")


class FrozenBackbone(nn.Module):
    """Gray crops (B, H, W) uint8 -> (B, C, s, s) features of a backbone that never trains.

    `model` is any module with `forward_features(x)` taking ImageNet-normalised RGB on the 0..255 scale (Sapiens2 and
    RTMPose share that normalisation) and returning one map or a list of maps. Each map of another size is resized
    bilinearly to s x s (antialiased, so a shrink averages instead of skipping rows) and the maps are concatenated
    along channels: the head always sees the blog's 16 x 16 grid and its x4 upsample gives a 64 x 64 heatmap.
    """

    def __init__(self, model: nn.Module, feature_size: int = 16):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.feature_size = feature_size

    def train(self, mode: bool = True) -> "FrozenBackbone":
        return super().train(False)  # BN/dropout statistics of a frozen backbone stay as loaded

    @torch.no_grad()
    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        maps = self.model.forward_features(normalize_input(crops[:, None]))  # gray is repeated to 3 channels
        size = (self.feature_size, self.feature_size)
        maps = [m if m.shape[-2:] == size else F.interpolate(m, size=size, mode="bilinear", align_corners=False,
                                                             antialias=True)
                for m in ([maps] if torch.is_tensor(maps) else maps)]
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
            weights = resolve_weights(sapiens2_cfg, allow_download)
        except WeightsUnavailable as err:
            if not cfg.fallback:
                raise InputError(f"Sapiens2 {err}; and head.backbone.fallback is empty") from None
            info["note"] = f"Sapiens2 weights not available; fell back to the {cfg.fallback} backbone"
            print(f"{info['note']} ({err})", file=sys.stderr)
            name = cfg.fallback
        else:
            model = load_sapiens2(weights, Sapiens2Config.from_arch(sapiens2_cfg["arch"]))
            return model, {**info, "name": "sapiens2", "arch": sapiens2_cfg["arch"], "channels": model.cfg.dim}
    if name == "teacher":
        teacher = load_teacher(teacher_dir)
        model = TeacherFeatures(teacher, list(cfg.teacher_input_px), list(cfg.teacher_stages))
        return model, {**info, "name": "teacher", "arch": teacher.cfg.arch, "channels": model.channels,
                       "trained_px": list(teacher.cfg.input_size), "input_px": list(model.input_px),
                       "stages": list(model.stages)}
    raise InputError(f"params.yaml: head.backbone.name '{name}' is not one of sapiens2, teacher")


def load_teacher(teacher_dir: str | Path) -> nn.Module:
    """The pipeline's RGB RTMPose teacher: `<dir>/model.safetensors` + the `.json` sidecar the teacher stage writes.

    Only its fully convolutional backbone is used, so it runs at any input size (see `TeacherFeatures`).
    """
    path = Path(teacher_dir) / "model.safetensors"
    if not path.is_file():
        raise InputError(f"{path}: teacher checkpoint not found (run the teacher stage)")
    return load_model(path)


# ---------------------------------------------------------------- samples and crops


def load_samples(prepared_dir: str | Path) -> pd.DataFrame:
    """The train/val/test rows of `<prepared_dir>/samples.csv` (thermeval contract), in file order."""
    path = Path(prepared_dir) / "samples.csv"
    samples = read_csv(path, SAMPLE_COLUMNS)
    samples = samples[samples["split"].isin(SPLITS)].reset_index(drop=True)
    for split in SPLITS:
        if not (samples["split"] == split).any():
            raise InputError(f"{path}: split '{split}' is empty")
    return samples


def read_crops(prepared_dir: str | Path, crop_paths) -> torch.Tensor:
    """Gray crop PNGs -> (N, H, W) uint8; every crop must have the same size."""
    crops = []
    for rel in crop_paths:
        path = Path(prepared_dir) / rel
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise InputError(f"{path}: missing or not a readable image")
        if crops and image.shape != crops[0].shape:
            raise InputError(f"{path}: size {image.shape[::-1]} differs from {crops[0].shape[::-1]}")
        crops.append(image)
    return torch.from_numpy(np.stack(crops))


# ---------------------------------------------------------------- feature cache


def extract_features(backbone: FrozenBackbone, crops: torch.Tensor, batch_size: int) -> torch.Tensor:
    """(N, H, W) uint8 crops -> (N, C, s, s) float32 features, batch by batch."""
    out = [backbone(crops[i:i + batch_size]) for i in tqdm(range(0, len(crops), batch_size), desc="features",
                                                          unit="batch")]
    return torch.cat(out).contiguous()


def save_features(out_dir: str | Path, features: torch.Tensor, samples: pd.DataFrame, backbone: dict) -> None:
    """`features.safetensors` (row i = samples row i), `index.csv` (the samples rows) and `backbone.json`."""
    out_dir = Path(out_dir)
    save_file({"features": features}, str(out_dir / "features.safetensors"))
    write_text(out_dir / "index.csv", samples.to_csv(index=False, lineterminator="\n"))
    write_json(out_dir / "backbone.json", backbone)


def load_features(feature_dir: str | Path) -> tuple[torch.Tensor, pd.DataFrame, dict]:
    """What `save_features` wrote: (features, index rows, backbone info)."""
    feature_dir = Path(feature_dir)
    for name in ("features.safetensors", "index.csv", "backbone.json"):
        if not (feature_dir / name).is_file():
            raise InputError(f"{feature_dir / name}: not found (run the head_features stage)")
    features = load_file(str(feature_dir / "features.safetensors"))["features"]
    index = pd.read_csv(feature_dir / "index.csv")
    if len(index) != len(features):
        raise InputError(f"{feature_dir}: index.csv has {len(index)} rows but features hold {len(features)}")
    return features, index, json.loads((feature_dir / "backbone.json").read_text())


# ---------------------------------------------------------------- training


def train_config(cfg: HeadConfig, crop_size: int, feature_size: int) -> dict:
    """The `head` params `train_head` needs plus the heatmap geometry: TinyHead upsamples x4, so a 16 x 16 grid on a
    256 px crop gives a 64 x 64 heatmap with a stride of 4 crop px. A plain dict: it is stored beside each head."""
    heatmap_size = HEATMAP_UPSAMPLE * feature_size
    return {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
            "sigma": cfg.sigma, "subpixel": cfg.subpixel, "pck_thresholds": list(cfg.pck_thresholds),
            "heatmap_size": heatmap_size, "stride": crop_size / heatmap_size}


def split_data(features: torch.Tensor, index: pd.DataFrame, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and GT nose points (crop px) of one split, in index order."""
    rows = np.flatnonzero((index["split"] == split).to_numpy())
    points = torch.tensor(index.loc[rows, ["nose_x", "nose_y"]].to_numpy(dtype=np.float32))
    return features[rows], points


def label_subset(n_train: int, n_labels: int, seed: int) -> np.ndarray:
    """The first `n_labels` of a seeded permutation of the train rows (nested in n_labels for one seed)."""
    if not 0 < n_labels <= n_train:
        raise InputError(f"params.yaml: head.label_counts entry {n_labels} is outside 1..{n_train} train crops")
    return np.random.default_rng(seed).permutation(n_train)[:n_labels]


def fit_protocol(features: torch.Tensor, index: pd.DataFrame, cfg: dict, seed: int, label_counts, curve_seeds
                 ) -> dict[str, dict]:
    """The blog's head ("main": every train label, `seed`) and the learning-curve heads ("n<labels>_s<seed>").

    Each run: {"head", "history", "n_labels", "seed", "seconds"} (wall-clock training time).
    """
    if not label_counts or not curve_seeds:
        raise InputError("params.yaml: head.label_counts and head.curve_seeds must each list at least one value")
    train_feats, train_points = split_data(features, index, "train")
    val_feats, val_points = split_data(features, index, "val")
    runs = {"main": (np.arange(len(train_feats)), seed)}
    runs.update({f"n{n}_s{s}": (label_subset(len(train_feats), n, s), s) for n in label_counts for s in curve_seeds})
    out = {}
    for name, (rows, run_seed) in tqdm(runs.items(), desc="heads", unit="run"):
        start = time.perf_counter()
        head, history = train_head(train_feats[rows], train_points[rows], val_feats, val_points, cfg, run_seed)
        out[name] = {"head": head, "history": history, "n_labels": len(rows), "seed": run_seed,
                     "seconds": time.perf_counter() - start}
    return out


def train_head(train_feats: torch.Tensor, train_points: torch.Tensor, val_feats: torch.Tensor,
               val_points: torch.Tensor, cfg: dict, seed: int) -> tuple[TinyHead, list[dict]]:
    """AdamW + per-epoch cosine LR on Gaussian-heatmap MSE, the blog's recipe; returns the head and per-epoch history.

    History rows: epoch, lr, train_loss (mean over the epoch's batches), val_loss, val_mean_px and val_pck<t> (crop px).
    """
    torch.manual_seed(seed)
    head = TinyHead(in_channels=train_feats.shape[1])
    optimizer = torch.optim.AdamW(head.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    shuffle = torch.Generator().manual_seed(seed)
    targets = encode_heatmap(train_points, cfg["heatmap_size"], cfg["stride"], cfg["sigma"])
    val_targets = encode_heatmap(val_points, cfg["heatmap_size"], cfg["stride"], cfg["sigma"])
    history = []
    for epoch in range(1, cfg["epochs"] + 1):
        head.train()
        lr = optimizer.param_groups[0]["lr"]
        losses = []
        for batch in torch.randperm(len(train_feats), generator=shuffle).split(cfg["batch_size"]):
            loss = F.mse_loss(head(train_feats[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        head.eval()
        with torch.no_grad():
            val_heatmaps = head(val_feats)
        errors = point_errors(decode_heatmap(val_heatmaps, cfg["stride"], cfg["subpixel"]), val_points)
        row = {"epoch": epoch, "lr": lr, "train_loss": float(np.mean(losses)),
               "val_loss": F.mse_loss(val_heatmaps, val_targets).item(), "val_mean_px": metrics.mean_error(errors)}
        row.update({f"val_pck{t}": v for t, v in metrics.pck(errors, cfg["pck_thresholds"]).items()})
        history.append(row)
    return head.eval(), history


def point_errors(pred: torch.Tensor, gt: torch.Tensor, scale: np.ndarray | None = None) -> np.ndarray:
    """Euclidean error per point; `scale` (N, 2) first converts each axis (e.g. crop px -> frame px)."""
    diff = pred.numpy().astype(np.float64) - gt.numpy().astype(np.float64)
    return np.linalg.norm(diff if scale is None else diff * scale, axis=1)


def save_head(path: str | Path, head: TinyHead, config: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(path))
    write_json(path.with_suffix(".json"), {**config, "in_channels": head.in_channels})


def load_head(path: str | Path) -> tuple[TinyHead, dict]:
    path = Path(path)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise InputError(f"{path}: head checkpoint or its .json sidecar not found (run the head_train stage)")
    config = json.loads(path.with_suffix(".json").read_text())
    head = TinyHead(in_channels=config["in_channels"])
    head.load_state_dict(load_file(str(path)))
    return head.eval(), config


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def predict(head: TinyHead, features: torch.Tensor, stride: float, subpixel: bool) -> torch.Tensor:
    """(N, C, s, s) features -> (N, 2) nose points in crop px."""
    return decode_heatmap(head.eval()(features), stride, subpixel)


def evaluate(head: TinyHead, features: torch.Tensor, index: pd.DataFrame, cfg: dict, crop_size: int,
             split: str = "test") -> tuple[pd.DataFrame, dict]:
    """Per-crop predictions and the blog's table entries, in crop px and in frame px.

    Frame px: the crop resized the padded box (box_w x box_h) to crop_size x crop_size, one scale per axis, so a crop
    error vector converts by (box_w, box_h) / crop_size whatever the offset convention.
    """
    rows = np.flatnonzero((index["split"] == split).to_numpy())
    feats, gt = split_data(features, index, split)
    pred = predict(head, feats, cfg["stride"], cfg["subpixel"])
    scale = index.iloc[rows][["box_w", "box_h"]].to_numpy(dtype=np.float64) / crop_size
    errors = {"crop_px": point_errors(pred, gt), "frame_px": point_errors(pred, gt, scale)}
    table = pd.DataFrame({"sample_id": index["sample_id"].iloc[rows].to_numpy(), "pred_x": pred[:, 0].numpy(),
                          "pred_y": pred[:, 1].numpy(), "nose_x": gt[:, 0].numpy(), "nose_y": gt[:, 1].numpy(),
                          "error_crop_px": errors["crop_px"], "error_frame_px": errors["frame_px"]})
    return table, {unit: metrics.nose_summary(err, cfg["pck_thresholds"]) for unit, err in errors.items()}


@torch.no_grad()
def time_inference(backbone: FrozenBackbone, head: TinyHead, crops: torch.Tensor, stride: float, subpixel: bool,
                   warmup: int = 2) -> np.ndarray:
    """Wall-clock ms per crop for the whole predictor (backbone + head + decode), batch 1, after `warmup` crops."""
    head.eval()
    times = []
    for i, crop in enumerate(tqdm(crops, desc="timing", unit="crop")):
        start = time.perf_counter()
        decode_heatmap(head(backbone(crop[None])), stride, subpixel)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return np.asarray(times)


def descent_phases(loss: list[float], window: int = 5, rate: float = 2.0, min_share: float = 0.1) -> list[dict]:
    """Phases of fast descent in a loss curve, to test the blog's "two-stage convergence" on data, not by eye.

    The log-loss is smoothed by a centred `window`-epoch moving average, then replaced by its running minimum (the
    best loss so far), so spikes cannot create or split phases and the falls add up to the total fall. An epoch's fall
    is fast when it exceeds `rate` times the average fall per epoch. Runs of fast epochs are phases; phases holding
    less than `min_share` of the total fall are dropped. Each phase: 1-based first/last epoch and its share of the fall.
    """
    log = np.log(np.maximum(np.asarray(loss, dtype=np.float64), 1e-12))
    if len(log) < window + 2:
        return []
    smooth = np.convolve(np.pad(log, window // 2, mode="edge"), np.ones(window) / window, mode="valid")
    best = np.minimum.accumulate(smooth)
    fall = -np.diff(best)  # fall[i]: from epoch i+1 to epoch i+2 (1-based)
    total = best[0] - best[-1]
    if total <= 0:
        return []
    fast = fall > rate * total / len(fall)
    phases, start = [], None
    for i, flag in enumerate(np.append(fast, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            share = float(fall[start:i].sum() / total)
            if share >= min_share:
                phases.append({"first_epoch": start + 1, "last_epoch": i + 1, "share": share})
            start = None
    return phases
