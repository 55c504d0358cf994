"""Table II as the paper measures it, and what a deployer asks next: the RTMDet-nano detector and the detector +
pose chain end to end in every runtime and precision (thermbench.speed.runtimes), int8 students, each variant's
accuracy against ONNX Runtime fp32, and the distance to this CPU's limit.

Rows (thermbench.speed.pose_speed times the pose models alone):
- detector: RTMDet-nano at 320x320, seeded or from an mmdet checkpoint (`speed.deploy.detector_checkpoint`; latency
  does not depend on the weight values, its boxes do: a trained one's are compared on ThermEval frames), params/MACs,
  ONNX export + parity, latency alone in every runtime variant and in PyTorch eager, in the same paired rounds (its
  int8 file: `quantize.quantize_detector`), set against what twice the reference pipeline's speed leaves a frame
  (`detector_bound`);
- pipelines: RTMDet-nano + each RTMPose architecture at the paper's input size, one frame end to end
  (thermbench.speed.detect_then_pose) in every runtime variant and PyTorch eager, with keypoint agreement;
- int8 and runtimes: each trained thermal student at its trained size, quantized (thermbench.speed.quantize), timed
  in every variant and scored in every variant on the T-FAKE and CHARLOTTE tests against its fp32 ONNX Runtime
  model; plus the listed architectures at the paper's size with seeded weights (timing only);
- limit: single-thread GEMM GFLOP/s in each runtime's own GEMM by CPU time, each row's achieved GFLOP/s as a
  fraction of it, and thread scaling of one architecture from 1 thread to every core.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from http.client import HTTPException
from pathlib import Path

import numpy as np
import torch

from thermbench import cpuinfo_flags, read_cpuinfo
from thermbench.core.flops import count_gflops
from thermbench.core.io import InputError
from thermbench.core.progress import progress
from thermbench.models.rtmdet import RTMDet, build_rtmdet, load_mmdet_checkpoint
from thermbench.models.rtmpose import RTMPoseConfig, count_parameters
from thermbench.models.run_layout import run_path
from thermbench.models.weights import checkpoint_of, fetch_checkpoint
from thermbench.speed import detect_then_pose, gemm, pose_speed, quantize, runtimes

# MLCM-KD paper, Table II: RTMDet-nano + Ours-<arch> latency in ms on "Low CPU" (Intel Core i7-11700) and
# "High CPU" (Intel Core i9-14900KF), as printed (the text names the processors).
PAPER_PIPELINE_MS = {"t": (16.53, 11.0), "s": (22.18, 14.8), "m": (35.76, 23.8), "l": (50.37, 33.6),
                     "x": (69.61, 46.4)}
EAGER = "torch_eager"  # the key of a model's PyTorch eager timing beside its runtime variants (`measure_variants`)
PAPER_DETECTOR = {"params_m": 0.99, "gmacs": 0.31, "input_size": [320, 320]}


@dataclasses.dataclass(frozen=True)
class DeployConfig:
    """params.yaml `speed.deploy`: the detector, its weights (an mmdet checkpoint, URL or path, downloaded into
    `detector_cache`; None: seeded) and input (W, H); the frames each variant's keypoints and boxes are compared on;
    the architectures timed behind it; int8 settings and the architectures quantized at the paper's size (seeded
    weights, timing only); the GEMM size; the architecture whose thread scaling is measured (1 .. every core)."""

    detector: str
    detector_checkpoint: str | None
    detector_cache: str
    detector_input_size: tuple[int, int]
    agreement_frames: int
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


def detector_weights(model: RTMDet, cfg: DeployConfig) -> str:
    """Load `cfg.detector_checkpoint` into `model`: its file name and sha256 ("seeded" where none is set). One that
    cannot be had (offline) leaves the seeded weights, and one line says so."""
    if cfg.detector_checkpoint is None:
        return "seeded"
    try:  # as backbone checkpoints are fetched (mlcmkd.backbones)
        path = fetch_checkpoint(cfg.detector_checkpoint, Path(cfg.detector_cache))
    except (InputError, ValueError, HTTPException) as err:
        print(f"RTMDet-{cfg.detector}: checkpoint {cfg.detector_checkpoint} not available ({err}); set "
              "speed.deploy.detector_checkpoint to a local copy of it; the detector keeps seeded weights, so its "
              "boxes are not compared", file=sys.stderr)
        return "seeded"
    load_mmdet_checkpoint(model, path)
    return f"{path.name} (sha256 {checkpoint_of(cfg.detector_checkpoint, path).sha256[:12]})"


def detector_row(cfg: DeployConfig, onnx_path: Path, timing: pose_speed.Timing, seed: int) -> tuple[dict, RTMDet]:
    """RTMDet at its input size, with `cfg`'s weights (`detector_weights`), exported to `onnx_path`:
    (params/MACs/parity, the model). It is timed alone by `measure_variants`."""
    torch.manual_seed(seed)
    model = build_rtmdet(cfg.detector, cfg.detector_input_size).eval()
    weights = detector_weights(model, cfg)
    width, height = cfg.detector_input_size
    shape = (1, 3, height, width)
    export = pose_speed.export_onnx(model, onnx_path, shape, timing.opset, model.output_names)
    max_diff = pose_speed.check_onnx_matches_torch(model, onnx_path, shape, timing.atol, timing.rtol, seed)
    gflops = count_gflops(model, shape)
    numbers = {"name": f"RTMDet-{cfg.detector}", "input_size": list(cfg.detector_input_size),
               "params": count_parameters(model), "gflops": gflops, "gmacs": gflops / 2, "weights": weights,
               "onnx_opset": export["opset"], "onnx_max_abs_diff": max_diff,
               "paper_params_m": PAPER_DETECTOR["params_m"], "paper_gmacs": PAPER_DETECTOR["gmacs"]}
    return numbers, model


def detector_frames(cfg: DeployConfig, detector: RTMDet, trained: bool, thermeval: tuple[Path, Path],
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames the pipelines are timed and compared on, frames the int8 detector is calibrated on): a trained
    detector's are ThermEval frames with people, letterboxed (`thermeval`: its prepared and raw folders; test, then
    train split), a seeded one's seeded noise (boxes it draws on people mean nothing)."""
    count, calibration = cfg.agreement_frames, cfg.int8.calibration_crops
    if trained:
        size = tuple(cfg.detector_input_size)
        return (detect_then_pose.person_frames(*thermeval, ("test",), size, count)[0],
                detect_then_pose.person_frames(*thermeval, ("train",), size, calibration)[0])
    return (detect_then_pose.seeded_frames(detector, count, seed),
            detect_then_pose.calibration_frames(detector, calibration, seed))


