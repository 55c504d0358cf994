"""Model complexity and CPU inference speed (paper Table II / Fig. 4): FLOPs, ONNX export, latency.

Two kinds of rows. The RTMPose ARCHITECTURES listed in params (t, s, m, l, x as in the paper's Table II and Fig. 4),
each at the paper's input size (256x256) with fresh seeded weights (`architecture_configs`, `fresh_model`),
independent of what was trained: enough for params, FLOPs and latency, since dense float32 kernels on fixed shapes
take the same time whatever the weight values (barring subnormal numbers, which the default initialisation does not
produce in RTMPose-t to -x at 256x256; checked with forward hooks on every module). And each trained CHECKPOINT at
its own trained input size: exported to ONNX, checked against PyTorch, timed. A checkpoint cannot run at another
size: the SimCC head's flatten/linear shapes depend on the input size.

Parameters are counted by `thermbench.models.rtmpose.count_parameters` (the official Params column's convention).

FLOPs are counted by `thermbench.core.flops.count_gflops` (2 per multiply-add: see its convention).
"""

from __future__ import annotations

import dataclasses
import io
import json
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnxruntime as ort
import openvino as ov
import torch

from thermbench import cpuinfo_model, read_cpuinfo
from thermbench.core.flops import count_gflops
from thermbench.core.io import InputError, atomic_write_bytes
from thermbench.core.onnx_session import cpu_session
from thermbench.models.rtmpose import ARCHS, RTMPose, RTMPoseConfig, build_rtmpose, count_parameters, load_model
from thermbench.models.run_layout import run_path
from thermbench.speed import runtimes

# Torch's legacy (TorchScript) exporter: the dynamo exporter needs `onnxscript`, which is not installed here.
EXPORTER = "torchscript"
INPUT_NAME = "input"
OUTPUT_NAMES = ["simcc_x", "simcc_y"]  # RTMPose.forward's (simcc_x, simcc_y)
CHECKPOINT = "model.safetensors"  # + its sidecar model.safetensors.json, as rtmpose.save_model writes them


def discover_checkpoints(models_dir: Path, names: list[str] | tuple[str, ...]) -> list[str]:
    """The listed run names (each must exist, where `layout.run_path` puts it), or, for an empty list, every RTMPose
    checkpoint of a run under `models_dir` in name order (other models there, such as Sapiens2 weights, have no such
    sidecar)."""
    if names:
        for name in names:
            path = run_path(models_dir, name) / CHECKPOINT
            if not path.is_file():
                raise InputError(f"{path}: checkpoint not found (listed in speed.models)")
        return list(names)
    found = []
    sidecars = [p for p in models_dir.glob(f"**/{CHECKPOINT}.json") if p.parent == run_path(models_dir, p.parent.name)]
    for sidecar in sorted(sidecars, key=lambda p: p.parent.name):
        try:
            arch = json.loads(sidecar.read_text()).get("arch")
        except json.JSONDecodeError as err:
            raise InputError(f"{sidecar}: not valid JSON ({err})") from None
        if arch in ARCHS:
            found.append(sidecar.parent.name)
    if not found:
        raise InputError(f"{models_dir}: no RTMPose checkpoint (*/{CHECKPOINT} and its .json sidecar) to benchmark")
    return found


def load_checkpoint(models_dir: Path, name: str) -> RTMPose:
    """Run `name` under `models_dir` in eval mode, at the input size it was trained at (`model.cfg.input_size`)."""
    return load_model(run_path(models_dir, name) / CHECKPOINT).eval()


def at_input_size(cfg: RTMPoseConfig, input_size: list[int]) -> RTMPoseConfig:
    """The same architecture at another (W, H) input size; only the SimCC head's shapes change."""
    return dataclasses.replace(cfg, input_size=tuple(input_size))


def architecture_configs(archs: list[str], input_size: list[int]) -> dict[str, RTMPoseConfig]:
    """{architecture_name: config} of RTMPose-`arch` (68 keypoints) at `input_size`, in the order listed."""
    if not archs:
        raise InputError(f"speed.architectures: empty; list some of {', '.join(ARCHS)}")
    unknown = [a for a in archs if a not in ARCHS]
    if unknown:
        raise InputError(f"speed.architectures: unknown arch {unknown} (expected some of {', '.join(ARCHS)})")
    with torch.device("meta"):  # only the configs are needed; no weights are allocated
        configs = [build_rtmpose(a, input_size=tuple(input_size)).cfg for a in archs]
    return {architecture_name(cfg): cfg for cfg in configs}


def architecture_name(cfg: RTMPoseConfig) -> str:
    return f"RTMPose-{cfg.arch} ({cfg.num_keypoints} kpts)"


