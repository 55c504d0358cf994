"""The TinyHead's training loop (the blog's recipe, plus an optional warm-up and initialisation) and its typed
configuration.

Each head trains until its validation error stops improving (`thermbench.core.convergence`; the epoch count is a
cap, the schedule runs over it) and is kept at its best validation epoch, as the blog's script keeps its.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from thermbench.core import convergence, metrics
from thermbench.core.convergence import Plateau, StopConfig, check_stop
from thermbench.core.io import InputError
from thermbench.core.numerics import autocast, check_precision, numerics
from thermbench.models.tinyhead import (
    HEATMAP_UPSAMPLE,
    BackboneConfig,
    TinyHead,
    decode_heatmap,
    encode_heatmap,
    initialise,
)
from thermbench.tinyhead.compare import PCK_PX


@dataclass(frozen=True)
class HeadConfig:
    backbone: BackboneConfig
    sigma: float                  # Gaussian target sigma, heatmap px
    subpixel: bool                # log-parabola refinement of the argmax; False = the blog's plain argmax
    checkpoint: str               # best_val (the blog: the epoch with the lowest val mean error) | last
    sweep_epochs: int | None      # epochs per candidate in the val sweep over backbone maps; None = `epochs`
    lr: float
    weight_decay: float
    warmup_epochs: int            # linear lr warm-up before the cosine (`lr_factor`); 0 = the blog's cosine alone
    init: str                     # default (PyTorch's, the blog's) | zero_last (`models.tinyhead.initialise`)
    epochs: int                   # the cap: the schedule runs over it, early stopping ends a run sooner
    patience: int | None          # validations without a > min_delta improvement before stopping; None = no stop
    min_delta: float              # relative improvement of the val mean error that counts
    batch_size: int
    seeds: tuple                  # the main run's seeds (the first: the base seed, `main.safetensors`)
    label_counts: tuple           # learning curve over the number of labelled train crops
    curve_seeds: tuple
    pck_thresholds: tuple         # px
    threads: int                  # torch threads for every head stage (timings are reported with it)
    timing_crops: int             # test crops timed end to end (backbone + head), batch 1
    precision: str = "fp32"       # the head's training step (thermbench.core.numerics): fp32 | tf32 | bf16
    compile: bool = False         # torch.compile of the head
    deterministic: bool = False   # torch.use_deterministic_algorithms during its training

    def __post_init__(self):
        # a value no head can train with is refused where the params are read (and by `make profile`), in one line
        _above_zero(self.sigma, "head.sigma")
        _above_zero(self.lr, "head.lr")
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) \
                or not self.weight_decay >= 0:
            raise InputError(f"params.yaml: 'head.weight_decay' must be a number of at least 0, "
                             f"not {self.weight_decay!r}")
        for key in ("epochs", "batch_size", "threads", "timing_crops"):
            _whole(getattr(self, key), f"head.{key}", 1)
        _whole(self.sweep_epochs, "head.sweep_epochs", 1, null=True)
        check_stop(self.patience, self.min_delta, "head")
        check_checkpoint(self.checkpoint)
        for epochs in {self.epochs, self.sweep_epochs or self.epochs}:  # the sweep's heads run sweep_epochs
            check_warmup(self.warmup_epochs, epochs)
        _seeds(self.seeds, "head.seeds")
        _seeds(self.curve_seeds, "head.curve_seeds")
        counts = tuple(self.label_counts)
        if not counts or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in counts):
            raise InputError(f"params.yaml: 'head.label_counts' must list whole numbers of at least 1 (labelled train "
                             f"crops), not {list(counts)}")
        thresholds = tuple(self.pck_thresholds)
        if not thresholds or any(isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0
                                 for t in thresholds):
            raise InputError(f"params.yaml: 'head.pck_thresholds' must list numbers above 0 (px), not "
                             f"{list(thresholds)}")
        if f"{PCK_PX}" not in {f"{t}" for t in thresholds}:  # as the history keys it: val_pck10, not val_pck10.0
            raise InputError(f"params.yaml: 'head.pck_thresholds' must include {PCK_PX} (the report's headline "
                             f"PCK@{PCK_PX}px), not {list(thresholds)}")
        check_precision(self.precision, "head.precision")


def _above_zero(value, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InputError(f"params.yaml: '{where}' must be a number above 0, not {value!r}")


def _whole(value, where: str, least: int, null: bool = False) -> None:
    if null and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InputError(f"params.yaml: '{where}' must be a whole number of at least {least}"
                         f"{' or null' if null else ''}, not {value!r}")


def _seeds(seeds, where: str) -> None:
    """A seed list the runs can be named by: distinct whole numbers of at least 0, at least one."""
    seeds = tuple(seeds)
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds) or len(set(seeds)) < len(seeds):
        raise InputError(f"params.yaml: '{where}' must be distinct whole numbers of at least 0, not {list(seeds)}")
    if not seeds:
        raise InputError(f"params.yaml: '{where}' is empty: at least one seed to train")


def check_checkpoint(checkpoint: str) -> None:
    if checkpoint not in ("best_val", "last"):
        raise InputError(f"params.yaml: head.checkpoint must be best_val or last, not {checkpoint!r}")


def check_warmup(warmup_epochs: int, epochs: int) -> None:
    """The warm-up must end before the run does: the cosine runs over the epochs after it."""
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int) or not 0 <= warmup_epochs < epochs:
        raise InputError(f"params.yaml: head.warmup_epochs {warmup_epochs!r} must be in 0..{epochs - 1} (fewer than "
                         f"the {epochs} epochs it runs)")


@dataclass(frozen=True)
class TrainConfig:
    """The `head` params `train_head` needs plus the heatmap geometry: TinyHead upsamples x4, so a 16 x 16 grid on a
    256 px crop gives a 64 x 64 heatmap with a stride of 4 crop px. Stored (as a dict) beside each head."""

    lr: float
    weight_decay: float
    epochs: int                   # the cap: the schedule runs over it
    patience: int | None          # None = no early stop
    min_delta: float
    batch_size: int
    sigma: float                  # heatmap px
    subpixel: bool
    checkpoint: str               # best_val | last
    pck_thresholds: tuple         # crop px
    heatmap_size: int
    stride: float                 # crop px per heatmap px
    precision: str = "fp32"
    compile: bool = False
    deterministic: bool = False
    warmup_epochs: int = 0        # the blog's recipe: no warm-up, PyTorch's initialisation
    init: str = "default"

    @classmethod
    def from_head(cls, cfg: HeadConfig, crop_size: int, feature_size: int) -> TrainConfig:
        heatmap_size = HEATMAP_UPSAMPLE * feature_size
        return cls(lr=cfg.lr, weight_decay=cfg.weight_decay, epochs=cfg.epochs, patience=cfg.patience,
                   min_delta=cfg.min_delta, batch_size=cfg.batch_size, sigma=cfg.sigma, subpixel=cfg.subpixel,
                   checkpoint=cfg.checkpoint, pck_thresholds=tuple(cfg.pck_thresholds), heatmap_size=heatmap_size,
                   stride=crop_size / heatmap_size, precision=cfg.precision, compile=cfg.compile,
                   deterministic=cfg.deterministic, warmup_epochs=cfg.warmup_epochs, init=cfg.init)


def stop_config(cfg: HeadConfig | TrainConfig) -> StopConfig | None:
    """The early-stopping rule of a head recipe; None = no early stop (patience None)."""
    return None if cfg.patience is None else StopConfig(cfg.patience, cfg.min_delta)


def lr_factor(epoch: int, warmup_epochs: int, epochs: int) -> float:
    """The lr of epoch `epoch` (from 0) as a share of the peak: a linear warm-up (epoch + 1) / warmup_epochs over
    the first warmup_epochs epochs, reaching the peak at its last, then a cosine from the peak towards 0 over the
    remaining epochs, 1/2 (1 + cos(pi (epoch - warmup_epochs) / (epochs - warmup_epochs))). With no warm-up this is
    the blog's per-epoch CosineAnnealingLR over `epochs`."""
    if epoch < warmup_epochs:
        return (epoch + 1) / warmup_epochs
    return 0.5 * (1 + math.cos(math.pi * (epoch - warmup_epochs) / (epochs - warmup_epochs)))