def pipeline_rows(detector: RTMDet, detector_onnx: Path, detector_int8_onnx: Path, archs: dict[str, RTMPoseConfig],
                  seeded: pose_speed.SeededModels, tfake: Path, int8: quantize.Int8Config, timing: pose_speed.Timing,
                  frames: np.ndarray, seed: int) -> tuple[dict[str, dict], dict[str, dict]]:
    """Detector + each architecture (seeded weights, its pose model also quantized, calibrated on T-FAKE train
    crops at its size) end to end in every runtime variant: ({"RTMDet-nano + RTMPose-t": timing row},
    {same name: keypoint and box agreement with ONNX Runtime fp32})."""
    rows, agreement = {}, {}
    for cfg in progress(list(archs.values()), desc="speed pipelines", unit="model"):
        pose, pose_onnx = seeded.get(cfg)
        pose_int8 = seeded.scratch / f"pipeline-{cfg.arch}.int8.onnx"
        quantize.quantize(pose_onnx, pose_int8, quantize.calibration_images(tfake, cfg.input_size[0],
                                                                            int8.calibration_crops),
                          float_head=int8.float_head)
        name = f"RTMDet-{detector.cfg.name} + RTMPose-{cfg.arch}"
        row, agreement[name] = detect_then_pose.measure_pipeline(detector, pose, detector_onnx, detector_int8_onnx,
                                                                 pose_onnx, pose_int8, timing.warmup, timing.repeats,
                                                                 timing.threads, frames, seed=seed)
        paper_low, paper_high = PAPER_PIPELINE_MS.get(cfg.arch, (None, None))
        rows[name] = {"arch": cfg.arch, "pose_input_size": list(cfg.input_size), **row,
                      "paper_low_cpu_ms": paper_low, "paper_high_cpu_ms": paper_high}
    return rows, agreement


