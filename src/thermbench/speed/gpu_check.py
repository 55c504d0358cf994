"""`make gpu-check`: what one GPU does with this project's training, measured in a few minutes on a bare machine
(PyTorch, numpy, OpenCV, pandas and PyYAML; no DVC, no downloads), written to `metrics/gpu/<gpu>.json`.

    PYTHONPATH=src python3 -m thermbench.speed.gpu_check [--out metrics/gpu] [--budget-s 540]

It runs the project's own `fit_ktl` with the DIKD task and RTMPose-l student and teacher at 256 px under the paper
profile's fit (profiles/default.yaml + paper.yaml: loader workers, augmentation on the device, deterministic mode)
on random paired crops. Every fit and step runs at the paper profile's determinism (deterministic: no cuDNN
benchmarking, deterministic kernels) unless its name says otherwise (`+nondeterministic`), and at the paper's
precision and the alternative its choice weighs (tf32 and bf16, `precisions`). Every speed figure is measured
`Sizes.repeats` times and recorded as each repeat, their median (`images_per_s`) and their range (`min`, `max`,
`spread` = range / median). Memory is the peak the allocator reserved (`peak_reserved_gb`), which a CUDA graph's
private pool counts in. It records, in this order of importance:

- the step forms (`step_forms`): the fit's own training step alone on a batch kept on the GPU, plain, lean
  (`FitConfig.lean_step`) and lean captured as a CUDA graph, at batch 64 and 256, each after the same
  `STEPS_BEFORE_TIMING` steps (warm-up, capture and first replay included), with whether the graph was captured,
  peak reserved memory, and, each step then fed by its whole input path (the pinned batch copied in, the warp's
  `linalg.inv_ex` and the target encoding on the device), the host syncs a step (`torch.cuda.set_sync_debug_mode`;
  on the CPU of a dry run the ops that make the host wait, `step_audit.StepOps`) and a sleep-kernel probe of whether
  the host waits at all (`host_wait_probe`: a sync inside a library is no sync-debug warning);
- the paper fit: `fit_ktl` as the paper profile sets it (precision, deterministic mode, validation every epoch,
  gradient-norm logging, gradient shares, early-stopping state, the lean step and the CUDA graph), its crops
  written to a crop store on disk by the project's writer and read back as the stages read them, so the loader's
  pin-memory thread runs while the step is captured (`graph`: the capture's outcome); images/s of an epoch from the
  slope between a 1- and a 2-epoch fit;
- the precision table, in `metrics/gpu/<gpu>_precision.json`: a short KTL-l run from random weights on learnable
  shape crops for several seeds per setting (fp32, then the lean CUDA-graph step and the eager step of the two
  precisions), its best validation NME, each setting's against fp32's (`nme_vs_fp32`), and the setting the paper
  profile takes: the fastest at batch 64 whose mean NME stays within fp32's seed range (`--only-precision` runs
  this table alone, on the images/s of an earlier full run);
- end-to-end images/s at batch 64 and 256, the lean CUDA-graph step and the eager one: what an epoch costs per
  training image (loader, step, and the validation of the paper's T-FAKE share of validation crops per training
  crop), from the slope between a short and a long run whose validation sets grow with them (start-up, capture and
  compilation cancel, validation does not); compiled settings as the budget allows, with static shapes
  (`static_shapes`), so batch 256 compiles for 256 rather than with a dynamic batch dimension;
- a bf16 fit with gradient shares (`shares_fit`): the paper fit in bf16 with `share_batches` > 0, the lean step
  and a CUDA graph, once: every path that runs the task (shares, validation, gradient-norm logging) in bf16;
- the loader's images/s per worker and the workers the measured rate needs;
- the deterministic mode's cost (`deterministic_cost`: deterministic against not, end to end) and, not
  deterministic, cuDNN's benchmarking against its heuristics (`cudnn_benchmark`);
- where the step's time goes: a torch.profiler run of the eager step (both precisions; batch 64), each aten op's self
  device time summed by kind (convolution, batch norm, matmul, optimizer, copies, other), the share of an
  unprofiled step's wall time the GPU is busy (the union of its kernels' spans) and the rest, the device waiting for
  the host (launches, syncs, the Python loop), and the kernels, copies and fills it runs per step;
- the step ceiling of the plain step in fp32 and compiled; determinism: two same-seed runs compared bit for bit,
  with the deterministic flag and without; the largest CPU-vs-GPU difference of one forward of the same weights;
- Sapiens2-0.4B (this project's port, random weights) inference images/s at 1024 x 768, batch 8.

Items run in order of importance within `--budget-s`, which bounds the whole command: an item whose estimated time
would pass it is skipped, another repeat starts only where one as long as the last ends within it, and an item
still running at the budget's end is stopped there (`OverBudget`); each is listed (`skipped`, `stopped`). Without
CUDA it says so in one line and exits 0. `--dry-run` runs every item on the CPU at toy sizes (a check of the script
itself; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import gc
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import yaml

from thermbench.core.io import write_json
from thermbench.core.numerics import CUBLAS_WORKSPACE, inference_autocast, numerics
from thermbench.core.stage import build
from thermbench.datasets.crop_store import Split, save_splits
from thermbench.mlcmkd.augment import AugmentConfig, flip_index
from thermbench.mlcmkd.crop_cache import student_splits
from thermbench.mlcmkd.loader import StepPlan, finish, loader, make_batch
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.optim import OptimConfig
from thermbench.mlcmkd.runs import distill_config
from thermbench.mlcmkd.settings import RTMPoseParams, Settings, train_params
from thermbench.mlcmkd.step import WARMUP_STEPS, capture_refusal
from thermbench.mlcmkd.step_audit import StepOps, audit_ktl_step, random_pairs
from thermbench.mlcmkd.train import (
    FitConfig,
    PlateauSchedule,
    distill_inputs,
    fit_ktl,
    make_step,
    plain_layout,
    step_layout,
)
from thermbench.models.rtmpose import build_rtmpose, to_input
from thermbench.models.sapiens2 import build_sapiens2

DIKD = DistillConfig(fd=True, ld=True, fi=True, ri=True)
NO_GPU = "gpu-check: torch sees no CUDA GPU here; nothing measured"
NME_OPTIM = OptimConfig(lr=2e-3, warmup_steps=10, clip_grad=1.0)
PRECISION_KEYS = ("precision_nme", "nme_vs_fp32", "paper_choice", "nme_protocol")  # to <gpu>_precision.json
LISTS = ("skipped", "failed", "stopped")  # what did not run, or not to its end: written to both files
STEP_FORMS = {"plain": (False, False), "lean": (True, False), "lean+cuda_graph": (True, True)}  # (lean, graph)
# Steps before any timing, the same at every batch: the graph's warm-up, its capture with the first replay, one
# replay. A short run of the end-to-end slope has as many, so the capture falls in both runs and cancels.
STEPS_BEFORE_TIMING = WARMUP_STEPS + 2
# An aten op's kind by a word of its name, the first match winning (the fused AdamW's name holds no "mm").
OP_KINDS = (("optimizer", ("adam",)), ("convolution", ("conv",)), ("batch norm", ("batch_norm",)),
            ("matmul", ("mm", "linear", "matmul")), ("copy and layout", ("copy", "contiguous", "to_copy")))


@dataclass(frozen=True)
class Sizes:
    """What a check runs at: the real one on a GPU, toy sizes for `--dry-run`."""

    arch: str = "l"
    input_px: int = 256
    batches: tuple = (64, 256)
    steps: tuple = (5, 40)           # short and long run in steps of batch 64 (batch b: x 64 / b, >= 1)
    repeats: int = 3                 # of every speed figure
    paper_steps: int = 20            # training steps of an epoch of the paper fit
    val: int = 64
    nme_seeds: tuple = (0, 1, 2)
    nme_train: int = 1024
    nme_epochs: int = 6
    sapiens_arch: str = "0.4b"
    sapiens_px: tuple = (1024, 768)  # (h, w)
    sapiens_overrides: tuple = ()
    estimate_scale: float = 1.0      # of the items' estimated times (an H100's), for the decision to start one


DRY = Sizes(arch="t", input_px=64, batches=(4, 8), steps=(1, 3), paper_steps=3, val=4, nme_seeds=(0, 1),
            nme_train=16, nme_epochs=1, sapiens_px=(64, 48), sapiens_overrides=(("depth", 1),), estimate_scale=0.1)


@dataclass(frozen=True)
class Paper:
    """What the paper profile sets for a KTL run: its fit, the distillation of its DIKD run, and T-FAKE's
    validation crops per training crop (`prepare.tfake.split`)."""

    fit: FitConfig
    distill: DistillConfig
    val_per_train: float


class OverBudget(BaseException):
    """The budget's end, raised inside the item then running. A BaseException, as KeyboardInterrupt: torch's own
    `except Exception` fallbacks must not swallow it."""


def slug(name: str) -> str:
    """A GPU's name as a file name: 'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def rate_from_slope(n_short: int, s_short: float, n_long: int, s_long: float) -> float:
    """Images/s from two runs of `n_short` and `n_long` images taking `s_short` and `s_long` seconds: the costs both
    runs share (start-up, compilation) cancel."""
    if n_long <= n_short or s_long <= s_short:
        raise ValueError(f"need a longer run that takes longer (got {n_short} in {s_short} s, {n_long} in {s_long} s)")
    return (n_long - n_short) / (s_long - s_short)


