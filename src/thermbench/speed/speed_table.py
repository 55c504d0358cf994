"""Stage speed (paper Table II, Fig. 4): the pose models alone (thermbench.speed.pose_speed), and the detector, the
detector + pose chain in every runtime and precision (ONNX Runtime and OpenVINO; fp32, bf16, int8), the int8
students with each variant's accuracy, and the distance to the CPU's limit (thermbench.speed.deploy).

Deterministic numbers (params, MACs, ONNX parity, int8 NME changes) go to the metrics files; wall-clock numbers,
which depend on the machine and its load, to the timing files (never gated by the regression).
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import torch

from thermbench.core.io import InputError, atomic_dir, write_json, write_text
from thermbench.core.plots import data_label, save_figure
from thermbench.core.progress import progress
from thermbench.datasets.crop_store import load_splits
from thermbench.models.rtmpose import complexity
from thermbench.speed import deploy, pose_speed
from thermbench.speed.grid_compute import (
    GpuRate,
    costed_rate,
    expected_share,
    grid_compute,
    grid_runs,
    markdown,
    rate_sentence,
)

# the test sets of the int8 NME change and the grid's images per epoch; the frames a trained detector is compared on
MEASURED_ON = ("tfake", "charlotte", "thermeval")


@dataclasses.dataclass(frozen=True)
class SpeedConfig(pose_speed.Timing):
    """params.yaml `speed`: the timing and ONNX settings every row shares (`pose_speed.Timing`'s fields), and
    `models`: names under the models directory ([] = every RTMPose checkpoint there); `architectures`: RTMPose sizes
    timed at `input_size` (W, H) with seeded weights; `grid`: the GPU the training grid's compute is stated for;
    `deploy`: detector, int8 and limit rows."""

    models: tuple[str, ...]
    architectures: tuple[str, ...]
    input_size: tuple[int, int]
    grid: GpuRate
    deploy: deploy.DeployConfig

    @property
    def timing(self) -> pose_speed.Timing:
        return pose_speed.Timing(**{f.name: getattr(self, f.name) for f in dataclasses.fields(pose_speed.Timing)})


@dataclasses.dataclass(frozen=True)
class Outputs:
    """Where the stage writes: ONNX models, metrics and timing files (pose alone; deploy rows), table, figure, and
    the training grid's compute (a table)."""

    onnx_dir: Path
    metrics: Path
    timing: Path
    deploy_metrics: Path
    deploy_timing: Path
    table: Path
    figure: Path
    grid_table: Path


def grid_section(rate: GpuRate, grid_params: dict, caches: Path, models_dir: Path, label: str,
                 gpu_metrics: Path | None = None) -> str:
    """The training grid of `grid_params` (`rtmpose`, `train`) on paper, with this run's images per epoch (the
    crop stores under `caches`: T-FAKE capped at `train.max_train_samples`, the teacher's RGB set) and its runs'
    median share of the epoch cap, at the rate measured for `rate.gpu` in `gpu_metrics` (`make gpu-check`), or, for
    a GPU not measured there, at the assumed utilisation."""
    stores = {"tfake": load_splits(caches / "tfake", ("train", "val")),
              "rgb": load_splits(caches / "rgbpretrain", ("train", "val"))}
    cap = grid_params["train"].get("max_train_samples")
    images = {k: (len(s["train"]) if k == "rgb" or cap is None else min(cap, len(s["train"])), len(s["val"]))
              for k, s in stores.items()}
    share, runs = expected_share(models_dir)
    measured, utilisation = costed_rate(rate, gpu_metrics, lambda arch: complexity(arch)["gflops"])
    grid = grid_compute(grid_runs(grid_params), lambda arch: complexity(arch)["gflops"], images,
                        rate.dense_tflops, utilisation, share)
    grid["assumed"]["expected_fraction_from"] = f"the median over this run's {runs} trained runs"
    return markdown(grid, rate, label, rate_sentence(rate, measured, utilisation))


def run_speed(cfg: SpeedConfig, models_dir: Path, tfake: Path, charlotte: Path, thermeval: tuple[Path, Path],
              out: Outputs, seed: int, source: dict[str, str], grid_params: dict, caches: Path,
              gpu_metrics: Path | None = None) -> None:
    """The whole speed stage; see the module doc. `thermeval`: ThermEval's prepared and raw folders (a trained
    detector's frames); `source`: {dataset: synthetic | real} of T-FAKE, CHARLOTTE and ThermEval;
    `grid_params` (`rtmpose`, `train`) and the crop stores `caches` for the training grid's compute."""
    label = data_label(source)
    timing = cfg.timing
    torch.set_num_threads(cfg.threads)
    arch_configs = pose_speed.architecture_configs(list(cfg.architectures), list(cfg.input_size))
    archs, checkpoints = {}, {}
    latency = {"checkpoints": {}, "architectures": {}}
    with atomic_dir(out.onnx_dir) as onnx_tmp, tempfile.TemporaryDirectory() as scratch:
        seeded = pose_speed.SeededModels(Path(scratch), timing.opset, seed)
        for arch, arch_cfg in progress(list(arch_configs.items()), desc="speed architectures", unit="arch"):
            archs[arch], latency["architectures"][arch] = pose_speed.benchmark_architecture(arch_cfg, seeded, timing)
        for name in progress(pose_speed.discover_checkpoints(models_dir, cfg.models), desc="speed checkpoints",
                             unit="model"):
            model = pose_speed.load_checkpoint(models_dir, name)
            checkpoints[name], latency["checkpoints"][name] = pose_speed.benchmark_checkpoint(
                model, onnx_tmp / f"{name}.onnx", timing, seed)
            # Names the checkpoint's architecture; where that has a row above, it must be the same network there.
            paper_cfg = pose_speed.at_input_size(model.cfg, list(cfg.input_size))
            arch = pose_speed.architecture_name(paper_cfg)
            if arch in arch_configs and arch_configs[arch] != paper_cfg:
                raise InputError(f"{models_dir / name}: {arch} config differs from the benchmarked one "
                                 f"({paper_cfg} vs {arch_configs[arch]})")
            checkpoints[name]["architecture"] = arch
        arch_rows = {a: {**archs[a], **latency["architectures"][a]} for a in archs}
        deploy_numbers, deploy_timing = deploy.benchmark(cfg.deploy, list(cfg.input_size), arch_rows, models_dir,
                                                         list(checkpoints), onnx_tmp, tfake, charlotte, thermeval,
                                                         seeded, timing, seed)

    env = {**pose_speed.environment(cfg.threads), **deploy_timing["environment"]}
    write_json(out.metrics, {"data": source, "paper_input_size": list(cfg.input_size), "checkpoints": checkpoints,
                             "architectures": archs})
    write_json(out.timing, {"data": source, "environment": env, **latency})
    write_json(out.deploy_metrics, {"data": source, **deploy_numbers})
    write_json(out.deploy_timing, {"data": source, **deploy_timing, "environment": env})
    checkpoint_rows = [{"name": n, **checkpoints[n], **latency["checkpoints"][n]} for n in checkpoints]
    write_text(out.table, pose_speed.table_markdown(list(arch_rows.values()), checkpoint_rows, env, label)
               + deploy.markdown(deploy_numbers, {**deploy_timing, "environment": env}, label))
    write_text(out.grid_table, grid_section(cfg.grid, grid_params, caches, models_dir, label, gpu_metrics))
    save_figure(pose_speed.plot_fps_vs_params(list(arch_rows.values()), env, label,
                                         deploy.figure_series(deploy_numbers, deploy_timing)), out.figure)
    for r in list(arch_rows.values()) + checkpoint_rows:
        print(f"{r.get('name', 'RTMPose-' + r['arch'])} at {r['input_size']}: {r['params'] / 1e6:.2f} M params, "
              f"{r['gmacs']:.3f} GMACs, onnxruntime {r['onnxruntime_ms']:.1f} ms, torch {r['torch_ms']:.1f} ms")
    for name, row in deploy_numbers["int8_students"].items():
        t = deploy_timing["int8_students"][name]
        print(f"{name} int8: {t['int8_speedup']:.2f}x faster than fp32 by CPU time (median of paired rounds), NME "
              f"rise T-FAKE {row['tfake_nme_rise']:+.4f}, CHARLOTTE {row['charlotte_nme_rise']:+.4f}, convs in int8 "
              f"{row['int8_conv']}/{row['int8_conv'] + row['float_conv']}, deployable {row['deployable_int8']}")
    for name, row in deploy_timing["gemm_limit"].items():
        print(f"single-thread GEMM {name}: " + (row["not_run"] if "not_run" in row else
                                                f"{row['best_gflops_per_s']:.1f} GFLOP/s (best run, CPU time)"))
