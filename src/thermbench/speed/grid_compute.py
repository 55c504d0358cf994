"""The training compute of a profile's MLCM-KD grid, on paper: per trained stage, forward FLOPs per image x images x
epochs x runs, in GPU-hours at a stated rate.

The rate is measured where `make gpu-check` measured the GPU named in `speed.grid` (metrics/gpu/*.json): the
images/s of its KTL-l run at batch 64 under the paper profile's chosen setting, times that step's FLOPs per image,
is the FLOP rate every run is costed at (the other sizes are not measured: they are taken at the same achieved
FLOP rate, which overstates the small ones' speed, as those are even more bound by memory traffic). For a GPU
without a measurement the rate falls back to an assumed share (`utilisation`) of its dense datasheet rate, and the
report says so.

Assumptions, each a parameter: a training step costs 3 forwards of the trained network (forward + backward at twice
the forward) plus one forward of a frozen teacher; validation is one forward of the val images per epoch; the
aligners and the augmentation are left out (well under 1% of a step); runs stop at `expected_fraction` of their epoch
cap (early stopping), and the cap itself is the bound.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thermbench.core.io import InputError


def grid_runs(params: dict) -> list[dict]:
    """Every training run of the profile `params` (a rendered params.yaml): stage, what it trains, the network
    trained and its frozen teacher (None), the images it trains on (`tfake` or `rgb`), the epoch cap, the count."""
    rt, train = params["rtmpose"], params["train"]
    seeds, scratch_seeds = len(train["seeds"]), len(train.get("scratch_seeds", train["seeds"]))
    epochs, teacher_epochs = train["fit"]["epochs"], train["teacher_epochs"]
    runs = [{"stage": "teacher", "what": f"RTMPose-{rt['teacher_arch']} on RGB", "arch": rt["teacher_arch"],
             "teacher": None, "data": "rgb", "epochs": teacher_epochs, "runs": 1}]
    runs += [{"stage": "pretrain", "what": f"RTMPose-{a} on RGB", "arch": a, "teacher": None, "data": "rgb",
              "epochs": teacher_epochs, "runs": 1} for a in rt["pretrain_archs"]]
    runs += [{"stage": "supervised", "what": f"RTMPose-{a} thermal", "arch": a, "teacher": None, "data": "tfake",
              "epochs": epochs, "runs": seeds} for a in rt["supervised_archs"]]
    runs += [{"stage": "supervised", "what": f"RTMPose-{a} thermal, from scratch", "arch": a, "teacher": None,
              "data": "tfake", "epochs": epochs, "runs": scratch_seeds} for a in train["scratch"]["supervised"]]
    runs += [{"stage": "ktl", "what": f"KTL {v} ({rt['ktl_arch']} from {rt['teacher_arch']})", "arch": rt["ktl_arch"],
              "teacher": rt["teacher_arch"], "data": "tfake", "epochs": epochs, "runs": seeds}
             for v in train["ktl"]["runs"]]
    runs += [{"stage": "ktl", "what": f"KTL {v}, from scratch", "arch": rt["ktl_arch"], "teacher": rt["teacher_arch"],
              "data": "tfake", "epochs": epochs, "runs": scratch_seeds} for v in train["scratch"]["ktl"]]
    runs += [{"stage": "mcl", "what": f"MCL {v} ({rt['mcl_arch']} from KTL {rt['ktl_arch']})", "arch": rt["mcl_arch"],
              "teacher": rt["ktl_arch"], "data": "tfake", "epochs": epochs, "runs": seeds}
             for v in train["mcl"]["variants"]]
    return runs


def grid_compute(runs: list[dict], forward_gflops: Callable[[str], float], images: dict[str, tuple[int, int]],
                 gpu_tflops: float, utilisation: float, expected_fraction: float) -> dict:
    """GPU-hours of `runs` (`grid_runs`) at the cap and at `expected_fraction` of it: `forward_gflops(arch)` per
    image at the input size, `images[data]` = (train, val) images per epoch, the GPU at `utilisation` of
    `gpu_tflops`. `forward_gflops` is called once per distinct arch (it may count a whole model's FLOPs)."""
    rate = gpu_tflops * 1e12 * utilisation
    archs = sorted({r["arch"] for r in runs} | {r["teacher"] for r in runs if r["teacher"]})
    gflops = {arch: forward_gflops(arch) for arch in archs}
    rows = []
    for run in runs:
        train_n, val_n = images[run["data"]]
        step = 3 * gflops[run["arch"]] + (gflops[run["teacher"]] if run["teacher"] else 0.0)
        per_epoch = (train_n * step + val_n * gflops[run["arch"]]) * 1e9
        hours = per_epoch * run["epochs"] * run["runs"] / rate / 3600
        rows.append({**run, "train_step_gflops_per_image": step, "gpu_hours_at_cap": hours,
                     "gpu_hours_expected": hours * expected_fraction})
    total = sum(r["gpu_hours_at_cap"] for r in rows)
    return {"rows": rows, "gpu_hours_at_cap": total, "gpu_hours_expected": total * expected_fraction,
            "assumed": {"gpu_tflops": gpu_tflops, "utilisation": utilisation, "expected_fraction": expected_fraction,
                        "images": {k: {"train": v[0], "val": v[1]} for k, v in images.items()}}}


@dataclass(frozen=True)
class Measured:
    """A `make gpu-check` measurement: the GPU, the setting and its end-to-end KTL images/s at batch 64, the date, the
    file, and the model it ran (`arch` student and teacher)."""

    gpu: str
    setting: str
    images_per_s: float
    date: str
    path: str
    arch: str


def find_measurement(gpu: str, metrics_dir: Path) -> Measured | None:
    """The measurement of the GPU named `gpu` (its name as torch reports it) among `metrics_dir/*.json`, or None."""
    for path in sorted(Path(metrics_dir).glob("*.json")):
        found = json.loads(path.read_text())
        if found.get("gpu") == gpu and "paper_choice" in found:
            choice = found["paper_choice"]
            return Measured(gpu, choice["setting"], choice["images_per_s"], found["date"], str(path), found["arch"])
    return None


def measured_utilisation(measured: Measured, forward_gflops: Callable[[str], float], dense_tflops: float) -> float:
    """The share of `dense_tflops` the measured KTL step reached: images/s x (3 student + 1 teacher forwards) FLOPs."""
    return measured.images_per_s * 4 * forward_gflops(measured.arch) / 1e3 / dense_tflops


def costed_rate(rate: "GpuRate", gpu_metrics: Path | None,
                forward_gflops: Callable[[str], float]) -> tuple[Measured | None, float]:
    """The measurement of `rate.gpu` in `gpu_metrics` (None where it has none) and the share of its dense rate the
    grid is costed at: the measured one, or the assumed `rate.utilisation` as the labelled fallback."""
    measured = None if gpu_metrics is None else find_measurement(rate.gpu, gpu_metrics)
    if measured is None:
        return None, rate.utilisation
    return measured, measured_utilisation(measured, forward_gflops, rate.dense_tflops)


@dataclass(frozen=True)
class GpuRate:
    """params.yaml `speed.grid`: the GPU the grid's compute is stated for, its dense rate and the share of it a
    training step is assumed to reach."""

    gpu: str
    dense_tflops: float
    utilisation: float


def expected_share(models_dir: Path) -> tuple[float, int]:
    """Median of epochs run / epoch cap over the trained runs under `models_dir` (their config.json), and how many."""
    shares = []
    for path in sorted(models_dir.rglob("config.json")):
        config = json.loads(path.read_text())
        history, fit = config.get("history") or {}, config.get("fit") or {}
        if "epochs_run" in history and fit.get("epochs"):
            shares.append(history["epochs_run"] / fit["epochs"])
    if not shares:
        raise InputError(f"{models_dir}: no trained run with a history (config.json) to read the epochs run from")
    return float(np.median(shares)), len(shares)


def rate_sentence(rate: GpuRate, measured: Measured | None, utilisation: float) -> str:
    """How the grid's FLOP rate was had: measured (GPU, setting, date, file) or the labelled assumed fallback."""
    if measured is None:
        return (f"on one {rate.gpu} at an assumed {rate.utilisation:.0%} of its {rate.dense_tflops} dense TFLOPS "
                "(fallback: this GPU has no `make gpu-check` measurement in metrics/gpu)")
    return (f"on one {rate.gpu} at the FLOP rate measured by `make gpu-check` on {measured.date} "
            f"({measured.path}): KTL-{measured.arch} end to end at batch 64, {measured.setting}, "
            f"{measured.images_per_s:,.0f} images/s, {utilisation:.1%} of its {rate.dense_tflops} dense TFLOPS; "
            "the other sizes at the same FLOP rate")


def markdown(grid: dict, rate: GpuRate, label: str, basis: str | None = None) -> str:
    """The grid's compute as a report section: one row per run kind, the total, the assumptions; `basis` says how
    the rate was had (`rate_sentence`; default: the assumed utilisation)."""
    a = grid["assumed"]
    basis = rate_sentence(rate, None, rate.utilisation) if basis is None else basis
    lines = [f"## Training compute of the grid, on paper ({label})", "",
             f"Forward FLOPs of the network trained x3 (forward + backward) plus its frozen teacher's forward, per "
             f"training image, plus one forward per validation image, x images x epochs x runs, {basis}. "
             "Images per epoch: "
             + ", ".join(f"{k} {v['train']:,} train + {v['val']:,} val" for k, v in a["images"].items())
             + f". Expected: {a['expected_fraction']:.2f} of the epoch cap, {a['expected_fraction_from']}.", "",
             f"| stage | trains | runs | epochs (cap) | GFLOPs per training image | {rate.gpu}-hours at the cap | "
             "expected |", "|---|---|---|---|---|---|---|"]
    for r in grid["rows"]:
        lines.append(f"| {r['stage']} | {r['what']} | {r['runs']} | {r['epochs']} | "
                     f"{r['train_step_gflops_per_image']:.1f} | {r['gpu_hours_at_cap']:.3g} | "
                     f"{r['gpu_hours_expected']:.3g} |")
    lines.append(f"| **total** | | {sum(r['runs'] for r in grid['rows'])} | | | **{grid['gpu_hours_at_cap']:.3g}** | "
                 f"**{grid['gpu_hours_expected']:.3g}** |")
    return "\n".join(lines) + "\n"