def train_head(train_feats: torch.Tensor, train_points: torch.Tensor, val_feats: torch.Tensor,
               val_points: torch.Tensor, cfg: TrainConfig, seed: int) -> tuple[TinyHead, list[dict], int, dict]:
    """AdamW + per-epoch lr (`lr_factor`: cfg.warmup_epochs of linear warm-up, then cosine, over cfg.epochs) on
    Gaussian-heatmap MSE from a head initialised as cfg.init (the blog's recipe: no warm-up, default init), stopped
    early once the val mean error has converged (`thermbench.core.convergence`, cfg.patience and cfg.min_delta;
    patience None runs every epoch); returns (head, history, best epoch, convergence record). Epoch 0 is the first
    validation: a run whose best epoch is 0 failed to train.

    History rows (epochs from 0, as the blog's history): epoch, lr, train_loss (mean over the epoch's batches),
    val_loss, val_mean_px and val_pck<t> (crop px, decoded as configured). The head returned is the one after the
    epoch with the lowest val_mean_px (the first such epoch, as the blog's strict `<`) when cfg.checkpoint is
    "best_val", or after the last epoch run when it is "last"; the best epoch is returned either way.
    """
    check_checkpoint(cfg.checkpoint)
    check_warmup(cfg.warmup_epochs, cfg.epochs)
    check_precision(cfg.precision, "head.precision")
    with numerics(cfg.precision, cfg.deterministic, train_feats.device, where="head"):
        return _train(train_feats, train_points, val_feats, val_points, cfg, seed)