def rates(values: list[float]) -> dict:
    """Repeats of one images/s figure: their median (`images_per_s`), each, and their range, also relative to the
    median (`spread`)."""
    median = float(np.median(values))
    return {"images_per_s": median, "repeats": list(values), "min": min(values), "max": max(values),
            "spread": (max(values) - min(values)) / median}


def compare(changed: dict, base: dict) -> dict:
    """A setting's images/s (`rates`) against the same without one change: the relative change of the medians, and
    whether their ranges are apart (a change within the repeats' range is not resolved)."""
    return {"images_per_s": changed["images_per_s"], "without": base["images_per_s"],
            "change": changed["images_per_s"] / base["images_per_s"] - 1,
            "beyond_spread": changed["min"] > base["max"] or changed["max"] < base["min"]}


def workers_needed(rate: float, per_worker: float) -> int:
    """Loader workers that feed `rate` images/s when one worker makes `per_worker`."""
    return math.ceil(rate / per_worker)


def choose(rates: dict[str, float], table: dict[str, dict]) -> dict:
    """The paper profile's setting: the fastest of `rates` (setting -> images/s at batch 64) whose validation NME
    (`table`: setting -> {"mean": ...}) lies within fp32's seed range; settings without an NME row are not
    candidates."""
    fp32 = table["fp32"]["nmes"]
    low, high = min(fp32), max(fp32)
    ok = {s: r for s, r in rates.items() if s in table and low <= table[s]["mean"] <= high}
    best = max(ok, key=ok.get)
    return {"setting": best, "images_per_s": ok[best], "fp32_nme_range": [low, high],
            "candidates": sorted(ok)}


def against_fp32(table: dict[str, dict]) -> dict:
    """Each setting's mean validation NME against fp32's (`table`: setting -> {"nmes", "mean"}): the difference of
    the means and whether its mean lies within fp32's seed range, the condition `choose` puts on a setting."""
    fp32 = table["fp32"]
    low, high = min(fp32["nmes"]), max(fp32["nmes"])
    return {name: {"mean": row["mean"], "minus_fp32": row["mean"] - fp32["mean"],
                   "within_fp32_range": low <= row["mean"] <= high} for name, row in table.items() if name != "fp32"}


def host_wait_probe(run, sleep, sync, sleep_s: float, clock=time.perf_counter) -> dict:
    """Whether `run()` makes the host wait for the device, whatever the cause (a sync PyTorch flags, or one inside a
    library such as a batched inverse's): `sleep(sleep_s)` first queues a kernel that keeps the device busy that
    long, so a host that waits in `run` returns after it, one that only launches returns before (`sleep_s` is
    chosen longer than `run`'s launches)."""
    sync()
    start = clock()
    sleep(sleep_s)
    run()
    host = clock() - start
    sync()
    return {"sleep_ms": sleep_s * 1e3, "host_ms": host * 1e3, "device_ms": (clock() - start) * 1e3,
            "host_waited": host >= sleep_s}


class CudaSleep:
    """`torch.cuda._sleep` by seconds: a kernel that spins the device for a number of cycles, its rate calibrated
    here (the second of two runs: the first loads the kernel)."""

    def __init__(self, sync, cycles: int = 50_000_000):
        for _ in range(2):
            sync()
            start = time.perf_counter()
            torch.cuda._sleep(cycles)
            sync()
            self.cycles_per_s = cycles / (time.perf_counter() - start)

    def __call__(self, seconds: float) -> None:
        torch.cuda._sleep(int(seconds * self.cycles_per_s))


def kind_of(op: str) -> str:
    """The kind of an aten op, by its name (`OP_KINDS`, first match), else "other"."""
    name = op.lower()
    return next((kind for kind, words in OP_KINDS if any(w in name for w in words)), "other")


