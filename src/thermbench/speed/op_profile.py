"""Where a detector's time goes, by kind of op: ONNX Runtime's own profiler over its fp32 and its int8 file.

The pipeline's speed-up is capped by RTMDet-nano, whose int8 file gains little over fp32 (docs/speed.md). The
profiler's kernel time of each node, summed by kind (`kind`) and divided by the frames run, says which ops int8 makes
slower or faster on the CPU it runs on: the stem's convolutions (few input channels), the depthwise and the pointwise
halves of the separable convolutions, the other convolutions, the SiLU (and the channel attention's products), the
quantize/dequantize steps, and the rest (concatenation, pooling, resizing, layout reorders). Nodes keep the
exporter's module path in their names after ONNX Runtime's fusions (`/backbone/stem/stem.0/conv/Conv_token_34`),
which is what the kinds are read from.
- ONNX Runtime profiling: https://onnxruntime.ai/docs/performance/tune-performance/profiling-tools.html
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from thermbench.core.onnx_session import cpu_session

KINDS = ("stem_conv", "depthwise_conv", "pointwise_conv", "other_conv", "silu_and_products", "quantize_dequantize",
         "rest")
CONV_OPS = {"Conv", "FusedConv", "QLinearConv", "ConvInteger", "NhwcFusedConv"}
ELEMENTWISE_OPS = {"QuickGelu", "Sigmoid", "Mul", "QLinearSigmoid", "QLinearMul"}
QDQ_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}


def kind(node: str, op: str) -> str:
    """The kind of op (`KINDS`) of a profiled node, by its op type and the module path in its name."""
    if op in CONV_OPS:
        for marker, name in (("/stem/", "stem_conv"), ("depthwise_conv", "depthwise_conv"),
                             ("pointwise_conv", "pointwise_conv")):
            if marker in node:
                return name
        return "other_conv"
    if op in ELEMENTWISE_OPS:
        return "silu_and_products"
    return "quantize_dequantize" if op in QDQ_OPS else "rest"


def by_kind(events: list[dict], skip_runs: int = 0) -> dict[str, float]:
    """ms of kernel time a run for each kind, and their `total`, from ONNX Runtime's profile `events` (its JSON
    trace), the first `skip_runs` runs (the warm-up) left out."""
    runs = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run")
    if len(runs) <= skip_runs:
        raise ValueError(f"the profile has {len(runs)} run(s), none after the {skip_runs} skipped")
    micro = Counter({k: 0.0 for k in KINDS})
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= runs[skip_runs]:
            micro[kind(e["name"], e["args"]["op_name"])] += e["dur"]
    timed = len(runs) - skip_runs
    return {**{k: round(micro[k] / timed / 1e3, 3) for k in KINDS},
            "total": round(sum(micro.values()) / timed / 1e3, 3)}


def profile(onnx_path: Path, threads: int, runs: int = 30, warmup: int = 5, seed: int = 0) -> dict[str, float]:
    """`by_kind` of `runs` runs of `onnx_path` after `warmup` ones, in ONNX Runtime's CPU provider on `threads`
    threads (`core.onnx_session.cpu_session`, as the speed stage's sessions), on one seeded uniform input of the
    model's shape."""
    with tempfile.TemporaryDirectory() as scratch:
        session = cpu_session(onnx_path, threads, profile_prefix=Path(scratch) / "profile")
        given = session.get_inputs()[0]
        x = {given.name: np.random.default_rng(seed).uniform(-2, 2, given.shape).astype(np.float32)}
        for _ in range(warmup + runs):
            session.run(None, x)
        return by_kind(json.loads(Path(session.end_profiling()).read_text()), warmup)
