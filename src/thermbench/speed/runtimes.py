"""The runtimes and precisions the speed stage times on the same ONNX files, and how it times them.

Variants (`VARIANTS`), each `<runtime>-<precision>`:
- onnxruntime-fp32: the fp32 file in ONNX Runtime's CPU provider (MLAS kernels), as `core.onnx_session.cpu_session`;
- onnxruntime-int8: the int8 QDQ file of `speed.quantize` in ONNX Runtime (QLinearConv after its graph fusion);
- openvino-fp32 / openvino-bf16: the fp32 file in OpenVINO's CPU plugin with `INFERENCE_PRECISION_HINT` f32 or bf16
  (bf16 needs AVX512-BF16 or AMX-BF16; OpenVINO lists "BF16" in the CPU's `OPTIMIZATION_CAPABILITIES` then);
- openvino-int8: the int8 QDQ file of `speed.quantize` quantised for OpenVINO, the same weights and calibration with
  quantize/dequantize pairs around the convolutions only (`int8_file`; its low-precision transformations run the
  quantised convolutions in int8, the float remainder in f32).
A variant this CPU cannot run is not timed: `unavailable` gives the reason, which the rows carry.

Timing (`time_paired`): every round calls each variant once, in an order shuffled per round (seeded), and records
both the wall time and the CPU time of this process (`time.process_time`: every thread of the process, so OpenVINO's
worker threads count too). Other jobs on a shared machine stretch wall time but not CPU time; the ratios between
variants are paired per round (`paired_ratios`), and their median and quartiles say how much they held.

Which kernels ran (`runner_with_kernels`): OpenVINO names each executed node's primitive and precision in its
runtime graph (`primitiveType`, e.g. `brgconv_avx2_f32`, `jit_avx2_1x1_I8`); ONNX Runtime names no instruction set
(MLAS picks its kernels by CPUID at run time): for it the CPU's flags are what can be said.
"""

from __future__ import annotations

import dataclasses
import os
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np
import openvino as ov

from thermbench.core.onnx_session import cpu_session

Runner = Callable[[np.ndarray], list[np.ndarray]]  # one input array -> the model's outputs


@dataclasses.dataclass(frozen=True)
class Variant:
    runtime: str  # onnxruntime | openvino
    precision: str  # fp32 | bf16 | int8: which file (int8: the quantised one) and which float precision

    @property
    def name(self) -> str:
        return f"{self.runtime}-{self.precision}"


VARIANTS = (Variant("onnxruntime", "fp32"), Variant("onnxruntime", "int8"), Variant("openvino", "fp32"),
            Variant("openvino", "bf16"), Variant("openvino", "int8"))
REFERENCE = VARIANTS[0]  # what every ratio and every accuracy change is taken against
OV_HINT = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
CONV_LAYERS = ("Convolution", "GroupConvolution", "MatMul", "FullyConnected")  # OpenVINO's runtime layer types


# oneDNN's ISA levels in order (ONEDNN_MAX_CPU_ISA); bf16 kernels need AVX512_CORE_BF16 or above
ONEDNN_ISAS = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI",
               "AVX512_CORE_BF16", "AVX10_1_512", "AVX512_CORE_FP16", "AVX10_1_512_AMX", "AVX512_CORE_AMX",
               "AVX10_1_512_AMX_FP16", "AVX512_CORE_AMX_FP16")