def batch1_shape(cfg: RTMPoseConfig) -> tuple[int, int, int, int]:
    """Batch-1 NCHW input of a model built from `cfg` (its input_size is (W, H))."""
    width, height = cfg.input_size
    return (1, 3, height, width)


def fresh_model(cfg: RTMPoseConfig, seed: int) -> RTMPose:
    """`cfg` with its default initialisation from `seed`, in eval mode: for timing an input size no checkpoint has."""
    torch.manual_seed(seed)
    return RTMPose(cfg).eval()


class SeededModels:
    """`fresh_model(cfg, seed)` and its batch-1 ONNX export into `scratch`, made once per config: the architecture,
    detector + pose, int8 and thread-scaling rows all time the same seeded networks (an export takes 0.3-1.5 s)."""

    def __init__(self, scratch: Path, opset: int, seed: int):
        self.scratch, self.opset, self.seed = Path(scratch), opset, seed
        self._made: dict[RTMPoseConfig, tuple[RTMPose, Path]] = {}

    def get(self, cfg: RTMPoseConfig) -> tuple[RTMPose, Path]:
        """(model in eval mode, its ONNX file); do not modify either."""
        if cfg not in self._made:
            model, (width, height) = fresh_model(cfg, self.seed), cfg.input_size
            path = self.scratch / f"seeded-{cfg.arch}-{height}x{width}-k{cfg.num_keypoints}.onnx"
            export_onnx(model, path, batch1_shape(cfg), self.opset, OUTPUT_NAMES)
            self._made[cfg] = (model, path)
        return self._made[cfg]


def complexity(cfg: RTMPoseConfig) -> dict:
    """Params, GFLOPs and GMACs of `cfg` at its input size, counted on the meta device (no weights allocated)."""
    return dict(_complexity(cfg))


@lru_cache(maxsize=None)  # rows of several kinds ask for the same config; callers get copies
def _complexity(cfg: RTMPoseConfig) -> dict:
    with torch.device("meta"):
        model = RTMPose(cfg)
    gflops = count_gflops(model, batch1_shape(cfg))
    return {"arch": cfg.arch, "num_keypoints": cfg.num_keypoints, "input_size": list(cfg.input_size),
            "params": count_parameters(model), "gflops": gflops, "gmacs": gflops / 2}


def _outputs(model: torch.nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():
        out = model(x)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o.numpy() for o in outs]


def export_onnx(model: torch.nn.Module, path: str | Path, input_shape: tuple[int, ...], opset: int,
                output_names: list[str] | None = None, dynamic_batch: bool = False) -> dict:
    """Export `model` (eval mode, `input_shape`; its batch axis dynamic when asked) to ONNX at `path`, atomically;
    return what was used."""
    model.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # Torch warns that the legacy exporter is deprecated; it is the one that works offline (see EXPORTER).
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(model, (torch.zeros(input_shape),), buf, dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=output_names, do_constant_folding=True,
                          dynamic_axes=({name: {0: "batch"} for name in [INPUT_NAME, *(output_names or [])]}
                                        if dynamic_batch else None))
    atomic_write_bytes(path, buf.getvalue())
    return {"exporter": EXPORTER, "opset": opset, "input_name": INPUT_NAME, "input_shape": list(input_shape)}


def check_onnx_matches_torch(model: torch.nn.Module, onnx_path: str | Path, input_shape: tuple[int, ...],
                             atol: float = 1e-4, rtol: float = 1e-3, seed: int = 0) -> float:
    """Run both on one seeded random input; return the largest absolute difference over all outputs.

    Raises ValueError when any element violates |onnx - torch| <= atol + rtol * |torch| (numpy.allclose). The
    tolerances allow float32 kernel reordering (~1e-5 on O(1) logits) but not a wrong graph (differences of order 1).
    """
    model.eval()
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(seed))
    expected = _outputs(model, x)
    got = cpu_session(onnx_path, threads=1).run(None, {INPUT_NAME: x.numpy()})
    if len(got) != len(expected):
        raise ValueError(f"{onnx_path}: {len(got)} ONNX outputs, PyTorch gives {len(expected)}")
    worst = 0.0
    for i, (g, e) in enumerate(zip(got, expected)):
        if g.shape != e.shape:
            raise ValueError(f"{onnx_path}: output {i} has shape {g.shape}, PyTorch gives {e.shape}")
        diff = float(np.max(np.abs(g - e)))
        worst = max(worst, diff)
        if not np.allclose(g, e, atol=atol, rtol=rtol):
            raise ValueError(f"{onnx_path}: output {i} differs from PyTorch by up to {diff:.3g} "
                             f"(atol {atol}, rtol {rtol})")
    return worst


