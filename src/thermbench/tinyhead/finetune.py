"""The blog's finetune protocol: cache frozen-backbone features once, train a TinyHead on them, evaluate on crops.

The backbone never trains, so its features are a pure function of (backbone, crop): computing them once turns
120 epochs of head training into seconds and lets head hyper-parameters change without touching the backbone.
The cache holds each backbone map separately (Sapiens2: its final map; the offline teacher: one map per CSPNeXt
stage), so which maps feed the head is chosen on the validation crops by training one head per candidate (never on
test). Each head trains until its validation error stops improving (`thermbench.core.convergence`; the epoch count
is a cap, the cosine schedule runs over it) and is kept at its best validation epoch, as the blog's script keeps its.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from thermbench.core import convergence, metrics
from thermbench.core.convergence import Plateau, StopConfig
from thermbench.core.io import InputError, write_json, write_text
from thermbench.core.parallel import ordered_map
from thermbench.core.progress import progress
from thermbench.datasets.prepared import COLUMNS, SAMPLES, read_samples
from thermbench.models.rtmpose import load_model, normalize_input
from thermbench.models.sapiens2 import Sapiens2Config, load_sapiens2
from thermbench.models.tinyhead import HEATMAP_UPSAMPLE, TinyHead, decode_heatmap, encode_heatmap
from thermbench.models.weights import WeightsUnavailable, resolve_sapiens2

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class BackboneConfig:
    name: str                     # sapiens2 | teacher (the pipeline's RGB RTMPose teacher)
    fallback: str | None          # used, with a one-line notice, when the Sapiens2 weights are absent; None = fail
    teacher_input_px: tuple       # (w, h) crops are resized to before the teacher
    teacher_stages: tuple         # candidate sets of CSPNeXt stages (1-4 = stride 4, 8, 16, 32), chosen on val
    feature_size: int             # feature grid the head sees
    batch_size: int               # feature extraction only
    device: str                   # where the backbone runs (features, timing): cpu | cuda | cuda:N | mps


@dataclass(frozen=True)
class HeadConfig:
    backbone: BackboneConfig
    sigma: float                  # Gaussian target sigma, heatmap px
    subpixel: bool                # log-parabola refinement of the argmax; False = the blog's plain argmax
    checkpoint: str               # best_val (the blog: the epoch with the lowest val mean error) | last
    sweep_epochs: int | None      # epochs per candidate in the val sweep over backbone maps; None = `epochs`
    lr: float
    weight_decay: float
    epochs: int                   # the cap: the cosine schedule runs over it, early stopping ends a run sooner
    patience: int | None          # validations without a > min_delta improvement before stopping; None = no stop
    min_delta: float              # relative improvement of the val mean error that counts
    batch_size: int
    seeds: tuple                  # the main run's seeds (the first: the base seed, `main.safetensors`)
    label_counts: tuple           # learning curve over the number of labelled train crops
    curve_seeds: tuple
    pck_thresholds: tuple         # px
    threads: int                  # torch threads for every head stage (timings are reported with it)
    timing_crops: int             # test crops timed end to end (backbone + head), batch 1




def resolve_device(name: str) -> torch.device:
    """params `head.device` -> a torch device; a GPU that is asked for but absent is one clear error, not a crash."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"params.yaml: head.device '{name}' is not a torch device (cpu, cuda, cuda:1, mps)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"params.yaml: head.device is '{name}' but torch sees no CUDA GPU here (use cpu)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"params.yaml: head.device is '{name}' but MPS is not available here (use cpu)")
    return device