def openvino_capabilities(env: dict | None = None) -> list[str]:
    """What OpenVINO's CPU plugin says this CPU can do (FP32, INT8, BF16, FP16, ...), less BF16 where
    ONEDNN_MAX_CPU_ISA caps oneDNN below AVX512_CORE_BF16 (a kernel setting of the check): the plugin reads the
    CPU's flags, but its bf16 primitives then cannot be created ("could not create a primitive descriptor")."""
    capabilities = list(ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    cap = (os.environ if env is None else env).get("ONEDNN_MAX_CPU_ISA", "").upper()
    if cap in ONEDNN_ISAS and ONEDNN_ISAS.index(cap) < ONEDNN_ISAS.index("AVX512_CORE_BF16"):
        capabilities = [c for c in capabilities if c != "BF16"]
    return capabilities


def unavailable(variant: Variant, capabilities: list[str]) -> str | None:
    """Why `variant` cannot run on this CPU, or None when it can."""
    if variant.runtime == "openvino" and variant.precision == "bf16" and "BF16" not in capabilities:
        return ("not run: OpenVINO's CPU plugin lists no BF16 on this CPU (it needs AVX512-BF16 or AMX-BF16; "
                f"capabilities: {', '.join(capabilities)})")
    return None


def runnable(capabilities: list[str], variants: tuple[Variant, ...] = VARIANTS) -> tuple[list[Variant], dict]:
    """(the `variants` this CPU can run, {name: {"not_run": reason}} for the others)."""
    reasons = {v.name: unavailable(v, capabilities) for v in variants}
    return ([v for v in variants if not reasons[v.name]],
            {name: {"not_run": reason} for name, reason in reasons.items() if reason})


def refused(variant: Variant, err: RuntimeError) -> dict:
    """The row of a variant whose runtime would not compile the model (OpenVINO under a capped oneDNN ISA, SSE4.1,
    refuses RTMDet): the runtime's last line of why."""
    return {"not_run": f"not run: {variant.runtime} cannot compile it on this CPU's kernels "
                       f"({str(err).strip().splitlines()[-1]})"}


def openvino_model(onnx_path: str | Path, hint: str, threads: int) -> ov.CompiledModel:
    """`onnx_path` compiled for OpenVINO's CPU plugin: one stream of `threads` threads, latency mode, float work in
    `hint` (f32 or bf16)."""
    return ov.Core().compile_model(str(onnx_path), "CPU", {
        "INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY"})


def openvino_runner(compiled: ov.CompiledModel) -> Runner:
    """Synchronous inference on one request; input and outputs are shared with OpenVINO, not copied (an output is
    valid until the next call)."""
    request = compiled.create_infer_request()
    outputs = range(len(compiled.outputs))

    def run(x: np.ndarray) -> list[np.ndarray]:
        request.infer({0: x}, share_inputs=True, share_outputs=True)
        return [request.get_output_tensor(i).data for i in outputs]

    return run


def onnxruntime_runner(onnx_path: str | Path, threads: int) -> Runner:
    session = cpu_session(onnx_path, threads)
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})


def int8_file(int8_onnx: str | Path, runtime: str) -> Path:
    """The int8 file `runtime` runs of a model whose ONNX Runtime int8 file is `int8_onnx` (`<stem>.int8.onnx`):
    that file, or for OpenVINO `<stem>.int8-openvino.onnx` beside it (`speed.quantize` writes both)."""
    path = Path(int8_onnx)
    return path if runtime == "onnxruntime" else path.with_name(f"{path.stem}-{runtime}{path.suffix}")


def _file(variant: Variant, fp32_onnx: str | Path, int8_onnx: str | Path | None) -> str | Path:
    if variant.precision != "int8":
        return fp32_onnx
    if int8_onnx is None:
        raise ValueError(f"{variant.name}: no int8 file")
    return int8_file(int8_onnx, variant.runtime)


def runner(variant: Variant, fp32_onnx: str | Path, int8_onnx: str | Path | None, threads: int) -> Runner:
    """`variant` of a model whose fp32 file is `fp32_onnx` and whose ONNX Runtime int8 file is `int8_onnx` (the
    OpenVINO one beside it: `int8_file`)."""
    path = _file(variant, fp32_onnx, int8_onnx)
    if variant.runtime == "onnxruntime":
        return onnxruntime_runner(path, threads)
    return openvino_runner(openvino_model(path, OV_HINT[variant.precision], threads))