def _train(train_feats: torch.Tensor, train_points: torch.Tensor, val_feats: torch.Tensor, val_points: torch.Tensor,
           cfg: TrainConfig, seed: int) -> tuple[TinyHead, list[dict], int, dict]:
    torch.manual_seed(seed)
    head = initialise(TinyHead(in_channels=train_feats.shape[1]), cfg.init)
    step = torch.compile(head) if cfg.compile else head
    optimizer = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer,
                                                  lambda epoch: lr_factor(epoch, cfg.warmup_epochs, cfg.epochs))
    stop = stop_config(cfg)
    plateau = None if stop is None else Plateau(stop)
    shuffle = torch.Generator().manual_seed(seed)
    targets = encode_heatmap(train_points, cfg.heatmap_size, cfg.stride, cfg.sigma)
    val_targets = encode_heatmap(val_points, cfg.heatmap_size, cfg.stride, cfg.sigma)
    history, best_epoch, best_state = [], 0, None
    for epoch in range(cfg.epochs):
        head.train()
        lr = optimizer.param_groups[0]["lr"]
        losses = []
        for batch in torch.randperm(len(train_feats), generator=shuffle).split(cfg.batch_size):
            with autocast(cfg.precision, train_feats.device):
                loss = F.mse_loss(step(train_feats[batch]).float(), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        scheduler.step()
        head.eval()
        with torch.no_grad():
            val_heatmaps = head(val_feats)
        errors = point_errors(decode_heatmap(val_heatmaps, cfg.stride, cfg.subpixel), val_points)
        row = {"epoch": epoch, "lr": lr, "train_loss": float(np.mean(losses)),
               "val_loss": F.mse_loss(val_heatmaps, val_targets).item(), "val_mean_px": metrics.mean_error(errors)}
        row.update({f"val_pck{t}": v for t, v in metrics.pck(errors, cfg.pck_thresholds).items()})
        history.append(row)
        if best_state is None or row["val_mean_px"] < history[best_epoch]["val_mean_px"]:
            best_epoch, best_state = epoch, {k: v.clone() for k, v in head.state_dict().items()}
        if plateau is not None:
            plateau.update(row["val_mean_px"])
            if plateau.converged:
                break
    if cfg.checkpoint == "best_val":
        head.load_state_dict(best_state)
    converged = plateau is not None and plateau.converged
    return head.eval(), history, best_epoch, convergence.record(stop, converged, len(history), cfg.epochs,
                                                                best_epoch, first_val_epoch=0)


def point_errors(pred: torch.Tensor, gt: torch.Tensor, scale: np.ndarray | None = None) -> np.ndarray:
    """Euclidean error per point; `scale` (N, 2) first converts each axis (e.g. crop px -> frame px)."""
    diff = pred.numpy().astype(np.float64) - gt.numpy().astype(np.float64)
    return np.linalg.norm(diff if scale is None else diff * scale, axis=1)
