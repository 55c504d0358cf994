"""The MLCM-KD fit loop over in-memory splits (`thermbench.datasets.crop_store`, whose pixel conventions hold here)
and the supervised, KTL and MCL training built on it.

The loops return a history (per-epoch rows + early gradient norms) and never write anything; stages decide what to
save.
"""

from __future__ import annotations

import copy
import math
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import numpy as np
import torch
from torch import nn

from thermbench.core import convergence
from thermbench.core.convergence import Plateau, StopConfig, check_stop
from thermbench.core.io import InputError
from thermbench.core.numerics import autocast, check_precision, numerics
from thermbench.core.progress import progress
from thermbench.datasets.crop_store import Split
from thermbench.mlcmkd.augment import AugmentConfig, flip_index
from thermbench.mlcmkd.distributed import data_parallel, main_process_value, world
from thermbench.mlcmkd.loader import StepPlan, finish, loader, make_batch
from thermbench.mlcmkd.losses import DistillTask, decay_gamma, simcc_kl_loss
from thermbench.mlcmkd.optim import OptimConfig, lr_factor, param_groups
from thermbench.mlcmkd.predict import device_of, val_nme
from thermbench.mlcmkd.step import BatchNormCounts, LowPrecisionWeights, Step, capture_refusal, make_optimizer
from thermbench.models.rtmpose import RTMCCHead, RTMPose, to_input