def measure_latency(model: torch.nn.Module, onnx_path: str | Path, input_shape: tuple[int, ...], warmup: int,
                    repeats: int, threads: int, seed: int = 0) -> dict:
    """Batch latency of onnxruntime (CPU) and PyTorch eager on the same input, same thread count, same run, in
    shuffled paired rounds (`runtimes.time_paired`).

    Returns wall medians in ms (`<runtime>_ms`) and CPU-time medians (`<runtime>_cpu_ms`), frames per second
    (batch / wall median), and the eager/onnxruntime ratio (median over rounds of the paired CPU-time ratios).
    """
    if warmup < 0 or repeats < 1 or threads < 1:
        raise ValueError(f"need warmup >= 0, repeats >= 1, threads >= 1 (got {warmup}, {repeats}, {threads})")
    model.eval()
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(seed))
    feed = x.numpy()
    session = runtimes.onnxruntime_runner(onnx_path, threads)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            times = runtimes.time_paired({"onnxruntime": lambda: session(feed), "torch": lambda: model(x)},
                                         warmup, repeats, seed)
    finally:
        torch.set_num_threads(previous_threads)
    batch = input_shape[0]
    result = {"warmup": warmup, "repeats": repeats, "threads": threads, "batch": batch}
    for name, clocks in times.items():
        result.update(runtimes.latency_fields(name, runtimes.summary(clocks, batch)))
    result["torch_over_onnxruntime"] = runtimes.paired_ratios(times, "torch")["onnxruntime"]["cpu"]["median"]
    return result


@dataclasses.dataclass(frozen=True)
class Timing:
    """What every timed row shares: untimed and timed runs, intra-op threads, ONNX opset and parity tolerances."""

    warmup: int
    repeats: int
    threads: int
    opset: int
    atol: float
    rtol: float


def benchmark_checkpoint(model: RTMPose, onnx_path: Path, timing: Timing, seed: int) -> tuple[dict, dict]:
    """A trained checkpoint at its own input size: ONNX export to `onnx_path` (dynamic batch axis: the deployable
    file, also the int8 quantizer's source), ONNX-vs-PyTorch check, complexity and batch-1 latency. Returns
    (deterministic numbers, timing)."""
    shape = batch1_shape(model.cfg)
    export = export_onnx(model, onnx_path, shape, timing.opset, OUTPUT_NAMES, dynamic_batch=True)
    max_diff = check_onnx_matches_torch(model, onnx_path, shape, timing.atol, timing.rtol, seed)
    numbers = {**complexity(model.cfg), "onnx_opset": export["opset"], "onnx_max_abs_diff": max_diff,
               "onnx_atol": timing.atol, "onnx_rtol": timing.rtol}
    return numbers, measure_latency(model, onnx_path, shape, timing.warmup, timing.repeats, timing.threads)


def benchmark_architecture(cfg: RTMPoseConfig, seeded: SeededModels, timing: Timing) -> tuple[dict, dict]:
    """An architecture at its input size with fresh weights (see module doc): complexity and latency; the ONNX
    file it times is scratch (its weights mean nothing). Returns (deterministic numbers, timing)."""
    model, onnx_path = seeded.get(cfg)
    return complexity(cfg), measure_latency(model, onnx_path, batch1_shape(cfg), timing.warmup, timing.repeats,
                                            timing.threads)


def environment(threads: int) -> dict:
    """What the latencies were measured on; kept next to them in metrics/timing/speed.json."""
    return {"cpu": cpuinfo_model(read_cpuinfo()), "threads": threads, "torch": torch.__version__,
            "onnxruntime": ort.__version__, "openvino": ov.__version__, "exporter": EXPORTER}


def _size(input_size: list[int]) -> str:
    width, height = input_size  # (W, H) as mmpose; printed H×W as mmpose names its models ("256x192")
    return f"{height}×{width}"


def _ms_fps(r: dict, runtime: str) -> str:
    return f"{r[f'{runtime}_ms']:.2f} ({r[f'{runtime}_fps']:.1f})"


