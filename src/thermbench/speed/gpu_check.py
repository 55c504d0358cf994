"""`make gpu-check`: what one GPU does with this project's training, measured in a few minutes on a bare machine
(PyTorch, numpy, OpenCV, pandas and PyYAML; no DVC, no downloads), written to `metrics/gpu/<gpu>.json`.

    PYTHONPATH=src python3 -m thermbench.speed.gpu_check [--out metrics/gpu] [--budget-s 270]

It runs the project's own `fit_ktl` with the DIKD task and RTMPose-l student and teacher at 256 px under the paper
profile's fit (profiles/default.yaml + paper.yaml: loader workers, augmentation on the device) on random paired
crops, and records:

- end-to-end images/s at batch 64 and 256 for each precision (eager) and for compiled settings as the budget allows:
  loader, step, validation and fixed costs, from the slope between two run lengths (fixed costs cancel);
- the step ceiling: the training step alone on a batch kept on the GPU; peak GPU memory of each setting;
- where the step's time goes: a torch.profiler run of the eager step (tf32, bf16; batch 64), each aten op's self
  device time, summed by kind (convolution, batch norm, matmul, optimizer, copies, other), and the share of the wall
  time the GPU is busy with them (the rest: waiting for the host);
- the loader's images/s per worker and the workers the measured rate needs;
- determinism: two same-seed runs compared bit for bit, with the deterministic flag and without, and its images/s
  cost; the largest CPU-vs-GPU difference of one forward of the same weights;
- Sapiens2-0.4B (this project's port, random weights) inference images/s at 1024 x 768, batch 8;
- the precision table, in `metrics/gpu/<gpu>_precision.json`: a short KTL-l run from random weights on learnable
  shape crops for several seeds per setting, its best validation NME, and the setting the paper profile takes: the
  fastest at batch 64 whose mean NME stays within fp32's seed range (`--only-precision` runs this table alone, on
  the images/s of an earlier full run).

Items run in order of importance and one whose estimated time would pass `--budget-s` is skipped and listed as
such. Without CUDA it says so in one line and exits 0. `--dry-run` runs every item on the CPU at toy sizes (a check
of the script itself; its numbers mean nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import yaml

from thermbench.core.io import write_json
from thermbench.core.numerics import CUBLAS_WORKSPACE, PRECISIONS, inference_autocast, numerics
from thermbench.datasets.crop_store import Split
from thermbench.mlcmkd.augment import AugmentConfig, flip_index
from thermbench.mlcmkd.loader import StepPlan, finish, loader, make_batch
from thermbench.mlcmkd.losses import DistillConfig, DistillTask
from thermbench.mlcmkd.optim import OptimConfig
from thermbench.mlcmkd.settings import train_params
from thermbench.mlcmkd.train import FitConfig, fit_ktl
from thermbench.models.rtmpose import build_rtmpose, to_input
from thermbench.models.sapiens2 import build_sapiens2

DIKD = DistillConfig(fd=True, ld=True, fi=True, ri=True)
NO_GPU = "gpu-check: torch sees no CUDA GPU here; nothing measured"
NME_OPTIM = OptimConfig(lr=2e-3, warmup_steps=10, clip_grad=1.0)
PRECISION_KEYS = ("precision_nme", "paper_choice", "nme_protocol")  # written to <gpu>_precision.json
# An aten op's kind by a word of its name, the first match winning (the fused AdamW's name holds no "mm").
OP_KINDS = (("optimizer", ("adam",)), ("convolution", ("conv",)), ("batch norm", ("batch_norm",)),
            ("matmul", ("mm", "linear", "matmul")), ("copy and layout", ("copy", "contiguous", "to_copy")))


@dataclass(frozen=True)
class Sizes:
    """What a check runs at: the real one on a GPU, toy sizes for `--dry-run`."""

    arch: str = "l"
    input_px: int = 256
    batches: tuple = (64, 256)
    steps: tuple = (2, 5, 25)         # warm-up, short and long run in steps of batch 64 (batch b: x 64 / b, >= 1)
    val: int = 64
    nme_seeds: tuple = (0, 1, 2)
    nme_train: int = 1024
    nme_epochs: int = 6
    sapiens_arch: str = "0.4b"
    sapiens_px: tuple = (1024, 768)  # (h, w)
    sapiens_overrides: tuple = ()


DRY = Sizes(arch="t", input_px=64, batches=(4, 8), steps=(1, 2, 4), val=4, nme_seeds=(0, 1), nme_train=16,
            nme_epochs=1, sapiens_px=(64, 48), sapiens_overrides=(("depth", 1),))


def slug(name: str) -> str:
    """A GPU's name as a file name: 'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def rate_from_slope(n_short: int, s_short: float, n_long: int, s_long: float) -> float:
    """Images/s from two runs of `n_short` and `n_long` images taking `s_short` and `s_long` seconds: the costs both
    runs share (start-up, compilation, validation) cancel."""
    if n_long <= n_short or s_long <= s_short:
        raise ValueError(f"need a longer run that takes longer (got {n_short} in {s_short} s, {n_long} in {s_long} s)")
    return (n_long - n_short) / (s_long - s_short)


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