def measure_variants(fp32_onnx: Path, int8_onnx: Path, input_shape: tuple[int, ...], warmup: int, repeats: int,
                     threads: int, capabilities: list[str], seed: int = 0,
                     eager: torch.nn.Module | None = None) -> dict:
    """One model alone in every runtime variant on one seeded input, in shuffled paired rounds: wall and CPU
    medians, paired speed-ups over ONNX Runtime fp32, and what each runtime says about its kernels; a variant the
    CPU cannot run gets its reason. `eager`: the same model in PyTorch, timed in the same rounds at the same thread
    count (under `EAGER`: its wall and CPU medians and speed-up)."""
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(seed)).numpy()
    fns, kernels = {}, {}
    variants, skipped = runtimes.runnable(capabilities)
    for variant in variants:
        try:
            run, kernels[variant.name] = runtimes.runner_with_kernels(variant, fp32_onnx, int8_onnx, threads)
        except RuntimeError as err:
            skipped[variant.name] = runtimes.refused(variant, err)
            continue
        fns[variant.name] = lambda run=run: run(x)
    if eager is not None:
        x_torch = torch.from_numpy(x)
        fns[EAGER] = lambda: eager(x_torch)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            times = runtimes.time_paired(fns, warmup, repeats, seed)
    finally:
        torch.set_num_threads(previous_threads)
    reference = runtimes.REFERENCE.name
    ratios = runtimes.paired_ratios(times, reference)
    timed = {name: {**runtimes.summary(times[name], input_shape[0]), f"speedup_over_{reference}": ratios[name]}
             for name in fns}
    variants = {name: {**timed[name], "kernels": kernels[name]} for name in kernels}
    variants.update(skipped)
    out = {"warmup": warmup, "repeats": repeats, "threads": threads, "batch": input_shape[0],
           "int8_speedup": ratios["onnxruntime-int8"]["cpu"]["median"],
           "variants": {v.name: variants[v.name] for v in runtimes.VARIANTS}}
    if eager is not None:
        out[EAGER] = timed[EAGER]
    return out


def _int8_pair(cfg: RTMPoseConfig, fp32_onnx: Path, int8_onnx: Path, images, int8: quantize.Int8Config,
               timing: pose_speed.Timing, capabilities: list[str]) -> tuple[dict, dict]:
    """Quantize `fp32_onnx`; time every runtime variant at batch 1 in `int8.repeats` paired rounds."""
    shape = pose_speed.batch1_shape(cfg)
    settings = quantize.quantize(fp32_onnx, int8_onnx, images, float_head=int8.float_head)
    ops = quantize.int8_op_counts(int8_onnx)
    latency = measure_variants(fp32_onnx, int8_onnx, shape, timing.warmup, int8.repeats, timing.threads,
                               capabilities)
    return {**settings, **ops}, latency


def runtime_accuracy(cfg: RTMPoseConfig, fp32_onnx: Path, int8_onnx: Path, splits, batch_size: int,
                     capabilities: list[str]) -> tuple[dict, dict]:
    """Every runtime variant scored on the test crops: (ONNX Runtime fp32's NMEs, {variant: its NMEs, their change
    from fp32, and its keypoints' agreement with fp32 (crop px, both tests together)}). Scoring is not timed: every
    core."""
    variants, rows = runtimes.runnable(capabilities)
    preds = {}
    for variant in variants:
        model = quantize.OnnxPose(runtimes.runner(variant, fp32_onnx, int8_onnx, usable_cores()), cfg)
        preds[variant.name] = quantize.predictions(model, splits, batch_size)
    reference = preds[runtimes.REFERENCE.name]
    fp32 = quantize.nme_of(reference, splits)
    for name, pred in preds.items():
        own = quantize.nme_of(pred, splits)
        rows[name] = {**{f"{test}_nme": own[test] for test in own},
                      **{f"{test}_nme_change": own[test] - fp32[test] for test in own},
                      **detect_then_pose.agreement(np.concatenate(pred), np.concatenate(reference))}
    return fp32, {name: rows[name] for name in (v.name for v in runtimes.VARIANTS)}


def int8_student_rows(models_dir: Path, names: list[str], onnx_dir: Path, tfake: Path, charlotte: Path,
                      cfg: quantize.Int8Config, timing: pose_speed.Timing,
                      capabilities: list[str]) -> tuple[dict, dict, dict]:
    """Each student: its fp32 ONNX `onnx_dir/<name>.onnx` (dynamic batch, written by the checkpoint rows) quantized
    to `onnx_dir/<name>.int8.onnx` and `<name>.int8-openvino.onnx`; (numbers with the ONNX Runtime int8 NME change,
    every variant's timing, every variant's accuracy against fp32)."""
    numbers, latencies, accuracy = {}, {}, {}
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
        settings, latencies[name] = _int8_pair(model.cfg, fp32_onnx, int8_onnx, calibration[size], cfg, timing,
                                               capabilities)
        fp32, accuracy[name] = runtime_accuracy(model.cfg, fp32_onnx, int8_onnx, tests[size], cfg.batch_size,
                                                capabilities)
        int8 = {test: accuracy[name]["onnxruntime-int8"][f"{test}_nme"] for test in fp32}
        numbers[name] = {"arch": model.cfg.arch, "input_size": list(model.cfg.input_size), **settings,
                         **quantize.nme_change(fp32, int8, cfg.max_nme_rise), "max_nme_rise": cfg.max_nme_rise}
    return numbers, latencies, accuracy