def covered(spans: list[tuple[float, float]]) -> float:
    """The length of the union of (start, end) spans: the time a device runs at least one of them."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def profile_table(ops: list[tuple[str, float]], busy_us: float, wall_us: float, steps: int, top: int = 12) -> dict:
    """A profile's summary over `steps` steps, per step: `ops`, (aten op, self time in us), the `top` ones with their
    share of the ops' total and the sum by kind; `busy_us`, the time the device ran something, against `wall_us`,
    the wall time of as many unprofiled steps: the rest (`host_gap_share`) is the device waiting for the host
    (launches, syncs, the Python loop)."""
    total = sum(us for _, us in ops)
    ranked = sorted(ops, key=lambda o: -o[1])
    kinds: dict[str, float] = {}
    for op, us in ops:
        kinds[kind_of(op)] = kinds.get(kind_of(op), 0.0) + us
    return {"steps": steps, "wall_ms_per_step": wall_us / steps / 1e3, "busy_ms_per_step": busy_us / steps / 1e3,
            "busy_share": busy_us / wall_us, "host_gap_share": max(0.0, 1 - busy_us / wall_us),
            "ops_ms_per_step": total / steps / 1e3,
            "by_kind": {k: {"ms_per_step": us / steps / 1e3, "share": us / total}
                        for k, us in sorted(kinds.items(), key=lambda kv: -kv[1])},
            "top_ops": [{"op": op, "ms_per_step": us / steps / 1e3, "share": us / total} for op, us in ranked[:top]]}


def nme_val(sizes: Sizes) -> int:
    return max(sizes.val, 2 * sizes.batches[0])


def nme_protocol(sizes: Sizes) -> dict:
    return {"data": "shape crops (gpu_check.shape_pairs), no augmentation", "train_crops": sizes.nme_train,
            "val_crops": nme_val(sizes), "epochs": sizes.nme_epochs, "batch": sizes.batches[0],
            "seeds": list(sizes.nme_seeds), "lr": NME_OPTIM.lr, "warmup_steps": NME_OPTIM.warmup_steps,
            "metric": "best validation NME (interocular) per seed, from random weights"}


def split_results(results: dict) -> tuple[dict, dict]:
    """(speed results, precision results): the NME table and the choice go to their own file."""
    return ({k: v for k, v in results.items() if k not in PRECISION_KEYS},
            {k: v for k, v in results.items() if k in PRECISION_KEYS or k in LISTS})


def setting_name(precision: str, compiled: bool, benchmark: bool = False, graph: bool = False,
                 determinism: str = "") -> str:
    """A setting's name; `determinism` names the deterministic mode where it is not the paper profile's."""
    return (precision + ("+compile" if compiled else "") + (f"+{determinism}" if determinism else "")
            + ("+cudnn.benchmark" if benchmark else "") + ("+lean+cuda_graph" if graph else ""))


def precisions(paper: Paper) -> tuple[str, str]:
    """The paper profile's precision and the alternative its choice weighs (docs/gpu.md): tf32 against bf16."""
    return (paper.fit.precision, "tf32" if paper.fit.precision == "bf16" else "bf16")


def paper_params(repo: Path) -> dict:
    """The paper profile's params: profiles/default.yaml with profiles/paper.yaml over it."""
    def merge(base: dict, over: dict) -> dict:
        return {**base, **{k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                           for k, v in over.items()}}
    return merge(yaml.safe_load((repo / "profiles/default.yaml").read_text()),
                 yaml.safe_load((repo / "profiles/paper.yaml").read_text()))


def paper_profile(repo: Path) -> Paper:
    """What the paper profile sets for its KTL DIKD runs (`Paper`), read as the stages read it."""
    params = paper_params(repo)
    train = train_params(params["train"])
    settings = Settings(seed=params["seed"], rtmpose=build(RTMPoseParams, params["rtmpose"], "rtmpose"),
                        train=train, data=params["data"]["source"])
    split = params["prepare"]["tfake"]["split"]
    return Paper(train.fit, distill_config(settings, "dikd"), split["val"] / split["train"])


def dry_run(paper: Paper) -> Paper:
    """The paper's fit at the dry run's batch, the training process reading its own batches (worker start-ups would
    be most of a toy run)."""
    return replace(paper, fit=replace(paper.fit, loader_workers=0, batch_size=DRY.batches[0]))


def static_shapes():
    """torch.compile with static shapes only: a shape not seen before compiles anew instead of making its dimension
    dynamic (the step sees full batches of one size, so a dynamic batch dimension only costs)."""
    import torch._dynamo

    return torch._dynamo.config.patch(automatic_dynamic_shapes=False)