@dataclass(frozen=True)
class FitConfig:
    """One training run. `epochs` is the cap; `patience` (validations) and `min_delta` (relative) define a plateau of
    the validation NME (`thermbench.core.convergence`): with them the lr is warm-up then flat, drops by
    `lr_drop_factor` at each of the first `lr_drops` plateaus (ReduceLROnPlateau) and the run stops, converged, at the
    next; no plateau counts before epoch `min_epochs` (a run from random weights first sits on the mean-shape plateau);
    None turns this off for the optimiser's fixed flat-then-cosine schedule over `epochs`; `grad_norm_steps` logs
    that many first steps and `grad_norm_warmup` of them are left out of the after-warm-up statistics; `share_batches`
    fixed training batches measure each loss term's share of the gradient at the start and the end (0 = off);
    `gamma_warmup` is alpha of the distillation decay gamma(t) (eq. 7; KTL/MCL only); validation runs every
    `val_every` epochs and after the last; `norm_eval` keeps BN layers on their running statistics (mmpose's
    norm_eval; SyncBN is CUDA-only, so CPU multi-process runs match one process exactly only with it);
    `loader_workers` processes read and augment the batches (`thermbench.mlcmkd.loader`; 0: the training process),
    which changes no result; `augment_on_device` leaves the warps and SimCC targets to the training device (a GPU
    then never waits on CPU warps; torch's bilinear sampling instead of cv2's, so the pixels differ slightly);
    `precision` (fp32 | tf32 | bf16: autocast of the training step, float32 master weights) and `deterministic`
    (bit-identical same-seed runs on a GPU) as `thermbench.core.numerics`; validation runs in the same precision,
    `val_batch_size` crops a forward, its argmax on the device; `compile` runs the step's task through
    `torch.compile`; `lean_step` gives a distillation step fewer kernels (`DistillTask.lean_step`: the frozen
    teacher's BatchNorm folded and its weights cast once, each head run once on stacked inputs, the loss terms
    stacked; in one process, `step.LowPrecisionWeights` in bf16 and `step.BatchNormCounts`), at the price of other
    float rounding than the plain step, which the CPU profiles keep;
    `cuda_graph` captures the step (forward, backward, clipping, AdamW) as one CUDA graph where the device is CUDA
    and one process trains (`thermbench.mlcmkd.step`; elsewhere, or where capture or replay fails, one line says why
    and the eager step runs), and the history's "graph" says which: captured | refused (why) | failed (why);
    `cudnn_benchmark` False keeps cuDNN from benchmarking its algorithms where it would (CUDA, not deterministic)."""

    epochs: int
    batch_size: int
    seed: int
    optim: OptimConfig = field(default_factory=OptimConfig)
    patience: int | None = None
    min_delta: float = 0.02
    lr_drops: int = 1
    lr_drop_factor: float = 0.1
    min_epochs: int = 0
    val_every: int = 1
    grad_norm_steps: int = 0
    grad_norm_warmup: int = 0
    share_batches: int = 0
    gamma_warmup: int = 0
    norm_eval: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loader_workers: int = 0
    augment_on_device: bool = False
    precision: str = "fp32"
    compile: bool = False
    deterministic: bool = False
    val_batch_size: int = 64
    lean_step: bool = False
    cuda_graph: bool = False
    cudnn_benchmark: bool = True
    progress: bool = True

    def __post_init__(self):
        check_precision(self.precision, "train.fit.precision")
        if self.val_batch_size < 1:
            raise InputError(f"params.yaml: 'train.fit.val_batch_size' must be at least 1, not {self.val_batch_size}")
        # a schedule no run can follow is refused where the params are read (and by `make profile`), in one line
        for key, least in (("epochs", 1), ("batch_size", 1), ("val_every", 1), ("lr_drops", 0), ("min_epochs", 0),
                           ("grad_norm_steps", 0), ("grad_norm_warmup", 0), ("share_batches", 0), ("gamma_warmup", 0),
                           ("loader_workers", 0)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InputError(f"params.yaml: 'train.fit.{key}' must be a whole number of at least {least}, "
                                 f"not {value!r}")
        check_stop(self.patience, self.min_delta, "train.fit")
        if not 0 < self.lr_drop_factor <= 1:
            raise InputError(f"params.yaml: 'train.fit.lr_drop_factor' must be a number in (0, 1] (the lr is "
                             f"multiplied by it at a plateau), not {self.lr_drop_factor!r}")


DISPLAY_ONLY = ("progress",)  # FitConfig fields that change what a fit prints, never what it computes


def recorded(cfg: FitConfig) -> dict:
    """The fit config as a run's config.json records it: every field but `DISPLAY_ONLY` (progress bars are on where a
    stage trains its runs in its own process, `train.workers` 1, and off in a pool's workers: a recorded flag would
    make the same weights' folder hash differ with the workers, and re-run every stage after it)."""
    return {k: v for k, v in asdict(cfg).items() if k not in DISPLAY_ONLY}


def _norm_eval(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


class PlateauSchedule:
    """The lr drops and the stop of `FitConfig`: at each of the first `lr_drops` plateaus of the validation NME (none
    before `min_epochs`) the lr scale drops by `lr_drop_factor`, at the next the run stops, converged. Without
    `patience`, never."""

    def __init__(self, cfg: FitConfig):
        self.stop = None if cfg.patience is None else StopConfig(cfg.patience, cfg.min_delta)
        self.plateau = None if self.stop is None else Plateau(self.stop)
        self.scale = 1.0
        self.left = 0 if self.stop is None else cfg.lr_drops
        self.drop_epochs: list[int] = []
        self.stopped = False
        self.min_epochs, self.factor = cfg.min_epochs, cfg.lr_drop_factor

    def validated(self, nme: float) -> None:
        if self.plateau is not None:
            self.plateau.update(nme)

    def should_stop(self, epoch: int) -> bool:
        """After epoch `epoch`: stop now, or drop the lr at a plateau and go on."""
        if self.plateau is None or not self.plateau.converged or epoch < self.min_epochs:
            return False
        if not self.left:
            self.stopped = True
            return True
        self.scale, self.left = self.scale * self.factor, self.left - 1
        self.drop_epochs = self.drop_epochs + [epoch]
        self.plateau = Plateau(self.stop)
        return False


def _fit(model: nn.Module, task: nn.Module, batch_inputs: Callable, train: Split, val: Split, cfg: FitConfig,
         desc: str) -> dict:
    """Shared loop: shuffled batches, augmentation, AdamW (param groups, flat-then-cosine lr, clipping), val NME.

    `task` holds every trainable parameter and its forward computes every loss term of a step from
    `batch_inputs(batch, epoch)` (positional args, kwargs), `batch` a `loader.make_batch` dict: {"loss": total,
    <term>: value}. Under torch.distributed the task is wrapped in DistributedDataParallel
    (`distributed.data_parallel`), which averages gradients over ranks; each rank takes an equal share of every
    batch (`loader.StepPlan`), and the batch-summed L_kp is scaled by the world size so the step equals one process
    on the whole batch. `model` is the network being trained (validated, and restored to its best epoch when early
    stopping is on).
    """
    with numerics(cfg.precision, cfg.deterministic, device_of(model), benchmark=cfg.cudnn_benchmark):
        return _loop(model, task, batch_inputs, train, val, cfg, desc)


def _loop(model: nn.Module, task: nn.Module, batch_inputs: Callable, train: Split, val: Split, cfg: FitConfig,
          desc: str) -> dict:
    rank, size = world()
    if cfg.batch_size % size:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {size} processes")
    device = device_of(model)
    layout = step_layout(task, device)  # restored on return
    task, runner = data_parallel(task, device)
    runner = torch.compile(runner) if cfg.compile else runner
    flip_idx = flip_index(train.kpts.shape[1])
    image_size = (train.images.shape[2], train.images.shape[1])
    target_size = model.cfg.input_size
    plan = StepPlan(len(train), cfg.batch_size, cfg.seed, cfg.augment, image_size, rank, size)
    batches = loader(train, plan, flip_idx, target_size, cfg.loader_workers, pin_memory=device.type == "cuda",
                     on_device=cfg.augment_on_device)

    def batch_of(index: np.ndarray) -> dict[str, torch.Tensor]:  # un-augmented, for the gradient shares
        return make_batch(train, index, flip_idx, target_size)
    steps_per_epoch = len(plan)
    schedule = PlateauSchedule(cfg)
    refusal = capture_refusal(cfg.cuda_graph, device, size)
    if refusal is not None:
        print(f"train.fit.cuda_graph: {refusal}; the eager step runs", file=sys.stderr)
    step, scheduler = make_step(task, runner, cfg, device, size, steps_per_epoch, schedule,
                                graph=cfg.cuda_graph and refusal is None)
    optimizer, params = step.optimizer, step.params
    shares = {"start": gradient_shares(task, params, batch_inputs, train, batch_of, cfg, 1, rank, size)}
    rows, grad_norms, best, best_state = [], [], math.inf, None
    for epoch in range(1, cfg.epochs + 1):
        task.train()
        if cfg.norm_eval:
            _norm_eval(task)
        # the loss sums (float64: the sums Python floats would give) and the logged gradient norms stay on the
        # device and are read once an epoch: a read per step would make the host wait for the GPU at every step
        sums, norms = None, []
        for batch in progress(batches, f"{desc} {epoch}/{cfg.epochs}") if cfg.progress and rank == 0 else batches:
            losses, norm = step(*batch_inputs(finish(batch, device, target_size), epoch))
            if len(grad_norms) + len(norms) < cfg.grad_norm_steps:
                norms.append(norm)  # the norm before clipping (Table V)
            scheduler.step()
            sums = losses.double() if sums is None else sums + losses.double()
        grad_norms += torch.stack(norms).tolist() if norms else []
        row = {"epoch": epoch, "lr": float(optimizer.param_groups[0]["lr"])}
        row.update({f"train_{k}": v / steps_per_epoch for k, v in zip(step.names, sums.tolist())})
        if epoch % cfg.val_every == 0 or epoch == cfg.epochs:
            # BN statistics may differ per rank: rank 0's score decides, so every rank stops together
            with autocast(cfg.precision, device):
                score = val_nme(model, val, cfg.val_batch_size)
            row["val_nme"] = main_process_value(score, device)
            if row["val_nme"] < best:
                best = row["val_nme"]
                if schedule.stop is not None:
                    best_state = copy.deepcopy(model.state_dict())
            schedule.validated(row["val_nme"])
        rows.append(row)
        if schedule.should_stop(epoch):
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    shares["end"] = gradient_shares(task, params, batch_inputs, train, batch_of, cfg, rows[-1]["epoch"],
                                    rank, size)
    plain_layout(task, layout)
    scored = [r for r in rows if "val_nme" in r]
    best_epoch = min(scored, key=lambda r: r["val_nme"])["epoch"]
    history = {"epochs": rows, "grad_norms": grad_norms, "best_epoch": best_epoch, "best_val_nme": best,
               "convergence": {**convergence.record(schedule.stop, schedule.stopped, len(rows), cfg.epochs,
                                                    best_epoch, first_val_epoch=scored[0]["epoch"]),
                               "lr_drop_epochs": schedule.drop_epochs},
               "gradient_shares": {k: v for k, v in shares.items() if v}}
    if cfg.cuda_graph:  # only where asked for: a run that never asks keeps its history as it was
        history["graph"] = f"refused ({refusal})" if refusal is not None else step.graph_state
    return history


def step_layout(task: nn.Module, device: torch.device) -> list:
    """The training step's memory layout; returns the hooks `plain_layout` removes. NHWC weights (activations follow):
    oneDNN's depthwise-conv backward, most of a CPU step, runs faster on them; with the fused AdamW a CPU step takes
    ~20% less time. On CUDA each SimCC head's 7x7 convolution runs NCHW, its weight and its input (cuDNN runs NHWC
    when either is): cuDNN's NHWC weight gradient for it is a heuristic kernel, a slow one in an H100 bf16 profile."""
    task.to(memory_format=torch.channels_last)
    if device.type != "cuda":
        return []
    hooks = []
    for head in (m for m in task.modules() if isinstance(m, RTMCCHead)):
        head.final_layer.to(memory_format=torch.contiguous_format)
        hooks.append(head.final_layer.register_forward_pre_hook(_contiguous_input))
    return hooks


def _contiguous_input(module: nn.Module, args: tuple) -> tuple:
    return tuple(a.contiguous() for a in args)


def plain_layout(task: nn.Module, hooks: list) -> None:
    """Undo `step_layout`: the hooks removed, every weight contiguous again."""
    for hook in hooks:
        hook.remove()
    task.to(memory_format=torch.contiguous_format)


def make_step(task: nn.Module, runner: nn.Module, cfg: FitConfig, device: torch.device, size: int,
              steps_per_epoch: int, schedule: PlateauSchedule,
              graph: bool = False) -> tuple[Step, torch.optim.lr_scheduler.LambdaLR]:
    """The loop's training step (AdamW over the task's parameter groups; `graph`: to be captured, `Step`) and its lr
    schedule."""
    groups = param_groups(task, cfg.optim.weight_decay, cfg.optim.paramwise)
    optimizer = make_optimizer(groups, cfg.optim.lr, graph, device)
    params = [p for g in groups for p in g["params"]]
    lean = cfg.lean_step and size == 1  # DDP all-reduces the gradients of the parameters it was given
    weights = LowPrecisionWeights(task, params, torch.bfloat16) if lean and cfg.precision == "bf16" else None
    step = Step(runner, optimizer, params, cfg.precision, device, cfg.optim.clip_grad, float(size), graph,
                weights, BatchNormCounts(task) if lean else None)
    # On plateaus the lr drops instead of following a cosine laid over the cap: a cosine's decay phase, not the
    # data, would then decide when a run stops improving.
    base = lr_factor(cfg.optim if schedule.stop is None else replace(cfg.optim, cosine_start=1.0),
                     steps_per_epoch * cfg.epochs)
    return step, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: base(i) * schedule.scale)


def gradient_shares(task: nn.Module, params: list[nn.Parameter], batch_inputs: Callable, train: Split,
                    batch_of: Callable, cfg: FitConfig, epoch: int, rank: int, size: int) -> dict[str, float]:
    """Each weighted loss term's share of the gradient: the L2 norm of the gradient of that term alone (as it enters
    the total, weights and gamma(epoch) included) over the sum of those norms, averaged over the first
    `cfg.share_batches` training batches without augmentation. Units cancel, unlike a ratio of loss values (a
    batch-summed L_kp against batch-mean distillation terms). The forward runs in the fit's precision, as the step's.
    The task's state (BN statistics) is left untouched."""
    if cfg.share_batches <= 0 or len(train) < cfg.batch_size:
        return {}
    state = copy.deepcopy(task.state_dict())
    task.train()
    if cfg.norm_eval:
        _norm_eval(task)
    norms: dict[str, float] = {}
    for b in range(min(cfg.share_batches, len(train) // cfg.batch_size)):
        idx = np.arange(b * cfg.batch_size, (b + 1) * cfg.batch_size)[rank::size]
        args, kwargs = batch_inputs(batch_of(idx), epoch)
        with autocast(cfg.precision, params[0].device):  # as the step: a lean task's teacher computes in bf16
            weighted = task(*args, kp_scale=float(size), **kwargs)["weighted"]
        for name, term in weighted.items():
            grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
            norm = float(torch.sqrt(sum(g.double().square().sum() for g in grads if g is not None)))
            norms[name] = norms.get(name, 0.0) + norm
    task.load_state_dict(state)
    total = sum(norms.values())
    return {name: v / total for name, v in sorted(norms.items())} if total > 0 else {}


def _targets(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: batch[k].to(device, non_blocking=True) for k in ("target_x", "target_y", "weight")}


class SupervisedTask(nn.Module):
    """The supervised step as one module (what DDP wraps): `kp_weight` x L_kp (mmpose KLDiscretLoss, summed over the
    batch) of the model's SimCC logits against GT labels; `kp_scale` as in `DistillTask`. A supervised student takes
    the KTL students' lambda_kp, so under the same optimiser and clipping the distillation terms are the only
    difference between them."""

    def __init__(self, model: RTMPose, kp_weight: float = 1.0):
        super().__init__()
        self.model = model
        self.kp_weight = kp_weight

    def forward(self, images: torch.Tensor, targets: dict[str, torch.Tensor],
                kp_scale: float = 1.0) -> dict[str, torch.Tensor]:
        simcc_x, simcc_y = self.model(images)
        loss = simcc_kl_loss(simcc_x, simcc_y, targets["target_x"], targets["target_y"], targets["weight"])
        weighted = self.kp_weight * kp_scale * loss
        return {"loss": weighted, "loss_kp": loss, "weighted": {"kp": weighted}}


def fit_supervised(model: RTMPose, data: dict[str, Split], cfg: FitConfig, desc: str = "supervised",
                   kp_weight: float = 1.0) -> dict:
    """Train `model` on `data["train"]` against GT SimCC labels only (`kp_weight` x L_kp, mmpose KLDiscretLoss)."""
    device = device_of(model)

    def inputs(batch, _epoch):
        return (to_input(batch["images"], device), _targets(batch, device)), {}

    return _fit(model, SupervisedTask(model, kp_weight), inputs, data["train"], data["val"], cfg, desc)


def distill_inputs(device: torch.device, paired: bool, cfg: FitConfig) -> Callable:
    """(batch, epoch) -> a distillation task's inputs: the thermal crops for the student, the RGB twins (`paired`) or
    the same crops for the teacher, the SimCC targets, and gamma(epoch)."""
    def inputs(batch, epoch):
        return ((to_input(batch["images"], device), to_input(batch["paired" if paired else "images"], device),
                 _targets(batch, device)), {"gamma": decay_gamma(epoch, cfg.epochs, cfg.gamma_warmup)})
    return inputs


def _distill(student: RTMPose, teacher: RTMPose, task: DistillTask, data: dict[str, Split], cfg: FitConfig,
             paired: bool, desc: str) -> dict:
    """KTL and MCL share one loop: `task` holds the frozen teacher, the student and the trainable aligners."""
    if task.student is not student or task.teacher is not teacher:
        raise ValueError("the task must wrap the given student and teacher")
    inputs = distill_inputs(device_of(student), paired, cfg)
    if not cfg.lean_step:
        return _fit(student, task, inputs, data["train"], data["val"], cfg, desc)
    with task.lean_step(torch.bfloat16 if cfg.precision == "bf16" else torch.float32):
        return _fit(student, task, inputs, data["train"], data["val"], cfg, desc)


def fit_ktl(student: RTMPose, teacher: RTMPose, task: DistillTask, data: dict[str, Split], cfg: FitConfig,
            desc: str = "ktl") -> dict:
    """Knowledge Transfer Level: the RGB teacher sees the RGB twin (`Split.paired`), the student the thermal crop."""
    if data["train"].paired is None:
        raise InputError("KTL needs paired RGB/thermal training data (load_split(..., paired=True))")
    return _distill(student, teacher, task, data, cfg, paired=True, desc=desc)


def fit_mcl(student: RTMPose, teacher: RTMPose, task: DistillTask, data: dict[str, Split], cfg: FitConfig,
            desc: str = "mcl") -> dict:
    """Model Compression Level: a frozen thermal teacher and a smaller thermal student see the same crop."""
    return _distill(student, teacher, task, data, cfg, paired=False, desc=desc)