class FrozenBackbone(nn.Module):
    """Gray crops (B, H, W) uint8 -> feature maps (B, C_i, s, s) of a backbone that never trains, on `device`.

    `model` is any module with `forward_features(x)` taking ImageNet-normalised RGB on the 0..255 scale (Sapiens2 and
    RTMPose share that normalisation, the blog's mean/std) and returning one map or a list of maps, named by its
    `map_names` (default: "final"). Each map of another size is resized bilinearly to s x s (antialiased, so a shrink
    averages instead of skipping rows): the head always sees the blog's 16 x 16 grid and its x4 upsample gives a
    64 x 64 heatmap. `forward` concatenates the maps along channels.
    """

    def __init__(self, model: nn.Module, feature_size: int = 16, device: str | torch.device = "cpu"):
        super().__init__()
        self.device = torch.device(device)
        self.model = model.eval().requires_grad_(False).to(self.device)
        self.feature_size = feature_size
        self.map_names = tuple(getattr(model, "map_names", ("final",)))

    def train(self, mode: bool = True) -> "FrozenBackbone":
        return super().train(False)  # BN/dropout statistics of a frozen backbone stay as loaded

    @torch.no_grad()
    def maps(self, crops: torch.Tensor) -> list[torch.Tensor]:
        maps = self.model.forward_features(normalize_input(crops[:, None].to(self.device)))  # gray -> 3 channels
        maps = [maps] if torch.is_tensor(maps) else list(maps)
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


# ---------------------------------------------------------------- samples and crops


def load_samples(prepared_dir: str | Path) -> pd.DataFrame:
    """The train/val/test rows of `<prepared_dir>/samples.csv` (thermeval contract), in file order."""
    path = Path(prepared_dir) / SAMPLES
    samples = read_samples(prepared_dir, COLUMNS["thermeval"])
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


# ---------------------------------------------------------------- training


def train_config(cfg: HeadConfig, crop_size: int, feature_size: int) -> dict:
    """The `head` params `train_head` needs plus the heatmap geometry: TinyHead upsamples x4, so a 16 x 16 grid on a
    256 px crop gives a 64 x 64 heatmap with a stride of 4 crop px. A plain dict: it is stored beside each head."""
    heatmap_size = HEATMAP_UPSAMPLE * feature_size
    return {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "epochs": cfg.epochs, "patience": cfg.patience,
            "min_delta": cfg.min_delta, "batch_size": cfg.batch_size, "sigma": cfg.sigma, "subpixel": cfg.subpixel,
            "checkpoint": cfg.checkpoint, "pck_thresholds": list(cfg.pck_thresholds), "heatmap_size": heatmap_size,
            "stride": crop_size / heatmap_size}


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


def map_label(names) -> str:
    """A candidate set of backbone maps as one readable key, e.g. "stage1+stage2"."""
    return "+".join(names)


def main_name(seed: int, seeds) -> str:
    """The main run of `seed`: "main" for the base seed (the first of `seeds`; what a single-head consumer loads),
    "main_s<seed>" for the others."""
    return "main" if seed == seeds[0] else f"main_s{seed}"


