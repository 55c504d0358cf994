"""The distance to this CPU's limit: single-thread GEMM throughput in the GEMM each runtime uses, each model's
achieved throughput as a fraction of it, and thread scaling.

A large square matrix product is the best case of dense arithmetic on one core: every model convolution and linear
layer ends in such kernels, on smaller and less regular shapes. The limit is measured in the runtime that runs the
rows, on a one-node ONNX model (`matmul_onnx`: Y = A @ B, B a constant as a layer's weights are): ONNX Runtime's
MLAS fp32 GEMM, OpenVINO's fp32 GEMM, and its bf16 GEMM where the CPU has bf16 (`runtimes.unavailable` says why not).
It is timed by CPU time, which other jobs on a shared machine do not stretch (wall time read 58-101 GFLOP/s where
CPU time read 163-177 on a shared Xeon). A model's achieved GFLOP/s is 2 x its MACs / its CPU time
(2 FLOPs per multiply-add, the GEMM's convention).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper

from thermbench.core.io import atomic_write_bytes
from thermbench.speed import runtimes
from thermbench.speed.pose_speed import measure_latency

GEMM_VARIANTS = tuple(v for v in runtimes.VARIANTS if v.precision != "int8")


def matmul_onnx(path: Path, n: int, seed: int = 0) -> Path:
    """A one-node ONNX model Y = A @ B with A an (n, n) float32 input and B a seeded (n, n) constant."""
    b = np.random.default_rng(seed).standard_normal((n, n)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["Y"])], "gemm",
                              [helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, n])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, n])],
                              [numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    atomic_write_bytes(path, model.SerializeToString())
    return path


def gemm_throughput(n: int, scratch: Path, warmup: int, repeats: int, capabilities: list[str], threads: int = 1,
                    seed: int = 0) -> dict:
    """{variant: row} for ONNX Runtime fp32 and OpenVINO fp32 / bf16 on one `threads`-thread n x n GEMM, in paired
    rounds: median and best GFLOP/s by CPU time (2 n^3 FLOPs), the wall medians beside them; a variant the CPU
    cannot run gets its reason instead."""
    if n < 1 or repeats < 1 or threads < 1:
        raise ValueError(f"need n, repeats, threads >= 1 (got {n}, {repeats}, {threads})")
    path = matmul_onnx(Path(scratch) / f"gemm-{n}.onnx", n, seed)
    a = np.random.default_rng(seed + 1).standard_normal((n, n)).astype(np.float32)
    fns = {}
    variants, rows = runtimes.runnable(capabilities, GEMM_VARIANTS)
    for variant in variants:
        run = runtimes.runner(variant, path, None, threads)
        fns[variant.name] = lambda run=run: run(a)
    flops = 2.0 * n ** 3
    for name, times in runtimes.time_paired(fns, warmup, repeats, seed).items():
        row = runtimes.summary(times)
        rows[name] = {"n": n, "threads": threads, "warmup": warmup, "repeats": repeats, **row,
                      "gflops_per_s": flops / row["cpu_ms"] / 1e6, "best_gflops_per_s": flops / row["cpu_min_ms"] / 1e6,
                      "wall_gflops_per_s": flops / row["wall_ms"] / 1e6}
    return {name: rows[name] for name in (v.name for v in GEMM_VARIANTS)}


def achieved(gmacs: float, ms: float, limit_gflops_per_s: float) -> dict:
    """A model's achieved GFLOP/s at `ms` per run and its fraction of the GEMM limit."""
    gflops_per_s = 2.0 * gmacs / (ms / 1e3)
    return {"gflops_per_s": gflops_per_s, "fraction_of_gemm": gflops_per_s / limit_gflops_per_s}


def thread_scaling(model: torch.nn.Module, onnx_path: Path, input_shape: tuple[int, ...], max_threads: int,
                   warmup: int, repeats: int) -> list[dict]:
    """`measure_latency` (ONNX Runtime and PyTorch eager) at 1, 2, ..., `max_threads` intra-op threads, with each
    runtime's speed-up over its own single-thread median."""
    rows = [measure_latency(model, onnx_path, input_shape, warmup, repeats, t) for t in range(1, max_threads + 1)]
    for row in rows:
        for runtime in ("onnxruntime", "torch"):
            row[f"{runtime}_speedup"] = rows[0][f"{runtime}_ms"] / row[f"{runtime}_ms"]
    return rows