def int8_architecture_rows(archs: dict[str, RTMPoseConfig], seeded: pose_speed.SeededModels, tfake: Path,
                           cfg: quantize.Int8Config, timing: pose_speed.Timing,
                           capabilities: list[str]) -> tuple[dict, dict]:
    """Architectures at the paper's size with seeded weights, calibrated on train crops at that size: timing only."""
    numbers, latencies = {}, {}
    for name, arch_cfg in progress(list(archs.items()), desc="speed int8 archs", unit="model"):
        images = quantize.calibration_images(tfake, arch_cfg.input_size[0], cfg.calibration_crops)
        model, fp32_onnx = seeded.get(arch_cfg)
        settings, latencies[name] = _int8_pair(arch_cfg, fp32_onnx,
                                               seeded.scratch / f"arch-{arch_cfg.arch}.int8.onnx", images, cfg, timing,
                                               capabilities)
        numbers[name] = {"arch": arch_cfg.arch, "input_size": list(arch_cfg.input_size), "weights": "seeded",
                         "params": count_parameters(model), **settings}
    return numbers, latencies


def limit_rows(gemm_rows: dict, models: dict[str, dict], pipelines: dict[str, dict]) -> dict[str, dict]:
    """Achieved GFLOP/s by CPU time as a fraction of the best run of the GEMM the same runtime and precision use
    (the limit is a peak): models alone (rows holding `gmacs`, `input_size`, `onnxruntime_cpu_ms`) against ONNX
    Runtime's fp32 GEMM; each fp32 / bf16 variant of a pipeline (`gmacs`, `input_size`, `variants`) against its
    own."""
    out = {}
    for name, row in models.items():
        out[name] = {"gmacs": row["gmacs"], "input_size": row["input_size"], "variants": {
            "onnxruntime-fp32": gemm.achieved(row["gmacs"], row["onnxruntime_cpu_ms"],
                                              gemm_rows["onnxruntime-fp32"]["best_gflops_per_s"])}}
    for name, row in pipelines.items():
        timed = {v: row["variants"][v]["cpu_ms"] for v in gemm_rows
                 if "cpu_ms" in row["variants"].get(v, {}) and "best_gflops_per_s" in gemm_rows[v]}
        out[name] = {"gmacs": row["gmacs"], "input_size": row["input_size"], "variants": {
            v: gemm.achieved(row["gmacs"], ms, gemm_rows[v]["best_gflops_per_s"]) for v, ms in timed.items()}}
    return out


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
    have = cpuinfo_flags(read_cpuinfo(cpuinfo))
    return [f for f in INT8_FLAGS if f in have]


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


def _speedup(row: dict) -> str:
    q = row[f"speedup_over_{runtimes.REFERENCE.name}"]["cpu"]
    return f"{q['median']:.2f}× [{q['q1']:.2f}–{q['q3']:.2f}]"


def _timed(row: dict) -> str:
    """CPU ms (fps) | wall ms | paired speed-up, or the reason the variant did not run."""
    if "not_run" in row:
        return f"{row['not_run']} | – | –"
    return f"{row['cpu_ms']:.2f} ({row['cpu_fps']:.1f}) | {row['wall_ms']:.2f} | {_speedup(row)}"


def _agree(row: dict) -> str:
    if "not_run" in row:
        return "– | –"
    return f"{row['mean_px_from_fp32']:.3f} | {100 * row['within_1px_share']:.1f} %"


def _boxes(row: dict) -> str:
    if "box_iou_mean" not in row:
        return "not measured | –" if "reference_box_side_px" in row else "– | –"
    return f"{row['box_iou_mean']:.3f} ({row['box_iou_min']:.3f}) | {row['boxes_missed']}"


def _kernels(row: dict) -> str:
    primitives = row.get("kernels", {}).get("primitives", "–")
    return primitives if isinstance(primitives, str) else ", ".join(f"{k} ×{n}" for k, n in primitives.items())