def table_markdown(archs: list[dict], checkpoints: list[dict], env: dict, source_label: str) -> str:
    """Table II-shaped markdown in two sections. Architectures: one row per RTMPose architecture at the paper's
    input size (dicts of complexity + latency, all at one size). Checkpoints: one row per trained model at its own
    size (the same, plus `name` and `onnx_max_abs_diff`)."""
    paper = _size(archs[0]["input_size"])
    lines = [
        f"**Model complexity and CPU inference speed** ({source_label}; {env['cpu']}, {env['threads']} thread(s), "
        f"batch 1; median of repeated runs after warm-up; ONNX via the {env['exporter']} exporter, "
        f"onnxruntime {env['onnxruntime']}, torch {env['torch']}).",
        "",
        f"*Architectures at the paper's {paper} input, freshly initialised (seeded) weights:*",
        "",
        f"| Arch | Params (M) | {paper} GFLOPs | ONNX Runtime ms (fps) | PyTorch eager ms (fps) "
        "| Eager / ONNX Runtime |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for a in archs:
        lines.append(f"| RTMPose-{a['arch']} | {a['params'] / 1e6:.2f} | {a['gmacs']:.2f} "
                     f"| {_ms_fps(a, 'onnxruntime')} | {_ms_fps(a, 'torch')} | {a['torch_over_onnxruntime']:.2f} |")
    lines += [
        "",
        "*Trained checkpoints at their own input size:*",
        "",
        "| Method | Arch | Input | GFLOPs | Params (M) | ONNX Runtime ms (fps) | PyTorch eager ms (fps) "
        "| Eager / ONNX Runtime | ONNX vs PyTorch max abs diff |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in checkpoints:
        lines.append(f"| {c['name']} | RTMPose-{c['arch']} | {_size(c['input_size'])} | {c['gmacs']:.2f} "
                     f"| {c['params'] / 1e6:.2f} | {_ms_fps(c, 'onnxruntime')} | {_ms_fps(c, 'torch')} "
                     f"| {c['torch_over_onnxruntime']:.2f} | {c['onnx_max_abs_diff']:.1e} |")
    lines += [
        "",
        "GFLOPs counts a multiply-add once (= GMACs), the convention of the paper's Table II and of mmpose; "
        "FLOPs at 2 per multiply-add are twice that (metrics/speed.json keeps both).",
        "",
        f"Architectures (the paper's setting): each RTMPose size built at {paper} with freshly initialised (seeded) "
        "weights, whatever was trained: latency does not depend on the weight values (the same dense float32 kernels "
        "run on the same shapes). A checkpoint trained at another size cannot run at "
        f"{paper}, because the SimCC head's flatten/linear shapes depend on the input size.",
        "",
        "Checkpoints: the trained model itself at the input size it was trained at; the ONNX export is checked "
        "against PyTorch on one seeded random input (largest absolute difference over both SimCC outputs).",
    ]
    return "\n".join(lines) + "\n"


def plot_fps_vs_params(archs: list[dict], env: dict, source_label: str, series: list[dict] | None = None):
    """Fig. 4-shaped figure: throughput against parameter count (log scale), one series per runtime, one point per
    architecture (`arch`, `params`, `input_size`, `*_cpu_ms`), all at the same input size. Every line is frames per
    second of CPU time, so the pose model alone and the detector + pose pipelines (`series`: further lines
    {"label", "marker", "params_m", "fps"}, by CPU time too) compare like with like; the architectures name the x
    ticks and the legend sits below the axes, so no label covers a point."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    fig, ax = plt.subplots(figsize=(7, 5.6))
    params_m = [a["params"] / 1e6 for a in archs]
    for key, label, marker in (("onnxruntime", "pose alone, ONNX Runtime", "o"), ("torch", "pose alone, PyTorch eager",
                                                                                   "s")):
        ax.plot(params_m, [1000 / a[f"{key}_cpu_ms"] for a in archs], marker=marker, linestyle="-", label=label)
    for extra in series or []:
        ax.plot(extra["params_m"], extra["fps"], marker=extra["marker"], linestyle="--", label=extra["label"])
    ax.set_xscale("log")
    ax.margins(x=0.08)
    # Ticks at the models' own sizes: a log axis otherwise names only powers of ten (or "5×10^0" within one decade).
    ax.set_xticks(params_m, [f"RTMPose-{a['arch']}\n{x:.2f}" for x, a in zip(params_m, archs)], fontsize=8)
    ax.xaxis.set_minor_locator(NullLocator())
    top = max(1000 / a[f"{key}_cpu_ms"] for a in archs for key in ("onnxruntime", "torch"))
    ax.set_ylim(0, 1.08 * max([top] + [f for extra in series or [] for f in extra["fps"]]))
    ax.set_xlabel("Parameters (M, log scale)")
    ax.set_ylabel("Throughput (frames per second of CPU time)")
    ax.set_title(f"Inference speed vs model size at the paper's {_size(archs[0]['input_size'])} input, batch 1 "
                 f"[{source_label}]\n{env['cpu']}, {env['threads']} thread(s); architectures with fresh weights",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return fig