def fit_protocol(maps: dict[str, torch.Tensor], index: pd.DataFrame, cfg: dict, seeds, candidates,
                 label_counts, curve_seeds, sweep_epochs: int | None = None,
                 workers: int | None = None) -> tuple[dict[str, dict], list[dict]]:
    """The val sweep over backbone maps, the blog's head once per seed (`main_name`) and the learning-curve heads
    ("n<labels>_s<seed>").

    One head per candidate set of maps and seed is trained on every train label (for `sweep_epochs`, with the cosine
    schedule over them; None = the full recipe); the candidate with the lowest best-epoch validation mean error
    averaged over the seeds (crop px; the first on a tie) is chosen, so the test crops never take part in the choice.
    The main runs are the chosen candidate's sweep heads when the sweep ran the full recipe, else full-recipe heads on
    the chosen maps. The learning-curve heads use the chosen maps; a run with every label and a main seed is that main
    run itself. Each run: {"head", "history", "best_epoch", "convergence", "maps", "n_labels", "seed", "seconds"};
    the sweep: one row per candidate and seed (its convergence record under "convergence"). Heads train in `workers`
    processes (None = one per core, 1 = in this process), each with this process's torch thread count: independent
    seeded runs, so the heads are the same either way.
    """
    if not seeds or not label_counts or not curve_seeds:
        raise InputError("params.yaml: head.seeds, head.label_counts and head.curve_seeds must each list at least "
                         "one value")
    if not candidates:
        raise InputError("params.yaml: head.backbone.teacher_stages must list at least one candidate")

    fit = partial(_fit_head, maps, index, torch.get_num_threads())
    n_train = int((index["split"] == "train").sum())
    everything = np.arange(n_train)
    short = sweep_epochs is not None and sweep_epochs != cfg["epochs"]
    sweep_cfg = {**cfg, "epochs": sweep_epochs} if short else cfg
    fitted = list(ordered_map(fit, [(names, everything, s, sweep_cfg) for names in candidates for s in seeds],
                              "val sweep", workers=workers, unit="head"))
    sweep = [_sweep_row(run) for run in fitted]
    by_maps: dict[str, list[float]] = {}
    for row in sweep:
        by_maps.setdefault(row["maps"], []).append(row["best_val_mean_px"])
    chosen = min(by_maps, key=lambda m: np.mean(by_maps[m]))  # min keeps the first of equal means
    for row in sweep:
        row["chosen"] = row["maps"] == chosen
    names = next(run["maps"] for run in fitted if map_label(run["maps"]) == chosen)

    curve = [(n, s) for n in label_counts for s in curve_seeds if not (n == n_train and s in seeds)]
    jobs = [(names, everything, s, cfg) for s in seeds] if short else []
    jobs += [(names, everything if n == n_train else label_subset(n_train, n, s), s, cfg) for n, s in curve]
    more = list(ordered_map(fit, jobs, "main and label-curve heads", workers=workers, unit="head"))
    main = dict(zip(seeds, more)) if short else {run["seed"]: run for run in fitted if run["maps"] == names}
    runs = {main_name(s, seeds): main[s] for s in seeds}
    runs.update({f"n{n}_s{s}": run for (n, s), run in zip(curve, more[len(jobs) - len(curve):])})
    runs.update({f"n{n_train}_s{s}": main[s] for s in curve_seeds if n_train in label_counts and s in seeds})
    return runs, sweep


def _sweep_row(run: dict) -> dict:
    best = run["history"][run["best_epoch"]]
    return {"maps": map_label(run["maps"]), "seed": run["seed"], "channels": run["head"].in_channels,
            "best_epoch": run["best_epoch"], "best_val_mean_px": best["val_mean_px"],
            **{k: v for k, v in best.items() if k.startswith("val_pck")},
            "last_val_mean_px": run["history"][-1]["val_mean_px"], "epochs_run": len(run["history"]),
            "converged": run["convergence"]["converged"], "seconds": run["seconds"],
            "convergence": run["convergence"]}


def _fit_head(maps: dict[str, torch.Tensor], index: pd.DataFrame, threads: int, job: tuple) -> dict:
    """One head of `fit_protocol` (module level: a worker process runs it). `job` = (map names, train rows, seed,
    recipe)."""
    names, rows, run_seed, run_cfg = job
    torch.set_num_threads(threads)
    feats = select_features(maps, names)
    train_feats, train_points = split_data(feats, index, "train")
    val_feats, val_points = split_data(feats, index, "val")
    start = time.perf_counter()
    head, history, best, record = train_head(train_feats[rows], train_points[rows], val_feats, val_points, run_cfg,
                                             run_seed)
    return {"head": head, "history": history, "best_epoch": best, "convergence": record, "maps": list(names),
            "n_labels": len(rows), "seed": run_seed, "seconds": time.perf_counter() - start}