def detector_bound(name: str, timing: dict) -> str:
    """What the detector leaves of a frame at twice the reference pipeline's speed: half of each pipeline's
    reference CPU time, against the detector alone in its fastest variant (`timing` as `benchmark` returns it)."""
    reference = runtimes.REFERENCE.name
    alone = {v: r for v, r in timing["detector_variants"]["variants"].items() if "cpu_ms" in r}
    fastest = min(alone, key=lambda v: alone[v]["cpu_ms"])
    halves = [f"{pipe} {row['variants'][reference]['cpu_ms'] / 2:.2f} ms" for pipe, row in timing["pipelines"].items()
              if "cpu_ms" in row["variants"][reference]]
    return (f"*Twice {reference}'s speed leaves a frame {', '.join(halves) or 'nothing measured'} of CPU time; "
            f"{name} alone takes {alone[fastest]['cpu_ms']:.2f} ms of it in its fastest variant, {fastest} "
            f"({_speedup(alone[fastest])} over {reference}).*")


def _detector_weights(det: dict) -> str:
    return ("seeded detector weights (speed.deploy.detector_checkpoint: none set, or not available)"
            if det["weights"] == "seeded" else f"detector weights {det['weights']}")


def _compared_frames(det: dict) -> str:
    """What the boxes and keypoints are compared on, and what a seeded detector's boxes allow."""
    if det["weights"] != "seeded":
        return f"ThermEval test frames letterboxed to {_size(det['input_size'])}"
    return (f"seeded frames. Boxes narrower than {detect_then_pose.MIN_BOX_SIDE_PX:.0f} px, as a seeded detector's are "
            "(its box distances are near 0), are not measured: set speed.deploy.detector_checkpoint to trained "
            "weights to measure them. Such a box is cut out as a 1 px square, magnified to the pose input, so the "
            "keypoints' distances in frame pixels are the seeded pose model's own change shrunk by that "
            "magnification")


