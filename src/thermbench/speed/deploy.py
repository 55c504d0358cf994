"""Table II as the paper measures it, and what a deployer asks next: the RTMDet-nano detector and the detector +
pose chain end to end, int8 students (speed-up and NME change), and the distance to this CPU's fp32 limit.

Rows (thermbench.speed.pose_speed times the pose models alone):
- detector: RTMDet-nano at 320x320 with seeded weights (no official face checkpoint is used offline; latency does not
  depend on the weight values), params/MACs, ONNX export + parity, latency in ONNX Runtime and PyTorch eager;
- pipelines: RTMDet-nano + each RTMPose architecture at the paper's input size, one frame end to end
  (thermbench.speed.detect_then_pose), both runtimes;
- int8: each trained thermal student at its trained size, quantized (thermbench.speed.quantize) and scored on the
  T-FAKE and CHARLOTTE tests against its own fp32 ONNX model, and timed against it; plus the listed architectures
  at the paper's size with seeded weights (timing only: their outputs mean nothing);
- limit: single-thread fp32 GEMM GFLOP/s, each fp32 row's achieved GFLOP/s as a fraction of it, and thread scaling
  of one architecture from 1 thread to every core.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
from pathlib import Path

import torch

from thermbench.core.flops import count_gflops
from thermbench.core.io import InputError
from thermbench.core.onnx_session import cpu_session
from thermbench.core.progress import progress
from thermbench.models.rtmdet import RTMDet, build_rtmdet
from thermbench.models.rtmpose import RTMPoseConfig, count_parameters
from thermbench.models.run_layout import run_path
from thermbench.speed import detect_then_pose, gemm, pose_speed, quantize

# MLCM-KD paper, Table II: RTMDet-nano + Ours-<arch> latency in ms on "Low CPU" (Intel Core i7-11700) and
# "High CPU" (Intel Core i9-14900KF), as printed (the text names the processors).
PAPER_PIPELINE_MS = {"t": (16.53, 11.0), "s": (22.18, 14.8), "m": (35.76, 23.8), "l": (50.37, 33.6),
                     "x": (69.61, 46.4)}
PAPER_DETECTOR = {"params_m": 0.99, "gmacs": 0.31, "input_size": [320, 320]}


@dataclasses.dataclass(frozen=True)
class DeployConfig:
    """params.yaml `speed.deploy`: the detector and its input (W, H); the architectures timed behind it; int8
    settings and the architectures quantized at the paper's size (seeded weights, timing only); the GEMM size; the
    architecture whose thread scaling is measured (1 .. every core)."""

    detector: str
    detector_input_size: tuple[int, int]
    pipeline_architectures: tuple[str, ...]
    int8: quantize.Int8Config
    int8_architectures: tuple[str, ...]
    gemm_size: int
    scaling_architecture: str


def thermal_students(models_dir: Path, names: list[str]) -> list[str]:
    """Those of `names` (runs under `models_dir`) trained on thermal input (`config.json` modality "thermal"): the
    students; the RGB teacher is not one. A run without a config.json is left out."""
    students = []
    for name in names:
        config = run_path(models_dir, name) / "config.json"
        if not config.is_file():
            continue
        try:
            modality = json.loads(config.read_text()).get("modality")
        except json.JSONDecodeError as err:
            raise InputError(f"{config}: not valid JSON ({err})") from None
        if modality == "thermal":
            students.append(name)
    return students


def detector_row(cfg: DeployConfig, onnx_path: Path, timing: pose_speed.Timing, seed: int) -> tuple[dict, dict, RTMDet]:
    """RTMDet at its input size with seeded weights: (params/MACs/parity, latency, the model)."""
    torch.manual_seed(seed)
    model = build_rtmdet(cfg.detector, cfg.detector_input_size).eval()
    width, height = cfg.detector_input_size
    shape = (1, 3, height, width)
    export = pose_speed.export_onnx(model, onnx_path, shape, timing.opset, model.output_names)
    max_diff = pose_speed.check_onnx_matches_torch(model, onnx_path, shape, timing.atol, timing.rtol, seed)
    gflops = count_gflops(model, shape)
    numbers = {"name": f"RTMDet-{cfg.detector}", "input_size": list(cfg.detector_input_size),
               "params": count_parameters(model), "gflops": gflops, "gmacs": gflops / 2, "weights": "seeded",
               "onnx_opset": export["opset"], "onnx_max_abs_diff": max_diff,
               "paper_params_m": PAPER_DETECTOR["params_m"], "paper_gmacs": PAPER_DETECTOR["gmacs"]}
    latency = pose_speed.measure_latency(model, onnx_path, shape, timing.warmup, timing.repeats, timing.threads)
    return numbers, latency, model


def pipeline_rows(detector: RTMDet, detector_onnx: Path, archs: dict[str, RTMPoseConfig],
                  seeded: pose_speed.SeededModels, timing: pose_speed.Timing, seed: int) -> dict[str, dict]:
    """Detector + each architecture (seeded weights) end to end: {"RTMDet-nano + RTMPose-t": latency row}."""
    rows = {}
    for cfg in progress(list(archs.values()), desc="speed pipelines", unit="model"):
        pose, pose_onnx = seeded.get(cfg)
        row = detect_then_pose.measure_pipeline(detector, pose, detector_onnx, pose_onnx, timing.warmup, timing.repeats,
                                        timing.threads, seed)
        paper_low, paper_high = PAPER_PIPELINE_MS.get(cfg.arch, (None, None))
        rows[f"RTMDet-{detector.cfg.name} + RTMPose-{cfg.arch}"] = {
            "arch": cfg.arch, "pose_input_size": list(cfg.input_size), **row,
            "paper_low_cpu_ms": paper_low, "paper_high_cpu_ms": paper_high}
    return rows


def measure_onnx_pair(fp32_onnx: Path, int8_onnx: Path, input_shape: tuple[int, ...], warmup: int, repeats: int,
                      threads: int, seed: int = 0) -> dict:
    """Median ms and fps of the fp32 and the int8 model in ONNX Runtime on one seeded input, interleaved, and the
    int8 speed-up (fp32 median / int8 median)."""
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(seed)).numpy()
    sessions = {"fp32": cpu_session(fp32_onnx, threads), "int8": cpu_session(int8_onnx, threads)}
    runs = {k: (lambda s=s: s.run(None, {pose_speed.INPUT_NAME: x})) for k, s in sessions.items()}
    times = pose_speed.time_interleaved(runs, warmup, repeats)
    result = {"warmup": warmup, "repeats": repeats, "threads": threads, "batch": input_shape[0]}
    for name, ms in times.items():
        result[f"{name}_ms"], result[f"{name}_min_ms"] = statistics.median(ms), min(ms)
        result[f"{name}_fps"] = 1e3 * input_shape[0] / statistics.median(ms)
    result["int8_speedup"] = result["fp32_ms"] / result["int8_ms"]
    # Load from other processes only adds time: the ratio of the fastest runs is the steadier one on a shared machine.
    result["int8_speedup_best"] = result["fp32_min_ms"] / result["int8_min_ms"]
    return result


def _int8_pair(cfg: RTMPoseConfig, fp32_onnx: Path, int8_onnx: Path, images, int8: quantize.Int8Config,
               timing: pose_speed.Timing) -> tuple[dict, dict]:
    """Quantize `fp32_onnx`; time fp32 against int8 ONNX Runtime at batch 1, interleaved, `int8.repeats` runs."""
    shape = pose_speed.batch1_shape(cfg)
    settings = quantize.quantize(fp32_onnx, int8_onnx, images, float_head=int8.float_head)
    ops = quantize.int8_op_counts(int8_onnx)
    latency = measure_onnx_pair(fp32_onnx, int8_onnx, shape, timing.warmup, int8.repeats, timing.threads)
    return {**settings, **ops}, latency


def int8_student_rows(models_dir: Path, names: list[str], onnx_dir: Path, tfake: Path, charlotte: Path,
                      cfg: quantize.Int8Config, timing: pose_speed.Timing) -> tuple[dict, dict]:
    """Each student: its fp32 ONNX `onnx_dir/<name>.onnx` (dynamic batch, written by the checkpoint rows) quantized
    to `onnx_dir/<name>.int8.onnx`; (numbers with the NME change, fp32/int8 latency)."""
    numbers, latencies = {}, {}
    calibration, tests = {}, {}  # per input size: loaded once
    for name in progress(names, desc="speed int8", unit="model"):
        model = pose_speed.load_checkpoint(models_dir, name)
        size = model.cfg.input_size[0]
        if size not in calibration:
            calibration[size] = quantize.calibration_images(tfake, size, cfg.calibration_crops)
            tests[size] = quantize.load_test_splits(tfake, charlotte, size)
        fp32_onnx, int8_onnx = onnx_dir / f"{name}.onnx", onnx_dir / f"{name}.int8.onnx"
        if not fp32_onnx.is_file():
            raise InputError(f"{fp32_onnx}: fp32 ONNX model of {name} not found (the checkpoint rows write it)")
        settings, latencies[name] = _int8_pair(model.cfg, fp32_onnx, int8_onnx, calibration[size], cfg, timing)
        # Scoring is not timed: every core (ONNX Runtime splits a batch's work by output, not the sums within it).
        scores = {kind: quantize.nme(quantize.OnnxPose(path, model.cfg, usable_cores()), tests[size], cfg.batch_size)
                  for kind, path in (("fp32", fp32_onnx), ("int8", int8_onnx))}
        numbers[name] = {"arch": model.cfg.arch, "input_size": list(model.cfg.input_size), **settings,
                         **quantize.nme_change(scores["fp32"], scores["int8"], cfg.max_nme_rise),
                         "max_nme_rise": cfg.max_nme_rise}
    return numbers, latencies


def int8_architecture_rows(archs: dict[str, RTMPoseConfig], seeded: pose_speed.SeededModels, tfake: Path,
                           cfg: quantize.Int8Config, timing: pose_speed.Timing) -> tuple[dict, dict]:
    """Architectures at the paper's size with seeded weights, calibrated on train crops at that size: timing only."""
    numbers, latencies = {}, {}
    for name, arch_cfg in progress(list(archs.items()), desc="speed int8 archs", unit="model"):
        images = quantize.calibration_images(tfake, arch_cfg.input_size[0], cfg.calibration_crops)
        model, fp32_onnx = seeded.get(arch_cfg)
        settings, latencies[name] = _int8_pair(arch_cfg, fp32_onnx,
                                               seeded.scratch / f"arch-{arch_cfg.arch}.int8.onnx", images, cfg, timing)
        numbers[name] = {"arch": arch_cfg.arch, "input_size": list(arch_cfg.input_size), "weights": "seeded",
                         "params": count_parameters(model), **settings}
    return numbers, latencies


