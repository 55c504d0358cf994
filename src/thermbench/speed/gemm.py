"""The distance to this CPU's limit: single-thread fp32 GEMM throughput, each model's achieved throughput as a
fraction of it, and thread scaling.

A large square fp32 matrix product (PyTorch's CPU GEMM, one intra-op thread) is the best case of dense float
arithmetic on one core: every model convolution and linear layer ends in such kernels, on smaller and less regular
shapes. A model's achieved GFLOP/s is 2 x its MACs / its latency (2 FLOPs per multiply-add, the GEMM's convention).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import torch

from thermbench.speed.pose_speed import measure_latency, time_interleaved


def gemm_throughput(n: int, warmup: int, repeats: int, threads: int = 1, seed: int = 0) -> dict:
    """fp32 C = A @ B with n x n matrices on `threads` PyTorch threads: median and best GFLOP/s (2 n^3 FLOPs)."""
    if n < 1 or repeats < 1 or threads < 1:
        raise ValueError(f"need n, repeats, threads >= 1 (got {n}, {repeats}, {threads})")
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    out = torch.empty(n, n)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        ms = time_interleaved({"gemm": lambda: torch.matmul(a, b, out=out)}, warmup, repeats)["gemm"]
    finally:
        torch.set_num_threads(previous)
    flops = 2.0 * n ** 3
    return {"n": n, "threads": threads, "warmup": warmup, "repeats": repeats, "median_ms": statistics.median(ms),
            "min_ms": min(ms), "gflops_per_s": flops / statistics.median(ms) / 1e6,
            "best_gflops_per_s": flops / min(ms) / 1e6}


def achieved(gmacs: float, ms: float, limit_gflops_per_s: float) -> dict:
    """A model's achieved GFLOP/s at latency `ms` and its fraction of the GEMM limit."""
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