def kind_of(op: str) -> str:
    """The kind of an aten op, by its name (`OP_KINDS`, first match), else "other"."""
    name = op.lower()
    return next((kind for kind, words in OP_KINDS if any(w in name for w in words)), "other")


def profile_table(ops: list[tuple[str, float]], wall_us: float, steps: int, top: int = 12) -> dict:
    """A profile's summary: `ops`, (aten op, self time in us over `steps` steps), as ms per step, the `top` ones with
    their share of the ops' total, the sum by kind, and the share of the wall time (`wall_us`) the ops fill (on a GPU,
    what is left is the device waiting for the host: launches, syncs, the Python loop)."""
    total = sum(us for _, us in ops)
    ranked = sorted(ops, key=lambda o: -o[1])
    kinds: dict[str, float] = {}
    for op, us in ops:
        kinds[kind_of(op)] = kinds.get(kind_of(op), 0.0) + us
    return {"steps": steps, "wall_ms_per_step": wall_us / steps / 1e3, "ops_ms_per_step": total / steps / 1e3,
            "ops_share_of_wall": total / wall_us if wall_us > 0 else None,
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
            {k: v for k, v in results.items() if k in PRECISION_KEYS or k in ("skipped", "failed")})


def setting_name(precision: str, compiled: bool) -> str:
    return precision + ("+compile" if compiled else "")


def paper_fit(repo: Path) -> FitConfig:
    """train.fit of the paper profile: profiles/default.yaml with profiles/paper.yaml over it."""
    def merge(base: dict, over: dict) -> dict:
        return {**base, **{k: merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                           for k, v in over.items()}}
    default = yaml.safe_load((repo / "profiles/default.yaml").read_text())["train"]
    paper = yaml.safe_load((repo / "profiles/paper.yaml").read_text())["train"]
    return train_params(merge(default, paper)).fit