def train_head(train_feats: torch.Tensor, train_points: torch.Tensor, val_feats: torch.Tensor,
               val_points: torch.Tensor, cfg: dict, seed: int) -> tuple[TinyHead, list[dict], int, dict]:
    """AdamW + per-epoch cosine LR over cfg["epochs"] on Gaussian-heatmap MSE, the blog's recipe, stopped early once
    the val mean error has converged (`thermbench.core.convergence`, cfg["patience"] and cfg["min_delta"]; patience
    None runs every epoch); returns (head, history, best epoch, convergence record).

    History rows (epochs from 0, as the blog's history): epoch, lr, train_loss (mean over the epoch's batches),
    val_loss, val_mean_px and val_pck<t> (crop px, decoded as configured). The head returned is the one after the
    epoch with the lowest val_mean_px (the first such epoch, as the blog's strict `<`) when cfg["checkpoint"] is
    "best_val", or after the last epoch run when it is "last"; the best epoch is returned either way.
    """
    if cfg["checkpoint"] not in ("best_val", "last"):
        raise InputError(f"params.yaml: head.checkpoint must be best_val or last, not {cfg['checkpoint']!r}")
    torch.manual_seed(seed)
    head = TinyHead(in_channels=train_feats.shape[1])
    optimizer = torch.optim.AdamW(head.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    stop = None if cfg["patience"] is None else StopConfig(cfg["patience"], cfg["min_delta"])
    plateau = None if stop is None else Plateau(stop)
    shuffle = torch.Generator().manual_seed(seed)
    targets = encode_heatmap(train_points, cfg["heatmap_size"], cfg["stride"], cfg["sigma"])
    val_targets = encode_heatmap(val_points, cfg["heatmap_size"], cfg["stride"], cfg["sigma"])
    history, best_epoch, best_state = [], 0, None
    for epoch in range(cfg["epochs"]):
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
        if best_state is None or row["val_mean_px"] < history[best_epoch]["val_mean_px"]:
            best_epoch, best_state = epoch, {k: v.clone() for k, v in head.state_dict().items()}
        if plateau is not None:
            plateau.update(row["val_mean_px"])
            if plateau.converged:
                break
    if cfg["checkpoint"] == "best_val":
        head.load_state_dict(best_state)
    converged = plateau is not None and plateau.converged
    return head.eval(), history, best_epoch, convergence.record(stop, converged, len(history), cfg["epochs"],
                                                                best_epoch)


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


def evaluate(head: TinyHead, maps: dict[str, torch.Tensor], index: pd.DataFrame, cfg: dict, crop_size: int,
             split: str = "test") -> tuple[pd.DataFrame, dict]:
    """Per-crop predictions and the blog's table entries, in crop px and in frame px; cfg["maps"] feed the head.

    Frame px: the crop resized its window (box_w x box_h) to crop_size x crop_size, one scale per axis, so a crop
    error vector converts by (box_w, box_h) / crop_size whatever the offset convention.
    """
    rows = np.flatnonzero((index["split"] == split).to_numpy())
    feats, gt = split_data(select_features(maps, cfg["maps"]), index, split)
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
    """Wall-clock ms per crop for the whole predictor (backbone + head + decode), batch 1, after `warmup` crops, with
    backbone and head on the backbone's device (the decode copies the heatmap back, which waits for the GPU)."""
    head = head.eval().to(backbone.device)
    times = []
    for i, crop in enumerate(progress(crops, desc="timing", unit="crop")):
        start = time.perf_counter()
        decode_heatmap(head(backbone(crop[None])).cpu(), stride, subpixel)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000.0)
    return np.asarray(times)


def descent_phases(loss: list[float], window: int = 5, rate: float = 2.0, min_share: float = 0.1) -> list[dict]:
    """Phases of fast descent in a curve (the blog reads its validation mean error), to test the blog's "two-stage
    convergence" on data, not by eye.

    The log of the curve is smoothed by a centred `window`-epoch moving average, then replaced by its running minimum
    (the best value so far), so spikes cannot create or split phases and the falls add up to the total fall. An
    epoch's fall is fast when it exceeds `rate` times the average fall per epoch. Runs of fast epochs are phases;
    phases holding less than `min_share` of the total fall are dropped. Each phase: first/last epoch counted from 0
    (the position in `loss`) and its share of the fall.
    """
    log = np.log(np.maximum(np.asarray(loss, dtype=np.float64), 1e-12))
    if len(log) < window + 2:
        return []
    smooth = np.convolve(np.pad(log, window // 2, mode="edge"), np.ones(window) / window, mode="valid")
    best = np.minimum.accumulate(smooth)
    fall = -np.diff(best)  # fall[i]: from epoch i to epoch i + 1
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
                phases.append({"first_epoch": start, "last_epoch": i, "share": share})
            start = None
    return phases
