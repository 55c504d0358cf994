"""`make scale`: the MLCM-KD data path measured at growing T-FAKE sizes, and what it means at the paper's size.

For each N (pairs), a T-FAKE-format raw set (FaceSynthetics `<id>.png` + `<id>_ldmks.txt`, thermal twins under
`thermal/warm/` and `thermal/cold/`, so N/2 ids x 2 conditions as the real 200,000 = 2 x 100,000) is written from a
few synthetic renders, each copy shifted by a few pixels and given fresh sensor noise: what is measured is the data
path, not the renderer. It then goes through the stages' own library calls, each in a child process whose peak RSS
(`os.wait4`, the child and its loader workers) and wall time are taken: prepare (`datasets.tfake.prepare`), crops
(`mlcmkd.crop_cache.cache_tfake`, the T-FAKE part of crops_mlcmkd) and train (`fit_ktl`: a fixed number of KTL steps,
RTMPose-l from an RTMPose-l teacher, at batch 64, validated on one batch). The train step also times one loader
worker alone (images/s). Each size's files are deleted once measured. `--costs-only` re-costs the sizes already in
metrics/scale.json at the current GPU rate, measuring nothing.

Written: `metrics/scale.json` and `plots/scale.{png,svg}` (memory, time and disk against N, with straight-line
extrapolations to the paper's 200,000 pairs), and the number of loader workers one GPU needs, from the measured
FLOPs of a KTL-l step and the GPU rate of `speed.grid` (the rate `make gpu-check` measured for that GPU in
metrics/gpu, or, for a GPU not measured, the assumed share of its dense rate, labelled so); the paper grid's compute
(`speed.grid_compute`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from thermbench import cpuinfo_model, read_cpuinfo
from thermbench.core.io import InputError, write_json, write_text
from thermbench.core.stage import run as run_stage
from thermbench.speed.grid_compute import GpuRate, costed_rate, grid_compute, grid_runs, markdown, rate_sentence

SIZES = (1000, 4000, 16000)
BASE_RENDERS = 8
INPUT_SIZE = 256
BATCH = 64
STEPS = 2
LOADER_BATCHES = 8          # batches one worker makes while timed (after its first)
PAPER_PAIRS = 200_000
ARCH = "l"                  # the paper's KTL student and teacher
WORKERS_PER_GPU_LIMIT = 8
STAGES = ("prepare", "crops", "train")
RGB_FACES_UNIT = 100_000
# A worker that warps and encodes (the default profile), or one that only reads and moves points while the training
# device warps and encodes (`train.fit.augment_on_device`, the paper profile).
LOADER_MODES = {"augment_in_worker": False, "augment_on_device": True}


def _params(repo: Path) -> dict:
    return yaml.safe_load((repo / "params.yaml").read_text())


def write_raw(out: Path, pairs: int, synth_cfg: dict, seed: int) -> None:
    """A T-FAKE-format raw set of `pairs` thermal/RGB pairs (module docstring) under `out`."""
    import cv2

    from thermbench.datasets.synth import tfake as synth_tfake

    base = out.parent / f"{out.name}-renders"
    synth_tfake.write(base, {**synth_cfg, "num_images": BASE_RENDERS}, seed, workers=1)
    renders = [(cv2.imread(str(base / f"{i:06d}.png")),
                cv2.imread(str(base / synth_tfake.THERMAL_DIR / f"{i:06d}.png"), cv2.IMREAD_GRAYSCALE),
                np.loadtxt(base / f"{i:06d}_ldmks.txt")) for i in range(BASE_RENDERS)]
    shutil.rmtree(base)
    for condition in ("warm", "cold"):
        (out / "thermal" / condition).mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for k in range(pairs // 2):
        rgb, thermal, points = renders[k % BASE_RENDERS]
        dy, dx = rng.integers(-8, 9, size=2)
        stem = f"{k:06d}"
        noisy = lambda img: np.clip(np.roll(img, (dy, dx), axis=(0, 1)).astype(np.int16)  # noqa: E731
                                    + rng.integers(-3, 4, size=img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(out / f"{stem}.png"), noisy(rgb))
        for condition in ("warm", "cold"):
            cv2.imwrite(str(out / "thermal" / condition / f"{stem}.png"), noisy(thermal))
        (out / f"{stem}_ldmks.txt").write_text("".join(f"{x + dx:.3f} {y + dy:.3f}\n" for x, y in points))


def _step_prepare(args: dict) -> dict:
    from thermbench.datasets import tfake

    tfake.prepare(Path(args["raw"]), Path(args["prepared"]), args["cfg"], args["seed"])
    return {}


def _step_crops(args: dict) -> dict:
    from thermbench.mlcmkd.crop_cache import cache_tfake

    cache_tfake(INPUT_SIZE, Path(args["prepared"]), Path(args["store"]))
    return {}


def _loader_rate(split, augment, size: tuple[int, int], on_device: bool) -> float:
    """Images/s of one loader worker making augmented batches of 64 (after its start-up batch)."""
    from thermbench.mlcmkd.augment import flip_index
    from thermbench.mlcmkd.loader import StepPlan, loader

    one_worker = loader(split, StepPlan(len(split), BATCH, 0, augment, size), flip_index(), size, workers=1,
                        on_device=on_device)
    batches = (batch for _ in iter(int, 1) for batch in one_worker)  # epoch after epoch
    next(batches)
    start = time.perf_counter()
    for _ in range(LOADER_BATCHES):
        next(batches)
    return LOADER_BATCHES * BATCH / (time.perf_counter() - start)


def _step_train(args: dict) -> dict:
    """KTL steps at batch 64 from the store; before them, one loader worker timed alone."""
    import torch

    from thermbench.mlcmkd.augment import AugmentConfig
    from thermbench.mlcmkd.crop_cache import student_splits
    from thermbench.mlcmkd.losses import DistillConfig, DistillTask
    from thermbench.mlcmkd.train import FitConfig, fit_ktl
    from thermbench.models.rtmpose import build_rtmpose

    torch.set_num_threads(os.cpu_count() or 1)
    augment = AugmentConfig(**args["augment"])
    data = student_splits(Path(args["store"]), None, paired=True)
    size = (INPUT_SIZE, INPUT_SIZE)
    rates = {mode: _loader_rate(data["train"], augment, size, on_device) for mode, on_device in LOADER_MODES.items()}

    torch.manual_seed(0)
    student = build_rtmpose(ARCH, input_size=size)
    teacher = build_rtmpose(ARCH, input_size=size)
    task = DistillTask(student, teacher, DistillConfig(fd=True, ld=True, fi=True, ri=True))
    data = {"train": data["train"].head(STEPS * BATCH), "val": data["val"].head(BATCH)}
    cfg = FitConfig(epochs=1, batch_size=BATCH, seed=0, augment=augment, loader_workers=args["workers"])
    start = time.perf_counter()
    fit_ktl(student, teacher, task, data, cfg, desc=f"KTL-{ARCH} steps")
    return {"loader_images_per_s_per_worker": rates, "step_s": (time.perf_counter() - start) / STEPS,
            "train_process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "largest_worker_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _measure(step: str, args: dict, scratch: Path) -> dict:
    """Run one step in a child process: its result, peak RSS (MB, the child and its waited-for children) and wall."""
    result = scratch / f"{step}.json"
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "thermbench.tools.measure.scale", "--step", step, "--args",
                              json.dumps(args), "--result", str(result)])
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"scale: step {step} failed (exit {os.waitstatus_to_exitcode(status)})")
    return {**json.loads(result.read_text()), "peak_rss_mb": usage.ru_maxrss / 1024, "wall_s": wall}


def _disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def measure_size(pairs: int, scratch: Path, params: dict, workers: int) -> dict:
    """Every stage at one size; its files removed afterwards."""
    root = scratch / f"n{pairs}"
    raw, prepared, store = root / "raw", root / "prepared", root / "store"
    seed = int(params["seed"])
    print(f"scale: N = {pairs}: writing the raw set", file=sys.stderr)
    write_raw(raw, pairs, {**params["synth"]["tfake"]}, seed)
    prepare_cfg = {**params["prepare"]["tfake"], "conditions": ["warm", "cold"]}
    out = {"prepare": _measure("prepare", {"raw": str(raw), "prepared": str(prepared), "cfg": prepare_cfg,
                                           "seed": seed}, root),
           "crops": _measure("crops", {"prepared": str(prepared), "store": str(store)}, root),
           "train": _measure("train", {"store": str(store), "workers": workers,
                                       "augment": params["train"]["fit"]["augment"]}, root)}
    out["disk_mb"] = {"raw": _disk_mb(raw), "prepared": _disk_mb(prepared), "store": _disk_mb(store)}
    shutil.rmtree(root)
    return out


def _line_at(xs: list[float], ys: list[float], x: float) -> float:
    slope, intercept = np.polyfit(xs, ys, 1)
    return float(slope * x + intercept)


def _ktl_step_gflops_per_image() -> dict:
    """A KTL training step per image: the student's forward and backward (3 forwards) and the teacher's forward, at
    256 px (`evaluate.complexity`, 2 FLOPs per multiply-add); the aligners are left out (under 1%)."""
    from thermbench.models.rtmpose import complexity

    forward = complexity(ARCH)["gflops"]
    return {"forward_gflops": forward, "train_step_gflops": 4 * forward}


def summarize(sizes: dict[int, dict], rate: GpuRate, basis: str) -> dict:
    """Growth between the two largest sizes, the extrapolations to the paper, and the loader workers a GPU needs at
    `rate` (its utilisation: measured or assumed, as `basis` says)."""
    ns = sorted(sizes)
    big, bigger = ns[-2], ns[-1]
    growth = {s: sizes[bigger][s]["peak_rss_mb"] / sizes[big][s]["peak_rss_mb"] - 1 for s in STAGES}
    paper = {"pairs": PAPER_PAIRS,
             "wall_h": {s: _line_at(ns, [sizes[n][s]["wall_s"] for n in ns], PAPER_PAIRS) / 3600
                        for s in ("prepare", "crops")},
             "disk_gb": {d: _line_at(ns, [sizes[n]["disk_mb"][d] for n in ns], PAPER_PAIRS) / 1024
                         for d in ("raw", "prepared", "store")},
             # memory: the line through the two largest sizes, the span whose growth is the target's
             "peak_rss_mb": {s: _line_at(ns[-2:], [sizes[n][s]["peak_rss_mb"] for n in ns[-2:]], PAPER_PAIRS)
                             for s in STAGES}}
    flops = _ktl_step_gflops_per_image()
    gpu_rate = rate.dense_tflops * 1e3 * rate.utilisation / flops["train_step_gflops"]
    loaders = {}
    for mode in LOADER_MODES:
        per_worker = float(np.median([sizes[n]["train"]["loader_images_per_s_per_worker"][mode] for n in ns]))
        needed = math.ceil(gpu_rate / per_worker)
        loaders[mode] = {"images_per_s_per_worker": per_worker, "workers_needed_per_gpu": needed,
                         "keeps_up_within_limit": needed <= WORKERS_PER_GPU_LIMIT}
    return {"rss_growth": {f"{big}_to_{bigger}": growth},
            "rss_flat_within_10pct": all(abs(g) <= 0.10 for g in growth.values()),
            "extrapolated_to_paper": paper,
            "gpu": {**flops, "gpu": rate.gpu, "dense_tflops": rate.dense_tflops, "utilisation": rate.utilisation,
                    "rate_from": basis, "gpu_images_per_s": gpu_rate,
                    "workers_per_gpu_limit": WORKERS_PER_GPU_LIMIT, "loader": loaders}}


def paper_grid(repo: Path, rate: GpuRate) -> dict:
    """The paper profile's grid (`mlcmkd.grid_compute`) on one H100 at the rate above: T-FAKE at 200,000 pairs split
    80/10/10 by the profile; the RGB stages (teacher, pretrain) per 100,000 RGB training faces, since the count of
    COCO-WholeBody's usable faces is read from the data, not known here. The expected share of the epoch cap is the
    median over the committed default-profile runs (synthetic data), stated as such."""
    from thermbench.models.rtmpose import complexity
    from thermbench.tools.pipeline.profiles import render

    params = yaml.safe_load(render("paper", repo))
    split = params["prepare"]["tfake"]["split"]
    images = {"tfake": (round(PAPER_PAIRS * split["train"]), round(PAPER_PAIRS * split["val"])),
              "rgb": (RGB_FACES_UNIT, round(RGB_FACES_UNIT * params["synth"]["rgbpretrain"]["val_fraction"]))}
    shares = [r["training"]["epochs_run"] / r["epochs"]
              for f in sorted((repo / "metrics" / "mlcmkd").rglob("*.json"))
              for r in [json.loads(f.read_text())] if "epochs_run" in (r.get("training") or {})]
    fraction = float(np.median(shares))
    out = grid_compute(grid_runs(params), lambda arch: complexity(arch)["gflops"], images, rate.dense_tflops,
                       rate.utilisation, fraction)
    out["assumed"]["expected_fraction_from"] = (f"median epochs run / cap of {len(shares)} committed default-profile "
                                                "runs (synthetic data)")
    out["assumed"]["rgb_faces"] = (f"per {RGB_FACES_UNIT:,} RGB training faces "
                                   "(COCO-WholeBody face + 300W: count unknown here)")
    return out


def report(result: dict, rate: GpuRate) -> str:
    """plots/scale.md: what was measured per size, what it means at the paper's size, and the paper grid's cost."""
    ns = sorted(int(n) for n in result["sizes"])
    sizes = {n: result["sizes"][str(n)] for n in ns}
    lines = [f"# The MLCM-KD data path at growing N ({result['data']}; {result['machine']['cpu']})", "",
             "| N pairs | " + " | ".join(f"{s} peak RSS (MB)" for s in STAGES) + " | prepare (s) | crops (s) | "
             "KTL-l step (s) | disk: raw / prepared / store (MB) |",
             "|---" * (len(STAGES) + 5) + "|"]
    for n in ns:
        z = sizes[n]
        lines.append(f"| {n:,} | " + " | ".join(f"{z[s]['peak_rss_mb']:.0f}" for s in STAGES)
                     + f" | {z['prepare']['wall_s']:.0f} | {z['crops']['wall_s']:.0f} | {z['train']['step_s']:.0f} | "
                     + " / ".join(f"{z['disk_mb'][d]:.0f}" for d in ("raw", "prepared", "store")) + " |")
    (span, growth), = result["rss_growth"].items()
    paper, gpu = result["extrapolated_to_paper"], result["gpu"]
    lines += ["", f"Peak RSS growth from {span.replace('_to_', ' to ')} pairs: "
              + ", ".join(f"{s} {g:+.1%}" for s, g in growth.items())
              + f" (target: within 10%: {'met' if result['rss_flat_within_10pct'] else 'NOT met'}).", "",
              f"Straight lines to the paper's {paper['pairs']:,} pairs: prepare {paper['wall_h']['prepare']:.1f} h, "
              f"crops {paper['wall_h']['crops']:.1f} h on this CPU; disk raw {paper['disk_gb']['raw']:.0f} GB, "
              f"prepared {paper['disk_gb']['prepared']:.0f} GB, store {paper['disk_gb']['store']:.0f} GB.", "",
              f"One GPU, {gpu['rate_from']}: a KTL-l step of {gpu['train_step_gflops']:.1f} GFLOPs per image at "
              f"{gpu['utilisation']:.1%} of {gpu['dense_tflops']} dense TFLOPS is "
              f"{gpu['gpu_images_per_s']:.0f} images/s."]
    for mode, v in gpu["loader"].items():
        within = "within" if v["keeps_up_within_limit"] else "over"
        lines.append(f"- {mode.replace('_', ' ')}: one loader worker makes {v['images_per_s_per_worker']:.0f} "
                     f"images/s; the GPU needs {v['workers_needed_per_gpu']} workers ({within} the limit of "
                     f"{gpu['workers_per_gpu_limit']}).")
    grid = result["paper_grid"]
    lines += ["", markdown(grid, rate, f"the paper profile at {PAPER_PAIRS:,} T-FAKE pairs; RGB stages "
                                       f"{grid['assumed']['rgb_faces']}", gpu["rate_from"])]
    return "\n".join(lines)


def plot(result: dict, stem: Path) -> None:
    from thermbench.core.plots import plt, save_figure

    ns = sorted(int(n) for n in result["sizes"])
    sizes = {n: result["sizes"][str(n)] for n in ns}
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")  # the suptitle clears the panel titles
    far = np.array([ns[0], PAPER_PAIRS])
    panels = ((axes[0], "peak RSS (MB)", lambda n, s: sizes[n][s]["peak_rss_mb"], STAGES, ns[-2:]),
              (axes[1], "wall time (s)", lambda n, s: sizes[n][s]["wall_s"], ("prepare", "crops"), ns),
              (axes[2], "disk (MB)", lambda n, s: sizes[n]["disk_mb"][s], ("raw", "prepared", "store"), ns))
    for ax, label, value, names, fitted in panels:  # the dotted lines as `summarize` extrapolates
        for name in names:
            ys = [value(n, name) for n in ns]
            line = ax.plot(ns, ys, "o-", label=name)[0]
            slope, intercept = np.polyfit(fitted, [value(n, name) for n in fitted], 1)
            ax.plot(far, slope * far + intercept, ":", color=line.get_color())
        ax.axvline(PAPER_PAIRS, color="0.6", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("T-FAKE pairs N (grey: the paper's 200,000)")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    axes[0].set_title("memory: dotted from the two largest N")
    axes[1].set_title("time: measured, dotted to the paper")
    axes[2].set_title("disk: measured, dotted to the paper")
    fig.suptitle(f"MLCM-KD data path at growing N (SYNTHETIC T-FAKE-format data, {result['machine']['cpu']})")
    save_figure(fig, stem)


def run(repo: Path, sizes: tuple[int, ...], workers: int, scratch_parent: Path | None) -> dict:
    params = _params(repo)
    scratch = Path(tempfile.mkdtemp(prefix="thermbench-scale-", dir=scratch_parent))
    try:
        measured = {n: measure_size(n, scratch, params, workers) for n in sizes}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result = {"data": "SYNTHETIC T-FAKE-format pairs (jittered copies of synthetic renders)",
              "machine": {"cpu": f"{cpuinfo_model(read_cpuinfo())}, {os.cpu_count()} cores"},
              "settings": {"input_size": INPUT_SIZE, "batch": BATCH, "ktl_steps": STEPS, "arch": ARCH,
                           "loader_workers_in_training": workers, "base_renders": BASE_RENDERS},
              "sizes": {str(n): measured[n] for n in sizes}}
    return cost(repo, result)


def cost(repo: Path, measured: dict) -> dict:
    """`measured` (the data, machine, settings and sizes `run` measured) with what they mean at the paper's size and
    on one GPU at the rate of `speed.grid` (`costed_rate`), written to metrics/scale.json and plots/scale.*."""
    from thermbench.models.rtmpose import complexity

    params = _params(repo)
    listed = GpuRate(**params["speed"]["grid"])
    found, utilisation = costed_rate(listed, repo / "metrics" / "gpu", lambda arch: complexity(arch)["gflops"])
    if found is not None:  # the file as the repository names it, not as this checkout's path does
        found = replace(found, path=Path(found.path).relative_to(repo).as_posix())
    rate, basis = replace(listed, utilisation=utilisation), rate_sentence(listed, found, utilisation)
    keep = ("data", "machine", "settings", "sizes")
    result = {**{k: measured[k] for k in keep},
              **summarize({int(n): z for n, z in measured["sizes"].items()}, rate, basis)}
    result["paper_grid"] = paper_grid(repo, rate)
    write_json(repo / "metrics" / "scale.json", result, ndigits=4)
    plot(result, repo / "plots" / "scale")
    write_text(repo / "plots" / "scale.md", report(result, rate))
    return result


def parse_sizes(text: str) -> tuple[int, ...]:
    """`--sizes 1000,4000,16000` -> (1000, 4000, 16000); anything else is one line."""
    try:
        sizes = tuple(sorted(int(s) for s in text.split(",")))
    except ValueError:
        raise InputError(f"scale: --sizes {text[:40]!r}: expected whole numbers of pairs, comma-separated "
                         "(e.g. 1000,4000,16000)") from None
    if len(sizes) < 2 or sizes[0] < 1:
        raise InputError(f"scale: --sizes {text[:40]!r}: give at least two sizes, each of at least 1 pair")
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="pairs per size, comma-separated")
    parser.add_argument("--workers", type=int, default=1, help="loader workers of the training steps")
    parser.add_argument("--scratch", type=Path, default=None, help="where the sets are written (default: /tmp)")
    parser.add_argument("--costs-only", action="store_true", help="re-cost the sizes metrics/scale.json measured at "
                        "the current GPU rate (after `make gpu-check` or a change of speed.grid), measuring nothing")
    parser.add_argument("--step", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        step = {"prepare": _step_prepare, "crops": _step_crops, "train": _step_train}[args.step]
        args.result.write_text(json.dumps(step(json.loads(args.args))))
        return
    if args.costs_only:
        path = Path.cwd() / "metrics" / "scale.json"
        if not path.is_file():
            raise InputError(f"scale: --costs-only re-costs the sizes {path} measured; it does not exist")
        result = cost(Path.cwd(), json.loads(path.read_text()))
    else:
        result = run(Path.cwd(), parse_sizes(args.sizes), args.workers, args.scratch)
    growth = next(iter(result["rss_growth"].values()))
    loaders = result["gpu"]["loader"]
    print("scale: peak RSS growth " + ", ".join(f"{s} {g:+.1%}" for s, g in growth.items()) + "; one loader worker "
          + ", ".join(f"{m}: {v['images_per_s_per_worker']:.0f} images/s, {v['workers_needed_per_gpu']} per GPU"
                      for m, v in loaders.items()) + "; metrics/scale.json, plots/scale.png")


if __name__ == "__main__":
    run_stage(main)