def openvino_kernels(compiled: ov.CompiledModel) -> dict[str, int]:
    """How many convolutions and matrix products ran with each primitive, as OpenVINO names them in its runtime
    graph after compilation: `<implementation>_<isa>[_<kind>]_<precision> (<runtime precision>)`, e.g.
    `jit_avx2_1x1_I8 (u8)`; `undef` where it names no implementation (its FullyConnected and MatMul)."""
    kinds = Counter()
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = {k: v.astype(str) for k, v in op.get_rt_info().items() if k in ("layerType", "primitiveType",
                                                                              "runtimePrecision")}
        if info["layerType"] in CONV_LAYERS:
            kinds[f"{info['primitiveType']} ({info['runtimePrecision']})"] += 1
    return dict(sorted(kinds.items()))


def runner_with_kernels(variant: Variant, fp32_onnx: str | Path, int8_onnx: str | Path | None,
                        threads: int) -> tuple[Runner, dict]:
    """`runner`'s, and what its runtime says about the kernels it runs on (see the module doc), read from the same
    compiled model: an OpenVINO compile is about half a second a model."""
    if variant.runtime == "onnxruntime":
        return (runner(variant, fp32_onnx, int8_onnx, threads),
                {"primitives": "not reported by ONNX Runtime (MLAS picks its kernels by CPUID; see cpu_flags)"})
    compiled = openvino_model(_file(variant, fp32_onnx, int8_onnx), OV_HINT[variant.precision], threads)
    return openvino_runner(compiled), {"primitives": openvino_kernels(compiled)}


def time_paired(fns: dict[str, Callable[[], object]], warmup: int, rounds: int,
                seed: int = 0) -> dict[str, dict[str, list[float]]]:
    """{name: {"wall_ms": [...], "cpu_ms": [...]}}, one entry per round; each round calls every function once in an
    order shuffled per round (see the module doc)."""
    if warmup < 0 or rounds < 1:
        raise ValueError(f"need warmup >= 0 and rounds >= 1 (got {warmup}, {rounds})")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    order, shuffle = list(fns), random.Random(seed).shuffle
    times = {name: {"wall_ms": [], "cpu_ms": []} for name in fns}
    for _ in range(rounds):
        shuffle(order)
        for name in order:
            wall, cpu = time.perf_counter(), time.process_time()
            fns[name]()
            times[name]["cpu_ms"].append((time.process_time() - cpu) * 1e3)
            times[name]["wall_ms"].append((time.perf_counter() - wall) * 1e3)
    return times


def quartiles(values: list[float]) -> dict[str, float]:
    """Median and the spread around it (first and third quartile, inclusive method)."""
    if len(values) == 1:
        return {"median": values[0], "q1": values[0], "q3": values[0]}
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": median, "q1": q1, "q3": q3}


def summary(times: dict[str, list[float]], batch: int = 1) -> dict:
    """Median and best wall and CPU ms of one function's rounds, and frames per second by each median."""
    out = {}
    for clock in ("wall", "cpu"):
        ms = times[f"{clock}_ms"]
        out[f"{clock}_ms"], out[f"{clock}_min_ms"] = statistics.median(ms), min(ms)
        out[f"{clock}_fps"] = 1e3 * batch / statistics.median(ms)
    return out


def latency_fields(name: str, row: dict) -> dict:
    """A `summary` row as the latency fields of runtime `name` in a model's timing row: `<name>_ms`, `<name>_min_ms`
    and `<name>_fps` by wall time, `<name>_cpu_ms` and `<name>_cpu_min_ms` by CPU time."""
    return {f"{name}_ms": row["wall_ms"], f"{name}_min_ms": row["wall_min_ms"], f"{name}_fps": row["wall_fps"],
            f"{name}_cpu_ms": row["cpu_ms"], f"{name}_cpu_min_ms": row["cpu_min_ms"]}


def paired_ratios(times: dict[str, dict[str, list[float]]], reference: str) -> dict[str, dict]:
    """Speed-up of each function over `reference`, per round (reference ms / its ms, both of that round), by CPU
    and by wall time: {name: {"cpu": quartiles, "wall": quartiles}}."""
    ref = times[reference]
    return {name: {clock: quartiles([r / t for r, t in zip(ref[f"{clock}_ms"], own[f"{clock}_ms"])])
                   for clock in ("cpu", "wall")}
            for name, own in times.items()}