def markdown(numbers: dict, timing: dict, source_label: str) -> str:
    """The Table II sections this module adds (appended to the speed table): detector + pose in every runtime
    variant, each model alone in every variant with its accuracy, the GEMM limits, thread scaling; `numbers` and
    `timing` as `benchmark` returns them."""
    det, det_t, env = numbers["detector"], timing["detector_variants"], timing["environment"]
    reference = runtimes.REFERENCE.name
    pipe_repeats = next(iter(timing["pipelines"].values()), {"repeats": 0})["repeats"]
    lines = [
        "",
        f"*Detector + pose end to end (the paper's Table II setting; {source_label}): one {_size(det['input_size'])} "
        f"frame → RTMDet-nano → top box → crop → RTMPose → keypoints in frame pixels, batch 1, "
        f"{det_t['threads']} thread(s), {_detector_weights(det)}, seeded pose weights (latency does not depend on "
        "the weight values). The paper's figures are its Table II, measured on another CPU (Low CPU = Intel Core "
        "i7-11700, High CPU = Intel Core i9-14900KF): they are set beside these, never divided by them:*",
        "",
        "| Method | Input (det / pose) | GMACs (det / pose) | Params M (det / pose) "
        "| Paper, another CPU: i7-11700 ms | Paper, another CPU: i9-14900KF ms |",
        "|---|---|---:|---:|---:|---:|",
        f"| {det['name']} alone | {_size(det['input_size'])} | {det['gmacs']:.2f} | {det['params'] / 1e6:.2f} "
        "| – | – |",
    ]
    for name, row in timing["pipelines"].items():
        pose = numbers["pipelines"][name]
        lines.append(
            f"| {name} | {_size(det['input_size'])} / {_size(row['pose_input_size'])} "
            f"| {det['gmacs']:.2f} / {pose['pose_gmacs']:.2f} "
            f"| {det['params'] / 1e6:.2f} / {pose['pose_params'] / 1e6:.2f} "
            f"| {_paper(row['paper_low_cpu_ms'])} | {_paper(row['paper_high_cpu_ms'])} |")
    lines += [
        "",
        f"*Each runtime and precision on this CPU ({env['cpu']}; OpenVINO capabilities "
        f"{', '.join(env['openvino_capabilities'])}; CPU flags {', '.join(env['cpu_int8_flags']) or 'unknown'}), "
        f"{det_t['repeats']} paired rounds in shuffled order for {det['name']} alone, {pipe_repeats} for each "
        "pipeline. CPU ms: median CPU time of this process per frame (fps by it); speed-up: median [quartiles] over "
        f"rounds of {reference}'s CPU time / the row's, both of the same round; an int8 row runs the int8 pose "
        f"(`speed.quantize`) behind the float detector, and its `{detect_then_pose.BOTH}` row behind the int8 "
        "detector too (calibrated on "
        f"{det['int8']['calibration_frames']} frames like the timed ones, its {det['int8']['float_nodes']} output "
        f"convolutions and the box decoding in float). Keypoints: distance from {reference}'s; top box: IoU with "
        f"{reference}'s, missed where below {detect_then_pose.MISSED_BELOW_IOU}; on {numbers['pipeline_frames']} "
        f"{_compared_frames(det)}. The pose model's keypoints, in the fp32 rows, check that every runtime "
        "computes the same chain; in another precision they measure nothing, since the seeded pose model's SimCC "
        "logits are flat and any rounding moves their argmax, so those rows show –. The trained students' rows "
        "below give each precision's keypoint change and accuracy:*",
        "",
        "| Method | Variant | CPU ms (fps) | Wall ms | Speed-up, CPU time | Keypoints: mean px from fp32 "
        "| within 1 px | Box IoU: mean (lowest) | Boxes missed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for variant, v in timing["detector_variants"]["variants"].items():
        lines.append(f"| {det['name']} alone | {variant} | {_timed(v)} | – | – | – | – |")
    eager = det_t[EAGER]
    lines.append(f"| {det['name']} alone | torch-fp32 (eager) | {_timed(eager)} | – | – | – | – |")
    for name, row in timing["pipelines"].items():
        agreement = numbers["pipelines"][name]["agreement"]
        for variant, v in row["variants"].items():
            # seeded pose weights: keypoints check the chain in fp32 only (see the caption)
            agree = _agree(agreement[variant]) if detect_then_pose.pose_precision(variant) == "fp32" else "– | –"
            lines.append(f"| {name} | {variant} | {_timed(v)} | {agree} "
                         f"| {_boxes(agreement[variant])} |")
    lines += ["", detector_bound(det["name"], timing)]

    students, arch8 = numbers["int8_students"], numbers["int8_architectures"]
    any_row = next(iter({**students, **arch8}.values()), None)
    if any_row is not None:
        lines += [
            "",
            f"*Pose models alone, batch 1, every runtime and precision, {timing['int8_repeats']} paired rounds "
            f"(CPU ms and speed-up as above). int8: ONNX Runtime static quantization after `quant_pre_process` "
            f"({any_row['format']}, per-channel {any_row['weight_type']} weights"
            f"{' in 7 bits (reduce_range)' if any_row['reduce_range'] else ''}, {any_row['activation_type']} "
            f"activations, {any_row['calibration']} calibration on {any_row['calibration_crops']} T-FAKE train crops"
            f"{'; the SimCC head after its 7x7 conv kept in float' if any_row['float_head'] else ''}); OpenVINO "
            "runs the same calibration with only the convolutions quantised. NME on the tests (T-FAKE NME-IO, "
            "CHARLOTTE Full NME-diag) and its change from "
            f"{reference} on the same crops; keypoints: distance from {reference}'s in crop px. Kernels: what the "
            "runtime reports for its convolutions and matrix products (OpenVINO's primitive and precision; ONNX "
            "Runtime reports none):*",
            "",
            "| Model | Variant | CPU ms (fps) | Wall ms | Speed-up, CPU time | T-FAKE NME (change) "
            "| CHARLOTTE NME (change) | Mean px from fp32 | Within 1 px | Kernels |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for group, accuracy in (("int8_students", numbers["runtimes"]), ("int8_architectures", {})):
            for name, t in timing[group].items():
                label = name if group == "int8_students" else f"{name}, seeded weights"
                for variant, v in t["variants"].items():
                    a = accuracy.get(name, {}).get(variant, {})
                    nmes = ("– | –" if "tfake_nme" not in a else
                            " | ".join(f"{a[f'{test}_nme']:.4f} ({a[f'{test}_nme_change']:+.4f})"
                                       for test in ("tfake", "charlotte")))
                    agree = _agree(a) if "mean_px_from_fp32" in a else "– | –"
                    lines.append(f"| {label} | {variant} | {_timed(v)} | {nmes} | {agree} | {_kernels(v)} |")
        lines += [
            "",
            "*int8 quantisation: convolutions / matrix products ONNX Runtime runs in int8 after its graph "
            f"optimisation, and the ONNX Runtime int8 NME change; deployable in int8 when neither NME rises by more "
            f"than {numbers['max_nme_rise']}:*",
            "",
            "| Model | Arch | Input | Convs / MatMuls in int8 | T-FAKE NME fp32 → int8 (rise) "
            "| CHARLOTTE Full NME fp32 → int8 (rise) | Deployable in int8 |",
            "|---|---|---|---:|---:|---:|---|",
        ]
        for name, row in students.items():
            lines.append(f"| {name} | RTMPose-{row['arch']} | {_size(row['input_size'])} | {_int8_ops(row)} "
                         f"| {_rise(row, 'tfake')} | {_rise(row, 'charlotte')} "
                         f"| {'yes' if row['deployable_int8'] else 'no'} |")
        for name, row in arch8.items():
            lines.append(f"| {name}, seeded weights | RTMPose-{row['arch']} | {_size(row['input_size'])} "
                         f"| {_int8_ops(row)} | – | – | – |")

    gemms = timing["gemm_limit"]
    lines += [
        "",
        "*Distance to the limit: single-thread n×n GEMM in the GEMM each runtime uses (a one-node ONNX MatMul), by "
        "CPU time, best of the paired rounds (median beside it; wall median for comparison):*",
        "",
        "| GEMM | n | Best GFLOP/s (CPU time) | Median GFLOP/s (CPU time) | Median GFLOP/s (wall) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in gemms.items():
        lines.append(f"| {name} | – | {row['not_run']} | – | – |" if "not_run" in row else
                     f"| {name} | {row['n']} | {row['best_gflops_per_s']:.1f} | {row['gflops_per_s']:.1f} "
                     f"| {row['wall_gflops_per_s']:.1f} |")
    lines += [
        "",
        "*Achieved = 2 × GMACs / median CPU time, batch 1, as a fraction of the best run of the same runtime's GEMM "
        "at the same precision; a pipeline counts detector + pose MACs over its whole frame (pre-processing, crop "
        "and decoding included):*",
        "",
        "| Model | Input | GMACs | Variant | GFLOP/s (of GEMM) |",
        "|---|---|---:|---|---:|",
    ]
    for name, row in timing["limit"].items():
        for variant, v in row["variants"].items():
            lines.append(f"| {name} | {_size(row['input_size'])} | {row['gmacs']:.2f} | {variant} "
                         f"| {v['gflops_per_s']:.1f} ({100 * v['fraction_of_gemm']:.0f} %) |")
    scaling = timing["thread_scaling"]
    lines += [
        "",
        f"*Thread scaling of {scaling['name']} at {_size(scaling['input_size'])} (seeded weights), 1 to "
        f"{len(scaling['rows'])} thread(s) = every core of this machine, ONNX Runtime without spinning:*",
        "",
        "| Threads | ONNX Runtime wall ms (speed-up) | PyTorch eager wall ms (speed-up) |",
        "|---:|---:|---:|",
    ]
    for row in scaling["rows"]:
        lines.append(f"| {row['threads']} | {row['onnxruntime_ms']:.2f} ({row['onnxruntime_speedup']:.2f}×) "
                     f"| {row['torch_ms']:.2f} ({row['torch_speedup']:.2f}×) |")
    lines += ["", "Times depend on the machine and on its load. CPU time is what other jobs on shared cores stretch "
              "least; wall time beside it shows the load. Compare ratios paired within one run, not numbers across "
              "runs or machines."]
    return "\n".join(lines) + "\n"


def benchmark(cfg: DeployConfig, input_size: list[int], arch_rows: dict[str, dict], models_dir: Path,
              checkpoints: list[str], onnx_dir: Path, tfake: Path, charlotte: Path, thermeval: tuple[Path, Path],
              seeded: pose_speed.SeededModels, timing: pose_speed.Timing, seed: int) -> tuple[dict, dict]:
    """Every row of this module: (numbers, timings). `input_size`: the paper's pose input (W, H); `arch_rows`:
    speed's architecture rows (complexity + latency) by name, for the limit table; `checkpoints`: the runs whose
    fp32 ONNX is in `onnx_dir` (the thermal ones get int8 and runtime rows); `thermeval`: the prepared and raw
    ThermEval folders a trained detector's boxes are compared on; `seeded`: the seeded pose networks the
    architecture rows timed. The detector ONNX and each student's int8 ONNX are written to `onnx_dir`, everything
    else to `seeded.scratch`."""
    capabilities = runtimes.openvino_capabilities()
    gemm_rows = gemm.gemm_throughput(cfg.gemm_size, seeded.scratch, timing.warmup, timing.repeats, capabilities,
                                     threads=1, seed=seed)
    det_onnx = onnx_dir / f"rtmdet-{cfg.detector}.onnx"
    det_numbers, detector = detector_row(cfg, det_onnx, timing, seed)
    frames, calibration = detector_frames(cfg, detector, det_numbers["weights"] != "seeded", thermeval, seed)
    det_int8 = onnx_dir / f"rtmdet-{cfg.detector}.int8.onnx"
    det_numbers["int8"] = quantize.quantize_detector(det_onnx, det_int8, calibration)
    width, height = cfg.detector_input_size
    det_variants = measure_variants(det_onnx, det_int8, (1, 3, height, width), timing.warmup, cfg.int8.repeats,
                                    timing.threads, capabilities, seed, eager=detector)
    pipe_archs = pose_speed.architecture_configs(list(cfg.pipeline_architectures), input_size)
    pipelines, agreement = pipeline_rows(detector, det_onnx, det_int8, pipe_archs, seeded, tfake, cfg.int8, timing,
                                         frames, seed)
    pipe_numbers = {}
    for (name, row), arch_cfg in zip(pipelines.items(), pipe_archs.values()):
        pose = pose_speed.complexity(arch_cfg)
        pipe_numbers[name] = {"arch": row["arch"], "pose_params": pose["params"], "pose_gmacs": pose["gmacs"],
                              "detector_params": det_numbers["params"], "detector_gmacs": det_numbers["gmacs"],
                              "gmacs": pose["gmacs"] + det_numbers["gmacs"],
                              "agreement": agreement[name]["variants"]}
    students, student_latency, accuracy = int8_student_rows(
        models_dir, thermal_students(models_dir, checkpoints), onnx_dir, tfake, charlotte, cfg.int8, timing,
        capabilities)
    archs8, arch8_latency = {}, {}
    if cfg.int8_architectures:
        int8_archs = pose_speed.architecture_configs(list(cfg.int8_architectures), input_size)
        archs8, arch8_latency = int8_architecture_rows(int8_archs, seeded, tfake, cfg.int8, timing, capabilities)
    scaling_cfg = next(iter(pose_speed.architecture_configs([cfg.scaling_architecture], input_size).items()))
    det_alone = {**det_numbers, "onnxruntime_cpu_ms": det_variants["variants"][runtimes.REFERENCE.name]["cpu_ms"]}
    limit = limit_rows(gemm_rows, {det_numbers["name"]: det_alone, **arch_rows},
                       {n: {**pipelines[n], "gmacs": pipe_numbers[n]["gmacs"],
                            "input_size": pipelines[n]["pose_input_size"]} for n in pipelines})
    numbers = {"detector": det_numbers, "pipelines": pipe_numbers,
               "pipeline_frames": next(iter(agreement.values()))["frames"] if agreement else 0,
               "int8_students": students, "runtimes": accuracy, "int8_architectures": archs8,
               "max_nme_rise": cfg.int8.max_nme_rise}
    timings = {"environment": {"cpu_int8_flags": cpu_int8_flags(), "openvino_capabilities": capabilities,
                               "threads": timing.threads},
               "int8_repeats": cfg.int8.repeats,
               "gemm_limit": gemm_rows, "detector_variants": det_variants,
               "pipelines": pipelines,
               "int8_students": student_latency, "int8_architectures": arch8_latency, "limit": limit,
               "thread_scaling": {"name": scaling_cfg[0], "input_size": list(scaling_cfg[1].input_size),
                                  "rows": scaling_rows(scaling_cfg[1], seeded, timing)}}
    return numbers, timings


def figure_series(numbers: dict, timing: dict) -> list[dict]:
    """Fig. 4's added lines: detector + pose end to end, one line per runtime variant that ran, frames per second
    by CPU time, each point at the pose model's parameter count (the paper plots its detector + pose rows against
    the pose model's size)."""
    pipes = list(numbers["pipelines"])
    if not pipes:
        return []
    detector = numbers["detector"]["name"]
    markers = dict(zip(detect_then_pose.row_names(), "^v*<>Dpx"))
    series = []
    for variant in timing["pipelines"][pipes[0]]["variants"]:
        ran = [n for n in pipes if "cpu_fps" in timing["pipelines"][n]["variants"][variant]]
        if ran:
            series.append({"label": f"{detector} + pose, {variant} (CPU time)", "marker": markers[variant],
                           "params_m": [numbers["pipelines"][n]["pose_params"] / 1e6 for n in ran],
                           "fps": [timing["pipelines"][n]["variants"][variant]["cpu_fps"] for n in ran]})
    return series