def limit_rows(gemm_row: dict, rows: dict[str, dict]) -> dict[str, dict]:
    """For rows holding `gmacs`, `input_size` and `<runtime>_ms`: achieved GFLOP/s and fraction of the GEMM limit,
    the GEMM's best run (the limit is a peak, and load from other processes only lowers it)."""
    limit = gemm_row["best_gflops_per_s"]
    return {name: {"gmacs": row["gmacs"], "input_size": row["input_size"],
                   **{f"{runtime}_{k}": v for runtime in ("onnxruntime", "torch")
                      for k, v in gemm.achieved(row["gmacs"], row[f"{runtime}_ms"], limit).items()}}
            for name, row in rows.items()}


def scaling_rows(arch_cfg: RTMPoseConfig, seeded: pose_speed.SeededModels, timing: pose_speed.Timing) -> list[dict]:
    """Thread scaling of one architecture (seeded weights) from 1 thread to every core of this machine."""
    model, onnx_path = seeded.get(arch_cfg)
    return gemm.thread_scaling(model, onnx_path, pose_speed.batch1_shape(arch_cfg), usable_cores(), timing.warmup,
                               timing.repeats)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, which a container may narrow), else the machine's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


INT8_FLAGS = ("avx2", "avx_vnni", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8", "amx_bf16")


def cpu_int8_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> list[str]:
    """The CPU's flags that decide ONNX Runtime's int8 GEMM kernel (MLAS picks one at run time from CPUID:
    AVX2, AVX-VNNI, AVX512-VNNI or AMX u8s8 kernels); [] where there is no cpuinfo."""
    path = Path(cpuinfo)
    if not path.is_file():
        return []
    for line in path.read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [f for f in INT8_FLAGS if f in flags]
    return []


def _ms_fps(row: dict, runtime: str) -> str:
    return f"{row[f'{runtime}_ms']:.2f} ({row[f'{runtime}_fps']:.1f})"


def _size(input_size: list[int]) -> str:
    width, height = input_size
    return f"{height}×{width}"


def _paper(ms: float | None) -> str:
    return "–" if ms is None else f"{ms:.2f}"


def _rise(row: dict, test: str) -> str:
    return (f"{row[f'{test}_nme_fp32']:.4f} → {row[f'{test}_nme_int8']:.4f} "
            f"({row[f'{test}_nme_rise']:+.4f})")


def _int8_ops(row: dict) -> str:
    return (f"{row['int8_conv']}/{row['int8_conv'] + row['float_conv']} / "
            f"{row['int8_matmul']}/{row['int8_matmul'] + row['float_matmul']}")


def markdown(numbers: dict, timing: dict, source_label: str) -> str:
    """The Table II sections this module adds (appended to the speed table): detector + pose, int8, the limit;
    `numbers` and `timing` as `benchmark` returns them."""
    det, det_t = numbers["detector"], timing["detector"]
    lines = [
        "",
        f"*Detector + pose end to end (the paper's Table II setting; {source_label}): one {_size(det['input_size'])} "
        f"frame → RTMDet-nano → top box → crop → RTMPose → keypoints in frame pixels, batch 1, "
        f"{det_t['threads']} thread(s), seeded weights (no detector checkpoint offline; latency does not depend on "
        "the weight values). The paper's columns are its Table II (Low CPU = Intel Core i7-11700, "
        "High CPU = Intel Core i9-14900KF), on other machines:*",
        "",
        "| Method | Input (det / pose) | GFLOPs (det / pose) | Params M (det / pose) | ONNX Runtime ms (fps) "
        "| PyTorch eager ms (fps) | Paper Low CPU ms | Paper High CPU ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        f"| {det['name']} alone | {_size(det['input_size'])} | {det['gmacs']:.2f} | {det['params'] / 1e6:.2f} "
        f"| {_ms_fps(det_t, 'onnxruntime')} | {_ms_fps(det_t, 'torch')} | – | – |",
    ]
    for name, row in timing["pipelines"].items():
        pose = numbers["pipelines"][name]
        lines.append(
            f"| {name} | {_size(det['input_size'])} / {_size(row['pose_input_size'])} "
            f"| {det['gmacs']:.2f} / {pose['pose_gmacs']:.2f} "
            f"| {det['params'] / 1e6:.2f} / {pose['pose_params'] / 1e6:.2f} "
            f"| {_ms_fps(row, 'onnxruntime')} | {_ms_fps(row, 'torch')} | {_paper(row['paper_low_cpu_ms'])} "
            f"| {_paper(row['paper_high_cpu_ms'])} |")
    lines.append(f"\nRTMDet-nano counted here: {det['params'] / 1e6:.3f} M parameters, {det['gmacs']:.3f} GMACs at "
                 f"{_size(det['input_size'])} (paper: {det['paper_params_m']} M, {det['paper_gmacs']} GFLOPs, "
                 f"which are MACs); ONNX vs PyTorch max abs diff {det['onnx_max_abs_diff']:.1e}.")

    students, arch8 = numbers["int8_students"], numbers["int8_architectures"]
    any_row = next(iter({**students, **arch8}.values()), None)
    if any_row is not None:
        lines += [
            "",
            f"*int8 students: ONNX Runtime static quantization ({any_row['format']}, per-channel "
            f"{any_row['weight_type']} weights, {any_row['activation_type']} activations, {any_row['calibration']} "
            f"calibration on {any_row['calibration_crops']} T-FAKE train crops"
            f"{'; the SimCC head after its 7x7 conv kept in float' if any_row['float_head'] else ''}), "
            "timed against the same model's fp32 "
            f"ONNX (batch 1, interleaved, median of {timing['int8_repeats']}). NME change on the tests against "
            "that fp32 model; deployable in int8 when "
            f"neither NME rises by more than {numbers['max_nme_rise']}. CPU int8 flags: "
            f"{', '.join(timing['environment']['cpu_int8_flags']) or 'unknown'}:*",
            "",
            "| Student | Arch | Input | fp32 ms | int8 ms | int8 speed-up (of fastest runs) "
            "| T-FAKE NME fp32 → int8 (rise) "
            "| CHARLOTTE Full NME fp32 → int8 (rise) | Deployable in int8 | Convs / MatMuls in int8 |",
            "|---|---|---|---:|---:|---:|---:|---:|---|---:|",
        ]
        for name, row in students.items():
            t = timing["int8_students"][name]
            lines.append(
                f"| {name} | RTMPose-{row['arch']} | {_size(row['input_size'])} | {t['fp32_ms']:.2f} "
                f"| {t['int8_ms']:.2f} | {t['int8_speedup']:.2f}× ({t['int8_speedup_best']:.2f}×) "
                f"| {_rise(row, 'tfake')} | {_rise(row, 'charlotte')} "
                f"| {'yes' if row['deployable_int8'] else 'no'} | {_int8_ops(row)} |")
        for name, row in arch8.items():
            t = timing["int8_architectures"][name]
            lines.append(
                f"| {name}, seeded weights | RTMPose-{row['arch']} | {_size(row['input_size'])} "
                f"| {t['fp32_ms']:.2f} | {t['int8_ms']:.2f} | {t['int8_speedup']:.2f}× ({t['int8_speedup_best']:.2f}×) "
                f"| – | – | – | {_int8_ops(row)} |")

    limit = timing["gemm_limit"]
    lines += [
        "",
        f"*Distance to the limit: single-thread fp32 GEMM (PyTorch, {limit['n']}×{limit['n']} matrices) "
        f"{limit['best_gflops_per_s']:.1f} GFLOP/s, the best of {limit['repeats']} runs (median "
        f"{limit['gflops_per_s']:.1f}). Achieved = 2 × GMACs / median latency, batch 1, fp32, as a fraction of that "
        "best; a pipeline counts detector + pose MACs over its "
        "whole frame time (pre-processing, crop and decoding included):*",
        "",
        "| Model | Input | GMACs | ONNX Runtime GFLOP/s (of GEMM) | PyTorch eager GFLOP/s (of GEMM) |",
        "|---|---|---:|---:|---:|",
    ]
    for name, row in timing["limit"].items():
        lines.append(f"| {name} | {_size(row['input_size'])} | {row['gmacs']:.2f} "
                     f"| {row['onnxruntime_gflops_per_s']:.1f} ({100 * row['onnxruntime_fraction_of_gemm']:.0f} %) "
                     f"| {row['torch_gflops_per_s']:.1f} ({100 * row['torch_fraction_of_gemm']:.0f} %) |")
    scaling = timing["thread_scaling"]
    lines += [
        "",
        f"*Thread scaling of {scaling['name']} at {_size(scaling['input_size'])} (seeded weights), 1 to "
        f"{len(scaling['rows'])} thread(s) = every core of this machine:*",
        "",
        "| Threads | ONNX Runtime ms (speed-up) | PyTorch eager ms (speed-up) |",
        "|---:|---:|---:|",
    ]
    for row in scaling["rows"]:
        lines.append(f"| {row['threads']} | {row['onnxruntime_ms']:.2f} ({row['onnxruntime_speedup']:.2f}×) "
                     f"| {row['torch_ms']:.2f} ({row['torch_speedup']:.2f}×) |")
    lines += ["", "Wall-clock numbers depend on the machine and on its load: measured beside other jobs on shared "
              "cores they are noisy (compare ratios measured in one interleaved run, not numbers across runs)."]
    return "\n".join(lines) + "\n"


def benchmark(cfg: DeployConfig, input_size: list[int], arch_rows: dict[str, dict], models_dir: Path,
              checkpoints: list[str], onnx_dir: Path, tfake: Path, charlotte: Path, seeded: pose_speed.SeededModels,
              timing: pose_speed.Timing, seed: int) -> tuple[dict, dict]:
    """Every row of this module: (deterministic numbers, timings). `input_size`: the paper's pose input (W, H);
    `arch_rows`: speed's architecture rows (complexity + latency) by name, for the limit table; `checkpoints`: the
    runs whose fp32 ONNX is in `onnx_dir` (the thermal ones get int8 rows); `seeded`: the seeded pose networks the
    architecture rows timed. The detector ONNX and each student's int8 ONNX are written to `onnx_dir`, everything
    else to `seeded.scratch`."""
    gemm_row = gemm.gemm_throughput(cfg.gemm_size, timing.warmup, timing.repeats, threads=1, seed=seed)
    det_onnx = onnx_dir / f"rtmdet-{cfg.detector}.onnx"
    det_numbers, det_latency, detector = detector_row(cfg, det_onnx, timing, seed)
    pipe_archs = pose_speed.architecture_configs(list(cfg.pipeline_architectures), input_size)
    pipelines = pipeline_rows(detector, det_onnx, pipe_archs, seeded, timing, seed)
    pipe_numbers = {}
    for (name, row), arch_cfg in zip(pipelines.items(), pipe_archs.values()):
        pose = pose_speed.complexity(arch_cfg)
        pipe_numbers[name] = {"arch": row["arch"], "pose_params": pose["params"], "pose_gmacs": pose["gmacs"],
                              "detector_params": det_numbers["params"], "detector_gmacs": det_numbers["gmacs"],
                              "gmacs": pose["gmacs"] + det_numbers["gmacs"]}
    students, student_latency = int8_student_rows(models_dir, thermal_students(models_dir, checkpoints), onnx_dir,
                                                  tfake, charlotte, cfg.int8, timing)
    archs8, arch8_latency = {}, {}
    if cfg.int8_architectures:
        int8_archs = pose_speed.architecture_configs(list(cfg.int8_architectures), input_size)
        archs8, arch8_latency = int8_architecture_rows(int8_archs, seeded, tfake, cfg.int8, timing)
    scaling_cfg = next(iter(pose_speed.architecture_configs([cfg.scaling_architecture], input_size).items()))
    limit = limit_rows(gemm_row, {det_numbers["name"]: {**det_numbers, **det_latency}, **arch_rows,
                                  **{n: {**pipelines[n], "gmacs": pipe_numbers[n]["gmacs"],
                                         "input_size": pipelines[n]["pose_input_size"]} for n in pipelines}})
    numbers = {"detector": det_numbers, "pipelines": pipe_numbers, "int8_students": students,
               "int8_architectures": archs8, "max_nme_rise": cfg.int8.max_nme_rise}
    timings = {"environment": {"cpu_int8_flags": cpu_int8_flags(), "threads": timing.threads},
               "int8_repeats": cfg.int8.repeats,
               "gemm_limit": gemm_row, "detector": det_latency, "pipelines": pipelines,
               "int8_students": student_latency, "int8_architectures": arch8_latency, "limit": limit,
               "thread_scaling": {"name": scaling_cfg[0], "input_size": list(scaling_cfg[1].input_size),
                                  "rows": scaling_rows(scaling_cfg[1], seeded, timing)}}
    return numbers, timings


def figure_series(numbers: dict, timing: dict) -> list[dict]:
    """Fig. 4's added lines: detector + pose end to end in both runtimes and int8 ONNX Runtime, each point at the
    pose model's parameter count (the paper plots its detector + pose rows against the pose model's size)."""
    pipes = list(numbers["pipelines"])
    params = [numbers["pipelines"][n]["pose_params"] / 1e6 for n in pipes]
    detector = numbers["detector"]["name"]
    series = [{"label": f"{detector} + pose, ONNX Runtime", "marker": "^", "params_m": params,
               "fps": [timing["pipelines"][n]["onnxruntime_fps"] for n in pipes]},
              {"label": f"{detector} + pose, PyTorch eager", "marker": "v", "params_m": params,
               "fps": [timing["pipelines"][n]["torch_fps"] for n in pipes]}]
    archs8 = list(numbers["int8_architectures"])
    if archs8:
        params8 = [numbers["int8_architectures"][n]["params"] / 1e6 for n in archs8]
        series.append({"label": "int8 ONNX Runtime (pose alone)", "marker": "D", "params_m": params8,
                       "fps": [timing["int8_architectures"][n]["int8_fps"] for n in archs8]})
    return series