def random_pairs(n: int, size: int, seed: int) -> Split:
    """Random thermal crops with random RGB twins and keypoints: what a step costs does not depend on the pixels."""
    rng = np.random.default_rng(seed)
    return Split(images=rng.integers(0, 256, (n, size, size), dtype=np.uint8),
                 paired=rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                 kpts=rng.uniform(size * 0.2, size * 0.8, (n, 68, 2)).astype(np.float32),
                 visible=np.ones((n, 68), np.float32), scale=np.ones((n, 2), np.float32))


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
    """The measurements of one machine; `results` is what the JSON holds."""

    def __init__(self, device: torch.device, sizes: Sizes, fit: FitConfig, budget_s: float, save=None):
        self.device, self.sizes, self.budget_s, self.save = device, sizes, budget_s, save
        self.fit = replace(fit, epochs=1, patience=None, val_every=1, grad_norm_steps=0, share_batches=0,
                           progress=False, deterministic=False)
        self.start = time.perf_counter()
        self.tasks: dict[tuple, DistillTask] = {}
        self.results: dict = {"skipped": [], "failed": {}}

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def run(self, name: str, estimate_s: float, fn, *args):
        """`fn(*args)` unless its estimated time would pass the budget; its result, or None when skipped or failed
        (the error is recorded: one item's failure is a finding, and the others still run). The results so far are
        saved after each item, so a run stopped from outside keeps them."""
        if self.elapsed() + estimate_s > self.budget_s:
            self.results["skipped"].append(name)
            print(f"gpu-check: {name} skipped (budget)", flush=True)
            return None
        t = time.perf_counter()
        try:
            out = fn(*args)
        except Exception as err:  # noqa: BLE001 - recorded in the results, the check goes on
            out = None
            self.results["failed"][name] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            print(f"gpu-check: {name} failed: {self.results['failed'][name]}", flush=True)
        else:
            print(f"gpu-check: {name} done in {time.perf_counter() - t:.0f} s", flush=True)
        if self.save is not None:
            self.save(self.results)
        return out

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def task(self, seed: int = 0) -> DistillTask:
        torch.manual_seed(seed)
        student = build_rtmpose(self.sizes.arch, input_size=(self.sizes.input_px,) * 2)
        teacher = build_rtmpose(self.sizes.arch, input_size=(self.sizes.input_px,) * 2)
        return DistillTask(student, teacher, DIKD).to(self.device)

    def kept_task(self, precision: str, compiled: bool, deterministic: bool = False) -> DistillTask:
        """One task object per setting: a compiled step is compiled once and found again for the same objects."""
        key = (precision, compiled, deterministic)
        if key not in self.tasks:
            self.tasks[key] = self.task()
        return self.tasks[key]

    def timed_fit(self, task: DistillTask, train: Split, val: Split, cfg: FitConfig) -> float:
        self.sync()
        t = time.perf_counter()
        fit_ktl(task.student, task.teacher, task, {"train": train, "val": val}, cfg)
        self.sync()
        return time.perf_counter() - t

    def end_to_end(self, precision: str, compiled: bool, batch: int, deterministic: bool = False) -> dict:
        """Images/s of `fit_ktl` from the slope between a short and a long run, after a warm-up run (compilation,
        cuDNN's first calls); peak GPU memory over the three."""
        s = self.sizes
        steps = [max(k * s.batches[0] // batch, 1) for k in s.steps]
        steps[2] = max(steps[2], steps[1] + 1)
        data = random_pairs(steps[2] * batch, s.input_px, 0)
        val = random_pairs(s.val, s.input_px, 1)
        cfg = replace(self.fit, batch_size=batch, precision=precision, compile=compiled, deterministic=deterministic)
        task = self.kept_task(precision, compiled, deterministic)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        warm = self.timed_fit(task, data.head(steps[0] * batch), val, cfg)
        short = self.timed_fit(task, data.head(steps[1] * batch), val, cfg)
        long = self.timed_fit(task, data, val, cfg)
        out = {"images_per_s": rate_from_slope(steps[1] * batch, short, steps[2] * batch, long),
               "runs": {"steps": steps, "seconds": [warm, short, long]}}
        if self.device.type == "cuda":
            out["peak_memory_gb"] = torch.cuda.max_memory_allocated() / 1e9
        return out

    @contextlib.contextmanager
    def stepping(self, precision: str, compiled: bool, batch: int):
        """A callable running one training step (forward, backward, clipping, AdamW) on one batch kept on the device,
        as `fit_ktl` runs it (channels_last, autocast, the same compiled task); the task's layout restored after."""
        task = self.kept_task(precision, compiled)
        task.to(memory_format=torch.channels_last)
        data = random_pairs(batch, self.sizes.input_px, 2)
        flip = flip_index(68)
        size = (self.sizes.input_px,) * 2
        plan = StepPlan(batch, batch, 0, self.fit.augment, size)
        index, draws = next(iter(plan))
        batch_t = finish(make_batch(data, index, flip, size, draws, self.fit.augment_on_device), self.device, size)
        images, paired = to_input(batch_t["images"], self.device), to_input(batch_t["paired"], self.device)
        targets = {k: batch_t[k] for k in ("target_x", "target_y", "weight")}
        params = [p for p in task.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-4, fused=self.device.type == "cuda")
        step = torch.compile(task) if compiled else task
        task.train()

        def one() -> None:
            with torch.autocast(self.device.type, torch.bfloat16, enabled=precision == "bf16"):
                terms = step(images, paired, targets, gamma=1.0, kp_scale=1.0)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()

        try:
            with numerics(precision, False, self.device):
                yield one
        finally:
            task.to(memory_format=torch.contiguous_format)

    def step_ceiling(self, precision: str, compiled: bool, batch: int, repeats: int = 10) -> float:
        """Images/s of the training step alone (`stepping`), after 3 warm-up steps."""
        with self.stepping(precision, compiled, batch) as one:
            for _ in range(3):
                one()
            self.sync()
            t = time.perf_counter()
            for _ in range(repeats):
                one()
            self.sync()
        return batch * repeats / (time.perf_counter() - t)

    def profile(self, precision: str, batch: int, steps: int = 5) -> dict:
        """Where a training step's time goes (`stepping`, eager): torch.profiler over `steps` steps after 3 warm-up
        ones, each aten op's self time on the device (on the CPU in a dry run), summed by kind (`profile_table`)."""
        cuda = self.device.type == "cuda"
        activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
        with self.stepping(precision, False, batch) as one:
            for _ in range(3):
                one()
            self.sync()
            t = time.perf_counter()
            with torch.profiler.profile(activities=activities) as prof:
                for _ in range(steps):
                    one()
                self.sync()
            wall_us = (time.perf_counter() - t) * 1e6
        ops = [(e.key, e.self_device_time_total if cuda else e.self_cpu_time_total) for e in prof.key_averages()
               if e.key.startswith("aten::")]
        return {"setting": precision, "batch": batch, "clock": "device" if cuda else "cpu",
                **profile_table(ops, wall_us, steps)}

    def loader_rate(self, on_device: bool, batches: int = 10) -> float:
        """Images/s one loader worker makes at the first batch size (after its first batch: start-up)."""
        batch = self.sizes.batches[0]
        data = random_pairs(batch * (batches + 1), self.sizes.input_px, 3)
        size = (self.sizes.input_px,) * 2
        plan = StepPlan(len(data), batch, 0, self.fit.augment, size)
        it = iter(loader(data, plan, flip_index(68), size, 1, pin_memory=self.device.type == "cuda",
                         on_device=on_device))
        next(it)
        t = time.perf_counter()
        for _ in range(batches):
            next(it)
        return batch * batches / (time.perf_counter() - t)

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

    def sapiens2(self, precision: str, batch: int = 8, repeats: int = 5) -> dict:
        """Sapiens2 inference images/s (random weights) at the model's input size, under `precision`."""
        model = build_sapiens2(self.sizes.sapiens_arch, **dict(self.sizes.sapiens_overrides)).eval().to(self.device)
        h, w = self.sizes.sapiens_px
        x = torch.randn(batch, 3, h, w, device=self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        with torch.no_grad(), inference_autocast(precision, self.device):
            for i in range(2 + repeats):
                if i == 2:
                    self.sync()
                    t = time.perf_counter()
                model(x)
            self.sync()
        out = {"images_per_s": batch * repeats / (time.perf_counter() - t), "batch": batch, "input_hw": [h, w]}
        if self.device.type == "cuda":
            out["peak_memory_gb"] = torch.cuda.max_memory_allocated() / 1e9
        return out

    def nme_row(self, precision: str, compiled: bool) -> dict:
        """Best validation NME of a short KTL run on dot crops per seed (fresh seeded weights each, loaded into the
        setting's kept task so a compiled step compiles once)."""
        s = self.sizes
        train, val = shape_pairs(s.nme_train, s.input_px, 10), shape_pairs(nme_val(s), s.input_px, 11)
        nmes = []
        for seed in s.nme_seeds:
            task = self.kept_task(precision, compiled)
            task.load_state_dict(self.task(seed).state_dict())
            # gamma_warmup = epochs: the distillation weight stays 1 (a compiled step is not compiled again for
            # each epoch's weight)
            cfg = replace(self.fit, batch_size=s.batches[0], precision=precision, compile=compiled, seed=seed,
                          epochs=s.nme_epochs, optim=NME_OPTIM, gamma_warmup=s.nme_epochs, augment=AugmentConfig())
            nmes.append(fit_ktl(task.student, task.teacher, task, {"train": train, "val": val}, cfg)["best_val_nme"])
        return {"nmes": nmes, "mean": float(np.mean(nmes)), "spread": float(np.ptp(nmes))}


def measure(device: torch.device, sizes: Sizes, fit: FitConfig, budget_s: float, save=None,
            only_precision: bool = False, known_rates: dict | None = None) -> dict:
    """Every item, in order of importance, as far as the budget goes; `save(results so far)` after each.
    `only_precision`: the NME table alone, the choice then made on `known_rates` (setting -> images/s at batch 64,
    from an earlier run's file)."""
    c = Check(device, sizes, fit, budget_s, save)
    r = c.results
    small, large = sizes.batches
    compile_s = 150 if device.type == "cuda" else 600
    table = r["precision_nme"] = {}
    r["nme_protocol"] = nme_protocol(sizes)

    def nme(precision: str, compiled: bool, estimate: float) -> None:
        row = c.run(f"NME {setting_name(precision, compiled)}", estimate, c.nme_row, precision, compiled)
        if row is not None:
            table[setting_name(precision, compiled)] = row

    if only_precision:
        for precision in PRECISIONS:
            nme(precision, False, 60)
        nme("bf16", True, compile_s + 30)
        if "fp32" in table and known_rates:
            r["paper_choice"] = choose(known_rates, table)
        r["seconds"] = c.elapsed()
        return r
    r["cpu_vs_gpu_forward_max_diff"] = c.run("cpu-vs-gpu forward", 10, c.cpu_vs_gpu)
    r["loader_images_per_s_per_worker"] = {
        "augment_on_device": c.run("loader, on device", 10, c.loader_rate, True),
        "warps_in_workers": c.run("loader, warps in workers", 15, c.loader_rate, False)}
    e2e = r["end_to_end"] = {}
    for precision in PRECISIONS:
        for batch in sizes.batches:
            e2e.setdefault(precision, {})[str(batch)] = c.run(f"end to end {precision} batch {batch}", 20,
                                                             c.end_to_end, precision, False, batch)
    for precision in PRECISIONS:
        nme(precision, False, 60)
    r["determinism"] = {"fp32": c.run("determinism fp32", 20, c.determinism, "fp32", False),
                        "bf16": c.run("determinism bf16", 20, c.determinism, "bf16", False)}
    r["sapiens2_0_4b"] = {p: c.run(f"sapiens2 {p}", 20, c.sapiens2, p) for p in ("bf16", "fp32")}
    ceiling = r["step_ceiling_images_per_s"] = {}
    for precision in PRECISIONS:
        ceiling[precision] = {str(b): c.run(f"step ceiling {precision} batch {b}", 10, c.step_ceiling, precision,
                                            False, b) for b in sizes.batches}
    r["profile"] = {p: c.run(f"profile {p} batch {small}", 5, c.profile, p, small) for p in ("tf32", "bf16")}
    cost = r["deterministic_cost"] = {}

    def deterministic_cost(precision: str, compiled: bool, estimate: float) -> None:
        name = setting_name(precision, compiled)
        fast = e2e.get(name, {}).get(str(small))
        det = None if fast is None else c.run(f"end to end {name} deterministic batch {small}", estimate,
                                              c.end_to_end, precision, compiled, small, True)
        if det is not None:
            cost[name] = {"images_per_s": det["images_per_s"], "without": fast["images_per_s"],
                          "change": det["images_per_s"] / fast["images_per_s"] - 1}

    deterministic_cost("fp32", False, 20)
    deterministic_cost("bf16", False, 20)
    e2e["bf16+compile"] = {str(small): c.run(f"end to end bf16+compile batch {small}", compile_s, c.end_to_end,
                                             "bf16", True, small)}
    if e2e["bf16+compile"][str(small)] is not None:
        nme("bf16", True, 40)
        ceiling["bf16+compile"] = {str(small): c.run(f"step ceiling bf16+compile batch {small}", 10,
                                                     c.step_ceiling, "bf16", True, small)}
    deterministic_cost("bf16", True, compile_s)
    e2e["bf16+compile"][str(large)] = c.run(f"end to end bf16+compile batch {large}", compile_s, c.end_to_end,
                                            "bf16", True, large)
    rates = batch_rates(e2e, small)
    if "fp32" in table and rates:
        r["paper_choice"] = choose(rates, table)
        per_worker = r["loader_images_per_s_per_worker"]["augment_on_device"]
        if per_worker:
            r["workers_needed"] = {name: workers_needed(rate, per_worker) for name, rate in rates.items()}
    r["seconds"] = c.elapsed()
    return r


def batch_rates(end_to_end: dict, batch: int) -> dict[str, float]:
    """Setting -> end-to-end images/s at `batch`, for the settings measured there."""
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


def environment(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (dry run)"
    return {"gpu": name, "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "date": datetime.date.today().isoformat(), "python": sys.version.split()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("metrics/gpu"))
    parser.add_argument("--repo", type=Path, default=Path("."), help="where profiles/ is")
    parser.add_argument("--budget-s", type=float, default=270.0, help="skip items that would run past this")
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
    fit = paper_fit(args.repo)
    if args.dry_run:  # the training process reads its own batches: worker start-ups would be most of a toy run
        fit = replace(fit, loader_workers=0)
    info = environment(device)
    info.update(paper_fit={"batch_size": fit.batch_size, "loader_workers": fit.loader_workers,
                           "augment_on_device": fit.augment_on_device, "precision": fit.precision,
                           "compile": fit.compile, "deterministic": fit.deterministic},
                model=f"KTL DIKD, RTMPose-{sizes.arch} student and teacher, {sizes.input_px} px", arch=sizes.arch,
                input_px=sizes.input_px, budget_s=args.budget_s)
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

    save(measure(device, sizes, fit, args.budget_s, save, args.only_precision, known_rates))
    print(f"gpu-check: {path}, {precision_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
