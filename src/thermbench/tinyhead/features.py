"""The TinyHead's feature cache: the prepared crops run once through the frozen backbone, every map kept by name.

The backbone never trains, so its features are a pure function of (backbone, crop): computing them once turns
120 epochs of head training into seconds and lets head hyper-parameters change without touching the backbone.
The cache holds each backbone map separately (Sapiens2: its final map; the offline teacher: one map per CSPNeXt
stage), so which maps feed the head can be chosen on the validation crops (`thermbench.tinyhead.protocol`).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from thermbench.core.io import InputError, atomic_dir, write_json, write_text
from thermbench.core.numerics import check_device
from thermbench.core.progress import progress
from thermbench.datasets import thermeval
from thermbench.datasets.prepared import SAMPLES, read_samples
from thermbench.models.tinyhead import BackboneConfig, FrozenBackbone, load_backbone

SPLITS = ("train", "val", "test")


def resolve_device(name: str) -> torch.device:
    """params `head.backbone.device` -> a torch device; a GPU that is asked for but absent is one clear error, not a
    crash."""
    device = check_device(name, "head.backbone.device")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"params.yaml: head.backbone.device is '{name}' but torch sees no CUDA GPU here (use cpu)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"params.yaml: head.backbone.device is '{name}' but MPS is not available here (use cpu)")
    return device


def load_samples(prepared_dir: str | Path) -> pd.DataFrame:
    """The train/val/test rows of `<prepared_dir>/samples.csv` (thermeval contract), in file order."""
    path = Path(prepared_dir) / SAMPLES
    samples = read_samples(prepared_dir, thermeval.COLUMNS)
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


def extract_features(backbone: FrozenBackbone, crops: torch.Tensor, batch_size: int) -> dict[str, torch.Tensor]:
    """(N, H, W) uint8 crops -> {map name: (N, C_i, s, s) float32 on the CPU}, batch by batch on the backbone's
    device."""
    batches = [[m.cpu() for m in backbone.maps(crops[i:i + batch_size])]
               for i in progress(range(0, len(crops), batch_size), desc="features", unit="batch")]
    return {name: torch.cat([b[k] for b in batches]).contiguous() for k, name in enumerate(backbone.map_names)}


def select_features(maps: dict[str, torch.Tensor], names) -> torch.Tensor:
    """The maps `names` concatenated along channels, in that order: the head's input."""
    missing = [n for n in names if n not in maps]
    if missing:
        raise InputError(f"feature cache has no map(s) {missing} (it holds {sorted(maps)}; re-run head_features)")
    return maps[names[0]] if len(names) == 1 else torch.cat([maps[n] for n in names], dim=1)


def save_features(out_dir: str | Path, maps: dict[str, torch.Tensor], samples: pd.DataFrame, backbone: dict) -> None:
    """`features.safetensors` (one tensor per map; row i = samples row i), `index.csv` (the samples rows) and
    `backbone.json`."""
    out_dir = Path(out_dir)
    save_file(maps, str(out_dir / "features.safetensors"))
    write_text(out_dir / "index.csv", samples.to_csv(index=False, lineterminator="\n"))
    write_json(out_dir / "backbone.json", backbone)


def load_features(feature_dir: str | Path) -> tuple[dict[str, torch.Tensor], pd.DataFrame, dict]:
    """What `save_features` wrote: ({map name: features}, index rows, backbone info)."""
    feature_dir = Path(feature_dir)
    for name in ("features.safetensors", "index.csv", "backbone.json"):
        if not (feature_dir / name).is_file():
            raise InputError(f"{feature_dir / name}: not found (run the head_features stage)")
    maps = load_file(str(feature_dir / "features.safetensors"))
    index = pd.read_csv(feature_dir / "index.csv")
    if any(len(m) != len(index) for m in maps.values()):
        raise InputError(f"{feature_dir}: index.csv has {len(index)} rows but the feature maps do not")
    return maps, index, json.loads((feature_dir / "backbone.json").read_text())


def split_data(features: torch.Tensor, index: pd.DataFrame, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Features and GT nose points (crop px) of one split, in index order."""
    rows = np.flatnonzero((index["split"] == split).to_numpy())
    points = torch.tensor(index.loc[rows, ["nose_x", "nose_y"]].to_numpy(dtype=np.float32))
    return features[rows], points


def cache_features(prepared: Path, teacher: Path, out: Path, cfg: BackboneConfig, threads: int, sapiens2_cfg: dict,
                   allow_download: bool) -> None:
    """Frozen-backbone maps of every prepared crop -> `out`, computed on `cfg.device` (the head stages never run the
    backbone again). Every map a candidate in `cfg.teacher_stages` needs is kept, each under its own name."""
    torch.set_num_threads(threads)
    device = resolve_device(cfg.device)
    samples = load_samples(prepared)
    crops = read_crops(prepared, samples["crop_path"])
    model, info = load_backbone(cfg, sapiens2_cfg, allow_download, teacher)
    maps = extract_features(FrozenBackbone(model, cfg.feature_size, device, cfg.precision), crops, cfg.batch_size)
    info.update(crop_size=int(crops.shape[-1]), feature_size=cfg.feature_size,
                maps={name: int(m.shape[1]) for name, m in maps.items()})
    with atomic_dir(out) as tmp:
        save_features(tmp, maps, samples, info)
    shapes = ", ".join(f"{name} {tuple(m.shape)}" for name, m in maps.items())
    print(f"{info['name']} features on {device}: {shapes} for {len(samples)} crops -> {out}")