def graphs_compiled() -> int:
    """Graphs torch.compile has compiled in this process so far."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]
def shape_pairs(n: int, size: int, seed: int) -> Split:
    """Learnable crops: one fixed 68-point shape (its points 36 and 45, the NME's outer eye corners, 0.8 of its width
    apart), each crop a random rotation (+-30 deg), scale and shift of it, drawn as bright 3 x 3 dots on a dark frame;
    the RGB twin is its copy. Which dot is which point follows from the shape, so a network can learn it (68
    independent random dots could not be told apart)."""
    shape = np.random.default_rng(0).uniform(-0.5, 0.5, (68, 2))
    shape[36], shape[45] = (-0.4, 0.0), (0.4, 0.0)
    rng = np.random.default_rng(seed)
    angle = np.deg2rad(rng.uniform(-30, 30, n))
    rot = np.stack([np.stack([np.cos(angle), -np.sin(angle)], -1), np.stack([np.sin(angle), np.cos(angle)], -1)], -2)
    scale = rng.uniform(0.5, 0.75, n) * size
    centre = size / 2 + rng.uniform(-0.08, 0.08, (n, 2)) * size
    kpts = (centre[:, None] + scale[:, None, None] * np.einsum("nij,kj->nki", rot, shape)).astype(np.float32)
    images = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        for x, y in kpts[i].astype(int):
            images[i, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = 255
    return Split(images=images, paired=np.repeat(images[..., None], 3, axis=-1), kpts=kpts,
                 visible=np.ones((n, 68), np.float32), scale=np.ones((n, 2), np.float32))


class Check:
    """The measurements of one machine; `results` is what the JSON holds. `clock` (seconds) measures the budget.
    Every fit and step runs in the paper profile's deterministic mode (its cuDNN algorithm choice included) unless an
    item says otherwise."""

    def __init__(self, device: torch.device, sizes: Sizes, paper: Paper, budget_s: float, save=None,
                 clock=time.perf_counter):
        self.device, self.sizes, self.paper, self.budget_s, self.save = device, sizes, paper, budget_s, save
        self.fit = replace(paper.fit, epochs=1, patience=None, val_every=1, grad_norm_steps=0, share_batches=0,
                           progress=False)
        self.clock = clock
        self.start = clock()
        self.item: str | None = None
        self.tasks: dict[tuple, DistillTask] = {}
        self.history: dict = {}  # of the last timed fit
        self.results: dict = {name: [] if name == "skipped" else {} for name in LISTS}

    def elapsed(self) -> float:
        return self.clock() - self.start

    def run(self, name: str, estimate_s: float, fn, *args):
        """`fn(*args)` unless its estimated time would pass the budget; its result, or None when skipped, stopped at
        the budget's end or failed (the error is recorded: one item's failure is a finding, and the others still
        run). Compiled settings compile with static shapes. The results so far are saved after each item, so a run
        stopped from outside keeps them."""
        if self.elapsed() + estimate_s * self.sizes.estimate_scale > self.budget_s:
            self.results["skipped"].append(name)
            print(f"gpu-check: {name} skipped (budget)", flush=True)
            return None
        self.item, t = name, self.clock()
        try:
            with static_shapes(), self.deadline():
                out = fn(*args)
        except OverBudget:
            out = None
            self.results["stopped"][name] = f"stopped at budget after {self.clock() - t:.0f} s, nothing kept"
            print(f"gpu-check: {name} {self.results['stopped'][name]}", flush=True)
        except Exception as err:  # noqa: BLE001 - recorded in the results, the check goes on
            out = None
            self.results["failed"][name] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            print(f"gpu-check: {name} failed: {self.results['failed'][name]}", flush=True)
        else:
            print(f"gpu-check: {name} done in {self.clock() - t:.0f} s", flush=True)
        self.item = None
        if self.save is not None:
            self.save(self.results)
        return out

    @contextlib.contextmanager
    def deadline(self):
        """OverBudget raised in the running item at the budget's end (SIGALRM; the main thread only, elsewhere the
        checks between repeats alone bound an item)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(_signum, _frame):
            raise OverBudget

        previous = signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, max(self.budget_s - self.elapsed(), 1e-3))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def repeated(self, once, n: int) -> list:
        """`once()` `n` times, or as often as the budget allows: another repeat starts only where one as long as
        the last would end within the budget; a stop is noted under the running item."""
        done, last = [], 0.0
        for _ in range(n):
            if done and self.elapsed() + last > self.budget_s:
                self.results["stopped"][self.item] = f"stopped at budget after {len(done)} of {n} repeats"
                break
            t = self.clock()
            done.append(once())
            last = self.clock() - t
        return done

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def memory_from_here(self) -> None:
        """The device's memory peak counted from here, over what is then in use: the allocator's cache of earlier
        items released first."""
        if self.device.type == "cuda":
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def peak_memory(self, out: dict) -> None:
        """The peak of the memory the allocator reserved since `memory_from_here` (`peak_reserved_gb`): reserved,
        not allocated, so that a CUDA graph's private pool counts in full."""
        if self.device.type == "cuda":
            out["peak_reserved_gb"] = torch.cuda.max_memory_reserved() / 1e9

    def task(self, seed: int = 0, distill: DistillConfig = DIKD) -> DistillTask:
        torch.manual_seed(seed)
        student = build_rtmpose(self.sizes.arch, input_size=(self.sizes.input_px,) * 2)
        teacher = build_rtmpose(self.sizes.arch, input_size=(self.sizes.input_px,) * 2)
        return DistillTask(student, teacher, distill).to(self.device)

    def kept_task(self, precision: str, compiled: bool, batch: int, deterministic: bool = False) -> DistillTask:
        """One task object per setting and batch: a compiled step is compiled once, for one batch size, and found
        again for the same objects."""
        key = (precision, compiled, batch, deterministic)
        if key not in self.tasks:
            self.tasks[key] = self.task()
        return self.tasks[key]

    def val_crops(self, train: int) -> int:
        """Validation crops of a run on `train` training crops, at the paper's share (at least one)."""
        return max(round(train * self.paper.val_per_train), 1)

    def timed_fit(self, task: DistillTask, data: dict[str, Split], cfg: FitConfig) -> float:
        self.sync()
        t = time.perf_counter()
        self.history = fit_ktl(task.student, task.teacher, task, data, cfg)
        self.sync()
        return time.perf_counter() - t

    def slope(self, short, long, n_short: int, n_long: int) -> dict:
        """Images/s from repeated pairs of a short and a long run (`short()`, `long()`: their seconds, on `n_short`
        and `n_long` training images), after a warm-up run of the short one (compilation, cuDNN's first calls):
        each pair's slope is one repeat (`rates`); the graphs compiled after the warm-up (0 where nothing
        recompiles)."""
        warm = short()
        before = graphs_compiled()
        pairs = self.repeated(lambda: (short(), long()), self.sizes.repeats)
        return {**rates([rate_from_slope(n_short, s, n_long, lo) for s, lo in pairs]),
                "runs": {"images": [n_short, n_long], "warm_up_s": warm, "seconds": [list(p) for p in pairs]},
                "graphs_compiled_after_warm_up": graphs_compiled() - before}

    def end_to_end(self, precision: str, compiled: bool, batch: int, deterministic: bool | None = None,
                   benchmark: bool = False, graph: bool = False) -> dict:
        """Images/s of `fit_ktl` (one epoch, validated) from the slope between a short and a long run, their
        validation sets `val_crops` of their training sets; peak reserved GPU memory over them. `deterministic`
        None: the paper profile's; `benchmark`: cuDNN's benchmarking on where not deterministic (the fit's
        `cudnn_benchmark`); `graph`: the lean step captured as a CUDA graph (`graph` in the result: whether the last
        fit captured it). The short run has `STEPS_BEFORE_TIMING` steps at least."""
        deterministic = self.fit.deterministic if deterministic is None else deterministic
        s = self.sizes
        steps = [max(k * s.batches[0] // batch, STEPS_BEFORE_TIMING) for k in s.steps]
        steps[1] = max(steps[1], steps[0] + 1)
        vals = [self.val_crops(k * batch) for k in steps]
        data, val = random_pairs(steps[1] * batch, s.input_px, 0), random_pairs(vals[1], s.input_px, 1)
        cfg = replace(self.fit, batch_size=batch, precision=precision, compile=compiled, deterministic=deterministic,
                      cudnn_benchmark=benchmark, lean_step=graph, cuda_graph=graph)
        task = self.kept_task(precision, compiled, batch, deterministic)

        def fit(k: int, v: int) -> float:
            return self.timed_fit(task, {"train": data.head(k * batch), "val": val.head(v)}, cfg)

        self.memory_from_here()
        out = self.slope(lambda: fit(steps[0], vals[0]), lambda: fit(steps[1], vals[1]), steps[0] * batch,
                         steps[1] * batch)
        out["runs"].update(steps=steps, val_crops=vals)
        out["deterministic"] = deterministic
        if graph:
            out["graph"] = self.history.get("graph")
        self.peak_memory(out)
        return out

    def paper_run(self) -> dict:
        """Images/s of an epoch of `fit_ktl` as the paper profile sets it (its fit: precision, deterministic mode,
        loader workers, augmentation, validation, gradient-norm logging, gradient shares, early-stopping state;
        its DIKD distillation; `val_crops` validation crops), on random crops written to a crop store on disk
        (`save_splits`) and read back as the KTL stage reads them (`student_splits`): the slope between a 1- and a
        2-epoch fit."""
        s, fit = self.sizes, replace(self.paper.fit, progress=False)
        train = fit.batch_size * s.paper_steps
        task = self.task(distill=self.paper.distill)
        self.memory_from_here()
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "tfake"
            save_splits(store, {"train": random_pairs(train, s.input_px, 6),
                                "val": replace(random_pairs(self.val_crops(train), s.input_px, 7), paired=None)})
            data = student_splits(store, None, paired=True)
            out = self.slope(lambda: self.timed_fit(task, data, replace(fit, epochs=1)),
                             lambda: self.timed_fit(task, data, replace(fit, epochs=2)), train, 2 * train)
        out.update(train_crops=train, val_crops=self.val_crops(train), epochs=[1, 2], fit=paper_fit_record(fit),
                   graph=self.history.get("graph"))
        self.peak_memory(out)
        return out

    def shares_fit(self) -> dict:
        """One 1-epoch fit as the paper profile sets it but in bf16 with gradient shares (`share_batches` at least
        1), from a crop store on disk: its seconds, whether its graph was captured, its gradient shares, loss and
        validation NME (a bf16 fit must run every task path in bf16: shares, validation, the step)."""
        fit = replace(self.paper.fit, precision="bf16", share_batches=max(self.paper.fit.share_batches, 1),
                      epochs=1, progress=False)
        train = fit.batch_size * self.sizes.paper_steps
        task = self.task(distill=self.paper.distill)
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "tfake"
            save_splits(store, {"train": random_pairs(train, self.sizes.input_px, 8),
                                "val": replace(random_pairs(self.val_crops(train), self.sizes.input_px, 9),
                                               paired=None)})
            seconds = self.timed_fit(task, student_splits(store, None, paired=True), fit)
        h = self.history
        return {"seconds": seconds, "train_crops": train, "graph": h.get("graph"), "fit": paper_fit_record(fit),
                "gradient_shares": h["gradient_shares"], "train_loss": h["epochs"][0]["train_loss"],
                "best_val_nme": h["best_val_nme"]}

    @contextlib.contextmanager
    def stepping(self, precision: str, compiled: bool, batch: int, form: str = "plain"):
        """(a callable running one training step, on one batch kept on the device or on the inputs given, the
        `Step`, the graph's refusal or None, a callable running the batch's whole input path and returning the
        step's inputs): `fit_ktl`'s own step (`train.make_step`: its optimizer and schedule, channels_last,
        autocast, the same compiled task, the paper profile's deterministic mode) in `form` (`STEP_FORMS`: the lean
        step and a CUDA graph as the fit sets them up); the input path as the fit's (`loader.finish`: the pinned
        batch copied in, the warp with its `linalg.inv_ex` and the target encoding on the device;
        `train.distill_inputs`); the task's layout and teacher restored after."""
        lean, graph = STEP_FORMS[form]
        task = self.kept_task(precision, compiled, batch)
        data = random_pairs(batch, self.sizes.input_px, 2)
        flip = flip_index(68)
        size = (self.sizes.input_px,) * 2
        plan = StepPlan(batch, batch, 0, self.fit.augment, size)
        index, draws = next(iter(plan))
        host_batch = make_batch(data, index, flip, size, draws, self.fit.augment_on_device)
        if self.device.type == "cuda":  # as the fit's loader hands it over
            host_batch = {k: v.pin_memory() for k, v in host_batch.items()}
        batch_t = finish(host_batch, self.device, size)
        images, paired = to_input(batch_t["images"], self.device), to_input(batch_t["paired"], self.device)
        targets = {k: batch_t[k] for k in ("target_x", "target_y", "weight")}
        cfg = replace(self.fit, batch_size=batch, precision=precision, compile=compiled, lean_step=lean,
                      cuda_graph=graph)
        inputs = distill_inputs(self.device, True, cfg)
        refusal = capture_refusal(graph, self.device, 1)
        lean_task = task.lean_step(torch.bfloat16 if precision == "bf16" else torch.float32)
        with (lean_task if lean else contextlib.nullcontext(),
              numerics(precision, cfg.deterministic, self.device, benchmark=cfg.cudnn_benchmark)):
            layout = step_layout(task, self.device)
            try:
                step, scheduler = make_step(task, torch.compile(task) if compiled else task, cfg, self.device, 1,
                                            1000, PlateauSchedule(cfg), graph=graph and refusal is None)
                task.train()

                def one(given: tuple | None = None) -> None:
                    step(*(given or ((images, paired, targets), {"gamma": 1.0})))
                    scheduler.step()

                def feed() -> tuple:
                    return inputs(finish(host_batch, self.device, size), 1)

                yield one, step, refusal, feed
            finally:
                plain_layout(task, layout)

    def timed_steps(self, one, steps: int) -> float:
        """Seconds of `steps` calls of `one`, the device's queue drained before and after."""
        self.sync()
        t = time.perf_counter()
        for _ in range(steps):
            one()
        self.sync()
        return time.perf_counter() - t

    def step_ceiling(self, precision: str, compiled: bool, batch: int, steps: int = 10,
                     form: str = "plain") -> dict:
        """Images/s of the training step alone (`stepping` in `form`), after `STEPS_BEFORE_TIMING` steps, each
        repeat `steps` steps (`rates`); then, each step fed by its whole input path, the host syncs a step over
        `steps` more (`host_syncs`) and whether the input path, and it with the step, make the host wait
        (`host_wait_probe`, on CUDA; a step of more kernels than the launch queue holds waits for the queue);
        whether the graph was captured (`graph`: captured | refused (why) | failed (why); None for a form without
        one) and the peak reserved GPU memory from the step's set-up on (warm-up, capture and the graph's pool
        included)."""
        self.memory_from_here()
        with self.stepping(precision, compiled, batch, form) as (one, step, refusal, feed):
            self.timed_steps(one, STEPS_BEFORE_TIMING)
            out = rates(self.repeated(lambda: batch * steps / self.timed_steps(one, steps), self.sizes.repeats))
            step_s = batch / out["images_per_s"]
            out.update(host_syncs_per_step=self.host_syncs(lambda: one(feed()), steps),
                       host_wait_probe={"input_path": self.sleep_probe(feed, step_s),
                                        "input_path_and_step": self.sleep_probe(lambda: one(feed()), step_s)},
                       graph=f"refused ({refusal})" if refusal is not None else step.graph_state,
                       steps=steps, steps_before_timing=STEPS_BEFORE_TIMING, deterministic=self.fit.deterministic)
            self.peak_memory(out)
        return out

    def sleep_probe(self, run, step_s: float) -> dict | None:
        """`host_wait_probe` of `run` behind a sleep kernel of twice a step and 50 ms (a step's launches take less
        than the step); None off CUDA."""
        if self.device.type != "cuda":
            return None
        return host_wait_probe(run, CudaSleep(self.sync), self.sync, 2 * step_s + 0.05)

    def host_syncs(self, one, steps: int) -> float:
        """Host syncs a step over `steps` calls of `one`: on CUDA the warnings of `torch.cuda.set_sync_debug_mode`
        ("warn": one a synchronizing call), elsewhere the ops that would make the host wait (`StepOps`)."""
        if self.device.type != "cuda":
            with StepOps() as mode:
                for _ in range(steps):
                    one()
            return len(mode.summary()["host_waits"]) / steps
        self.sync()  # outside the count: a synchronize is a sync
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for _ in range(steps):
                    one()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        self.sync()
        return sum(sync_warning(str(w.message)) for w in seen) / steps

    def profile(self, precision: str, batch: int, steps: int = 5) -> dict:
        """Where a training step's time goes (`stepping`, eager), after 3 warm-up steps: the wall time of `steps`
        unprofiled steps, then torch.profiler over as many: each aten op's self time on the device (on the CPU in a
        dry run) summed by kind, and the time the device runs a kernel (`covered`; in a dry run an aten op), as
        `profile_table`; on a GPU also what the device ran per step (kernels, copies, fills) and the host's time in
        the kernels' launch calls."""
        cuda = self.device.type == "cuda"
        activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
        with self.stepping(precision, False, batch) as (one, _, _, _):
            self.timed_steps(one, 3)
            wall_us = self.timed_steps(one, steps) * 1e6
            with torch.profiler.profile(activities=activities) as prof:
                self.timed_steps(one, steps)
        ops = [(e.key, e.self_device_time_total if cuda else e.self_cpu_time_total) for e in prof.key_averages()
               if e.key.startswith("aten::")]
        events = prof.events()
        running = ([e for e in events if e.device_type == torch.autograd.DeviceType.CUDA] if cuda else
                   [e for e in events if e.name.startswith("aten::")])
        out = {"setting": precision, "batch": batch, "clock": "device" if cuda else "cpu",
               **profile_table(ops, covered([(e.time_range.start, e.time_range.end) for e in running]), wall_us,
                               steps)}
        if cuda:
            launches = [e for e in events if e.name.startswith("cudaLaunch")]
            out.update(device_ops_per_step=len(running) / steps,
                       launch_ms_per_step=sum(e.self_cpu_time_total for e in launches) / steps / 1e3)
        return out

    def loader_rate(self, on_device: bool, batches: int = 10) -> dict:
        """Images/s one loader worker makes at the first batch size (after its first batch: start-up)."""
        batch = self.sizes.batches[0]
        data = random_pairs(batch * (batches + 1), self.sizes.input_px, 3)
        size = (self.sizes.input_px,) * 2

        def once() -> float:
            plan = StepPlan(len(data), batch, 0, self.fit.augment, size)
            it = iter(loader(data, plan, flip_index(68), size, 1, pin_memory=self.device.type == "cuda",
                             on_device=on_device))
            next(it)
            t = time.perf_counter()
            for _ in range(batches):
                next(it)
            return batch * batches / (time.perf_counter() - t)

        return rates(self.repeated(once, self.sizes.repeats))

    def determinism(self, precision: str, compiled: bool) -> dict:
        """Two same-seed 3-step runs from the same weights, with the deterministic flag and without: whether the
        student's weights come out bit-identical and their largest difference."""
        batch = self.sizes.batches[0]
        data = random_pairs(3 * batch, self.sizes.input_px, 4)
        val = random_pairs(self.sizes.val, self.sizes.input_px, 5)
        out = {}
        for deterministic in (True, False):
            cfg = replace(self.fit, batch_size=batch, precision=precision, compile=compiled,
                          deterministic=deterministic)
            weights = []
            for _ in range(2):
                task = self.task()
                fit_ktl(task.student, task.teacher, task, {"train": data, "val": val}, cfg)
                weights.append(task.student.state_dict())
            diff = max(float((a.double() - b.double()).abs().max()) for a, b in
                       zip(weights[0].values(), weights[1].values()) if a.is_floating_point())
            out["deterministic" if deterministic else "default"] = {"bit_identical": diff == 0.0, "max_diff": diff}
        return out

    def cpu_vs_gpu(self) -> float:
        """Largest difference between a CPU and a strict-fp32 device forward of the same weights (eval mode)."""
        torch.manual_seed(0)
        model = build_rtmpose(self.sizes.arch, input_size=(self.sizes.input_px,) * 2).eval()
        x = torch.randn(2, 3, self.sizes.input_px, self.sizes.input_px, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            cpu = model(x)
            device_model = copy.deepcopy(model).to(self.device)
            with numerics("fp32", True, self.device):
                dev = device_model(x.to(self.device))
        return max(float((a - b.cpu()).abs().max()) for a, b in zip(cpu, dev))

    def sapiens2(self, precision: str, batch: int = 8, steps: int = 5) -> dict:
        """Sapiens2 inference images/s (random weights) at the model's input size, under `precision`, after 2
        warm-up batches, each repeat `steps` batches."""
        model = build_sapiens2(self.sizes.sapiens_arch, **dict(self.sizes.sapiens_overrides)).eval().to(self.device)
        h, w = self.sizes.sapiens_px
        x = torch.randn(batch, 3, h, w, device=self.device)
        self.memory_from_here()
        with torch.no_grad(), inference_autocast(precision, self.device):
            self.timed_steps(lambda: model(x), 2)
            out = rates(self.repeated(lambda: batch * steps / self.timed_steps(lambda: model(x), steps),
                                      self.sizes.repeats))
        out.update(batch=batch, input_hw=[h, w])
        self.peak_memory(out)
        return out

    def nme_row(self, precision: str, compiled: bool, graph: bool = False) -> dict:
        """Best validation NME of a short KTL run on dot crops per seed (fresh seeded weights each, loaded into the
        setting's kept task so a compiled step compiles once); `graph`: the lean step as a CUDA graph."""
        s = self.sizes
        train, val = shape_pairs(s.nme_train, s.input_px, 10), shape_pairs(nme_val(s), s.input_px, 11)
        nmes = []
        for seed in s.nme_seeds:
            task = self.kept_task(precision, compiled, s.batches[0])
            task.load_state_dict(self.task(seed).state_dict())
            # gamma_warmup = epochs: the distillation weight stays 1 (a compiled step is not compiled again for
            # each epoch's weight)
            cfg = replace(self.fit, batch_size=s.batches[0], precision=precision, compile=compiled, seed=seed,
                          epochs=s.nme_epochs, optim=NME_OPTIM, gamma_warmup=s.nme_epochs, augment=AugmentConfig(),
                          lean_step=graph, cuda_graph=graph)
            nmes.append(fit_ktl(task.student, task.teacher, task, {"train": train, "val": val}, cfg)["best_val_nme"])
        return {"nmes": nmes, "mean": float(np.mean(nmes)), "spread": float(np.ptp(nmes))}


def measure(device: torch.device, sizes: Sizes, paper: Paper, budget_s: float, save=None,
            only_precision: bool = False, known_rates: dict | None = None) -> dict:
    """Every item, in order of importance, as far as the budget goes; `save(results so far)` after each. Each runs
    in the paper profile's deterministic mode unless named otherwise (`setting_name`'s `determinism`), at the
    paper's precision and the alternative its choice weighs (`precisions`). `only_precision`: the NME table alone,
    the choice then made on `known_rates` (setting -> images/s at batch 64, from an earlier run's file). Estimates
    (s) are an H100's, for the decision to start an item."""
    c = Check(device, sizes, paper, budget_s, save)
    r = c.results
    small, large = sizes.batches
    compile_s = 150
    table = r["precision_nme"] = {}
    r["nme_protocol"] = nme_protocol(sizes)
    ours, other = precisions(paper)
    det = paper.fit.deterministic
    flipped = "deterministic" if not det else "nondeterministic"

    def nme(precision: str, compiled: bool, estimate: float, graph: bool = False) -> None:
        name = setting_name(precision, compiled, graph=graph)
        row = c.run(f"NME {name}", estimate, c.nme_row, precision, compiled, graph)
        if row is not None:
            table[name] = row

    def choice(rates_64: dict) -> None:
        if "fp32" in table:
            r["nme_vs_fp32"] = against_fp32(table)
            if rates_64:
                r["paper_choice"] = choose(rates_64, table)

    if only_precision:
        nme("fp32", False, 60)
        for precision in (ours, other):  # the paper profile's step, lean and captured, then eager
            nme(precision, False, 60, graph=True)
        for precision in (ours, other):
            nme(precision, False, 60)
        nme("bf16", True, compile_s + 30)
        choice(known_rates or {})
        r["seconds"] = c.elapsed()
        return r
    e2e = r["end_to_end"] = {}
    ceiling = r["step_ceiling_images_per_s"] = {}
    cost = r["deterministic_cost"] = {}
    benchmark = r["cudnn_benchmark"] = {}
    forms = r["step_forms"] = {}

    def end_to_end(precision: str, batch: int, estimate: float, compiled: bool = False, graph: bool = False,
                   flip: bool = False, bench: bool = False) -> dict | None:
        """The setting end to end, in the paper's deterministic mode or (`flip`) the other."""
        name = setting_name(precision, compiled, bench, graph, flipped if flip else "")
        out = c.run(f"end to end {name} batch {batch}", estimate, c.end_to_end, precision, compiled, batch,
                    det != flip, bench, graph)
        e2e.setdefault(name, {})[str(batch)] = out
        return out

    def determinism_cost(precision: str, batch: int, estimate: float, compiled: bool = False) -> None:
        """The setting in the other deterministic mode against its measured self: deterministic against not."""
        base = e2e.get(setting_name(precision, compiled), {}).get(str(batch))
        changed = None if base is None else end_to_end(precision, batch, estimate, compiled, flip=True)
        if changed is not None:
            deterministic, nondeterministic = (base, changed) if det else (changed, base)
            cost.setdefault(setting_name(precision, compiled), {})[str(batch)] = compare(deterministic,
                                                                                         nondeterministic)

    def cudnn_benchmark(precision: str, batch: int, estimate: float) -> None:
        """cuDNN's benchmarking against its heuristics, both not deterministic (deterministic mode turns it off)."""
        plain = setting_name(precision, False, determinism="" if not det else flipped)
        base = e2e.get(plain, {}).get(str(batch))
        changed = None if base is None else end_to_end(precision, batch, estimate, flip=det, bench=True)
        if changed is not None:
            benchmark.setdefault(plain, {})[str(batch)] = compare(changed, base)

    def step_forms(precision: str) -> None:
        for form in STEP_FORMS:
            for b in sizes.batches:
                forms.setdefault(precision, {}).setdefault(form, {})[str(b)] = c.run(
                    f"step {precision} {form} batch {b}", 15, c.step_ceiling, precision, False, b, 10, form)

    step_forms(ours)
    r["paper_fit_images_per_s"] = c.run(f"paper fit batch {paper.fit.batch_size}", 45, c.paper_run)
    nme("fp32", False, 30)
    for precision in (ours, other):
        nme(precision, False, 30, graph=True)
    step_forms(other)
    for batch in sizes.batches:
        for precision in (ours, other):
            end_to_end(precision, batch, 30, graph=True)
            end_to_end(precision, batch, 25)
    for precision in (ours, other):
        nme(precision, False, 30)
    r["bf16_fit_with_shares"] = c.run("bf16 fit with gradient shares", 30, c.shares_fit)
    r["loader_images_per_s_per_worker"] = {
        "augment_on_device": c.run("loader, on device", 10, c.loader_rate, True),
        "warps_in_workers": c.run("loader, warps in workers", 20, c.loader_rate, False)}
    r["ops_per_step"] = c.run("ops per step (counted on the CPU)", 60, ops_per_step, sizes.arch)
    for precision in (ours, other):
        determinism_cost(precision, small, 25)
        cudnn_benchmark(precision, small, 25)
    r["profile"] = {p: c.run(f"profile {p} batch {small}", 10, c.profile, p, small) for p in (ours, other)}
    end_to_end("fp32", small, 30)
    r["cpu_vs_gpu_forward_max_diff"] = c.run("cpu-vs-gpu forward", 10, c.cpu_vs_gpu)
    end_to_end("bf16", small, compile_s, compiled=True)
    if e2e["bf16+compile"][str(small)] is not None:
        nme("bf16", True, 40)
        ceiling["bf16+compile"] = {str(small): c.run(f"step ceiling bf16+compile batch {small}", 10,
                                                     c.step_ceiling, "bf16", True, small)}
    end_to_end("bf16", large, compile_s, compiled=True)
    for b in sizes.batches:  # the plain step of the two precisions is under step_forms
        ceiling.setdefault("fp32", {})[str(b)] = c.run(f"step ceiling fp32 batch {b}", 10, c.step_ceiling, "fp32",
                                                       False, b)
    r["determinism"] = {p: c.run(f"determinism {p}", 20, c.determinism, p, False) for p in ("fp32", "bf16")}
    r["sapiens2_0_4b"] = {p: c.run(f"sapiens2 {p}", 20, c.sapiens2, p) for p in ("bf16", "fp32")}
    end_to_end("fp32", large, 30)
    determinism_cost("bf16", small, compile_s, compiled=True)
    rates_64 = batch_rates(e2e, small)
    choice(rates_64)
    per_worker = r["loader_images_per_s_per_worker"]["augment_on_device"]
    if "paper_choice" in r and per_worker:
        r["workers_needed"] = {name: workers_needed(rate, per_worker["images_per_s"])
                               for name, rate in rates_64.items()}
    r["seconds"] = c.elapsed()
    return r


def ops_per_step(arch: str) -> dict:
    """`step_audit.audit_ktl_step` of RTMPose-`arch`, fp32 and bf16, the plain step and the lean step in its CUDA
    graph form: the kernels a step launches, counted on the CPU."""
    return {precision: {"plain": audit_ktl_step(arch, precision),
                        "lean_graph": audit_ktl_step(arch, precision, lean=True, graph_form=True)}
            for precision in ("fp32", "bf16")}


def sync_warning(message: str) -> bool:
    """Whether a warning is `torch.cuda.set_sync_debug_mode`'s of a synchronizing call."""
    return "called a synchronizing CUDA operation" in message


def paper_fit_record(fit: FitConfig) -> dict:
    """What a check's record says of the fit it ran."""
    return {k: getattr(fit, k) for k in ("batch_size", "precision", "compile", "deterministic", "loader_workers",
                                         "augment_on_device", "val_every", "patience", "grad_norm_steps",
                                         "share_batches", "lean_step", "cuda_graph")}


def commit(repo: Path) -> str | None:
    """The checked-out commit of `repo` (+ "-dirty" where tracked files differ), None without git."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def batch_rates(end_to_end: dict, batch: int) -> dict[str, float]:
    """Setting -> end-to-end images/s (the median of its repeats) at `batch`, for the settings measured there."""
    return {name: by_batch[str(batch)]["images_per_s"] for name, by_batch in end_to_end.items()
            if by_batch.get(str(batch)) is not None}


def significant(obj, digits: int = 4):
    """Every float of `obj` to `digits` significant digits (a weight difference of 1e-8 must not round to 0)."""
    if isinstance(obj, dict):
        return {k: significant(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [significant(v, digits) for v in obj]
    if isinstance(obj, float) and math.isfinite(obj) and obj != 0.0:
        return float(f"{obj:.{digits - 1}e}")
    return obj


def environment(device: torch.device, repo: Path) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (dry run)"
    return {"gpu": name, "torch": torch.__version__, "cuda": torch.version.cuda, "commit": commit(repo),
            "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "date": datetime.date.today().isoformat(), "python": sys.version.split()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("metrics/gpu"))
    parser.add_argument("--repo", type=Path, default=Path("."), help="where profiles/ is")
    parser.add_argument("--budget-s", type=float, default=540.0,
                        help="seconds the measuring may take: items that would pass it are skipped or stopped")
    parser.add_argument("--dry-run", action="store_true", help="every item on the CPU at toy sizes")
    parser.add_argument("--only-precision", action="store_true",
                        help="the NME table alone; the choice takes the images/s of an earlier full run in --out")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print(NO_GPU)
        return 0
    # cuBLAS reads it when it first allocates its workspace: before any CUDA work (the deterministic runs need it)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    device = torch.device("cpu" if args.dry_run else "cuda")
    sizes = DRY if args.dry_run else Sizes()
    paper = dry_run(paper_profile(args.repo)) if args.dry_run else paper_profile(args.repo)
    fit = paper.fit
    info = environment(device, args.repo)
    info.update(paper_fit={"batch_size": fit.batch_size, "loader_workers": fit.loader_workers,
                           "augment_on_device": fit.augment_on_device, "precision": fit.precision,
                           "compile": fit.compile, "deterministic": fit.deterministic,
                           "lean_step": fit.lean_step, "cuda_graph": fit.cuda_graph,
                           "val_per_train": paper.val_per_train},
                model=f"KTL DIKD, RTMPose-{sizes.arch} student and teacher, {sizes.input_px} px", arch=sizes.arch,
                input_px=sizes.input_px, repeats=sizes.repeats, compiled_shapes="static", budget_s=args.budget_s)
    path = args.out / f"{slug(info['gpu'])}.json"
    precision_path = args.out / f"{slug(info['gpu'])}_precision.json"
    known_rates = None
    if args.only_precision:
        if not path.is_file():
            raise SystemExit(f"gpu-check: --only-precision needs the images/s of a full run in {path}")
        known_rates = batch_rates(json.loads(path.read_text())["end_to_end"], sizes.batches[0])

    def save(results: dict) -> None:
        speed, precision = split_results(results)
        if not args.only_precision:
            write_json(path, significant({**info, **speed}), 12)
        write_json(precision_path, significant({**info, **precision}), 12)

    save(measure(device, sizes, paper, args.budget_s, save, args.only_precision, known_rates))
    print(f"gpu-check: {path}, {precision_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
