"""int8 students: ONNX Runtime static quantization (QDQ, per-channel weights) calibrated on train crops, and the NME
change it costs on the T-FAKE-format and CHARLOTTE-format tests (scored with thermbench.core.nme).

Settings, and why:
- QDQ format, per-channel int8 weights, uint8 activations, MinMax calibration. On x86 ONNX Runtime's int8 kernels
  (MLAS) take uint8 activations with int8 weights (u8s8); int8 activations (s8s8) leave MLAS without its VNNI path
  (measured 4-5x slower than fp32 on a Xeon with AVX512-VNNI).
- Weights in 7 bits (`reduce_range`), on every CPU. Without VNNI, u8s8 products are summed in pairs into int16
  (AVX2's `vpmaddubsw`), which saturates with full-range weights; ONNX Runtime's quantization guide recommends
  `reduce_range` there. On a 2-core AMD EPYC (AVX2, no VNNI), the default profile's trained supervised-s student:
  T-FAKE NME change from fp32 +0.2252 in ONNX Runtime and +0.0037 in OpenVINO with 8-bit weights, -0.0003 in both
  with 7-bit ones. One file for every CPU: a VNNI CPU runs the same model, one bit of weight precision the poorer.
- `quant_pre_process` (ONNX Runtime's basic graph optimisation + symbolic shape inference) first. The exporter
  shares identical folded conv biases through `Identity` nodes (28 in the seeded RTMPose-t export); the quantiser
  cannot fuse a DequantizeLinear -> Conv -> QuantizeLinear group whose bias arrives that way, so 6 of its 38
  convolutions stayed in float without pre-processing (32 QLinearConv), all 38 run in int8 after it. Measured with
  onnxruntime 1.31.1, u8s8, on the graph ONNX Runtime writes out after its own optimisation (`int8_op_counts`);
  on a 2-core AMD EPYC (AVX2, no VNNI) shared with other jobs, seeded RTMPose-t at 256x256, batch 1, one thread,
  15 paired rounds: int8 over fp32 by CPU time 1.13x without pre-processing, 1.20x with it.
- The SimCC head's token layers (everything after its 7x7 convolution: ScaleNorm + Linear, the GAU, the two
  classifiers) stay in float by default (`float_head`). Quantized too, they cost the trained 96x96 supervised
  students +0.005 (t) and +0.009 (s) T-FAKE NME; in float, +0.0002 and +0.0013, with every convolution still int8
  (measured on this repository's synthetic data). They are a small part of the work (about 48 M of RTMPose-t's
  570 M MACs at 256x256) and decide the argmax over 2x the input's pixels per axis.
- The float model is exported with a dynamic batch axis so one file serves batched scoring and batch-1 timing.
- A file per runtime (`QUANTIZED_OPS`, `runtimes.int8_file`), each from a MinMax pass over the same images, so a
  tensor both quantise gets the same range: ONNX Runtime's quantises every op its quantiser supports, OpenVINO's only
  the convolutions (their inputs and outputs). ONNX Runtime runs a quantised SiLU as QLinearSigmoid and QLinearMul;
  left in float, the SiLU sits between a DequantizeLinear and a QuantizeLinear, which costs more.
  OpenVINO runs the element-wise work between convolutions as subgraphs of its own, which cost less without the
  quantize/dequantize steps around the Sigmoid and the Mul. On a 2-core AMD EPYC (AVX512-VNNI, AVX512-BF16) shared
  with another job, one thread, 60 paired rounds, median CPU ms, every op quantised / convolutions only: seeded
  RTMPose-t at 256x256 7.67 / 8.96 in ONNX Runtime, 8.35 / 7.50 in OpenVINO; RTMDet-nano at 320x320 9.81 / 12.47 and
  11.22 / 9.25. The trained detector's top boxes on 16 ThermEval test frames, IoU with ONNX Runtime fp32's: OpenVINO
  with every op quantised mean 0.915, 1 below 0.5; with convolutions only mean 0.963, none below 0.5.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import onnxruntime as ort
import torch
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)
from torch import nn

from thermbench.core.nme import nme_diag, nme_io, summarize
from thermbench.datasets.crop_store import Split, load_split
from thermbench.models.rtmdet import normalize_detector_input
from thermbench.models.rtmpose import RTMPoseConfig, crop_px, to_input
from thermbench.speed.runtimes import Runner, int8_file

# The op types each runtime's int8 file quantises (see the module doc); None: every op the quantiser supports
QUANTIZED_OPS = {"onnxruntime": None, "openvino": ("Conv",)}
SETTINGS = {"format": "QDQ", "per_channel": True, "weight_type": "int8", "reduce_range": True,
            "activation_type": "uint8", "calibration": "MinMax",
            "quantized_ops": {runtime: list(ops) if ops else "all" for runtime, ops in QUANTIZED_OPS.items()}}


@dataclasses.dataclass(frozen=True)
class Int8Config:
    """`calibration_crops`: T-FAKE train crops (thermal) the activation ranges are calibrated on; `max_nme_rise`: a
    student is deployable in int8 when neither test NME rises by more than this; `batch_size`: scoring batch;
    `float_head`: keep the SimCC head's token layers in float (see the module doc); `repeats`: timed runs of each
    fp32/int8 pair (batch-1 runs of a few ms: many are cheap, and the speed-up is what the rows are for)."""

    calibration_crops: int
    max_nme_rise: float
    batch_size: int
    float_head: bool
    repeats: int


class _Feeds(CalibrationDataReader):
    """One normalised image a feed: `normalize` maps a (1, H, W) uint8 batch to the model's float input."""

    def __init__(self, images: np.ndarray, input_name: str, normalize: Callable[[torch.Tensor], torch.Tensor]):
        self._feeds = iter([{input_name: normalize(torch.from_numpy(images[i:i + 1])).numpy()}
                            for i in range(len(images))])

    def get_next(self) -> dict | None:
        return next(self._feeds, None)


def calibration_images(tfake: Path, input_size: int, count: int) -> np.ndarray:
    """The first `count` thermal T-FAKE train crops at `input_size` (the prepared split is already shuffled)."""
    return load_split(tfake, "train", input_size, max_samples=count).images


def head_token_nodes(onnx_path: Path) -> list[str]:
    """Nodes of an exported RTMPose's SimCC head after its 7x7 convolution (`final_layer`); the exporter names nodes
    by module path (`/head/gau/uv/MatMul`)."""
    import onnx

    return [n.name for n in onnx.load(str(onnx_path)).graph.node
            if n.name.startswith("/head/") and not n.name.startswith("/head/final_layer")]


def quantize(fp32_onnx: Path, int8_onnx: Path, images: np.ndarray, input_name: str = "input",
             float_head: bool = True) -> dict:
    """Write the int8 (QDQ) models of `fp32_onnx`, pre-processed (see the module doc), to `int8_onnx` (ONNX Runtime's)
    and beside it (OpenVINO's, `runtimes.int8_file`), calibrated on `images` (uint8 crops), with the SimCC head's
    token layers left in float when `float_head`."""
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(fp32_onnx), str(prepared))
        # Pre-processing drops the head's Constant/Identity nodes; `float_nodes` counts the export's head nodes.
        excluded = head_token_nodes(prepared) if float_head else []
        _quantize_static(prepared, int8_onnx, lambda: _Feeds(images, input_name, to_input), excluded)
    return {**SETTINGS, "pre_processed": True, "calibration_crops": len(images), "float_head": float_head,
            "float_nodes": len(head_token_nodes(fp32_onnx)) if float_head else 0}


def _quantize_static(prepared: Path, int8_onnx: Path, feeds: Callable[[], CalibrationDataReader],
                     excluded: list[str]) -> None:
    """Each runtime's file (`QUANTIZED_OPS`), calibrated on the feeds of its own `feeds()` reader."""
    for runtime, ops in QUANTIZED_OPS.items():
        quantize_static(str(prepared), str(int8_file(int8_onnx, runtime)), feeds(), quant_format=QuantFormat.QDQ,
                        per_channel=True, reduce_range=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=excluded, op_types_to_quantize=list(ops) if ops else None)


def output_nodes(onnx_path: Path) -> list[str]:
    """The nodes that write a graph output: RTMDet's 1x1 predictors (class logits, box distances per stride)."""
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    outputs = {o.name for o in graph.output}
    return [n.name for n in graph.node if outputs & set(n.output)]


def quantize_detector(fp32_onnx: Path, int8_onnx: Path, frames: np.ndarray, input_name: str = "input") -> dict:
    """Write the int8 (QDQ) RTMDets of `fp32_onnx` to `int8_onnx` and beside it, with the pose models' settings and
    files (see the module doc and `quantize`), calibrated on `frames` (uint8 gray at its input size) as the pipeline
    normalises them. Its 1x1 predictors stay in float, and the box decoding runs outside the graph in float
    (`rtmdet.decode_top_box`): the class logits choose the box, and the distances place it in input pixels."""
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(fp32_onnx), str(prepared))
        excluded = output_nodes(prepared)
        images = frames[:, None] if frames.ndim == 3 else frames
        _quantize_static(prepared, int8_onnx, lambda: _Feeds(images, input_name, normalize_detector_input), excluded)
    return {**SETTINGS, "pre_processed": True, "calibration_frames": len(frames), "float_nodes": len(excluded)}


def int8_op_counts(int8_onnx: Path) -> dict[str, int]:
    """How many convolutions and matrix products ONNX Runtime runs in int8 vs float after its graph optimisation:
    what the quantized model actually executes (a QDQ pair it cannot fuse leaves the op in float)."""
    import onnx

    options = ort.SessionOptions()
    options.log_severity_level = 3
    optimised = Path(int8_onnx).with_suffix(".optimised.onnx")
    options.optimized_model_filepath = str(optimised)
    ort.InferenceSession(str(int8_onnx), options, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(str(optimised)).graph.node]
    optimised.unlink()
    float_conv = ops.count("Conv") + ops.count("FusedConv")
    return {"int8_conv": ops.count("QLinearConv"), "float_conv": float_conv, "all_convs_int8": float_conv == 0,
            "int8_matmul": ops.count("QLinearMatMul") + ops.count("MatMulIntegerToFloat"),
            "float_matmul": ops.count("MatMul") + ops.count("FusedMatMul")}


class OnnxPose(nn.Module):
    """An ONNX pose model in any runtime (`runtimes.Runner`) behind RTMPose's interface (`cfg`, forward ->
    (simcc_x, simcc_y) tensors), so that thermbench.core.nme scores it exactly as it scores the PyTorch model."""

    def __init__(self, run: Runner, cfg: RTMPoseConfig):
        super().__init__()
        self.cfg, self.run = cfg, run
        # evaluate/train find the device from the parameters; an empty one says "cpu".
        self.anchor = nn.Parameter(torch.empty(0), requires_grad=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        simcc_x, simcc_y = self.run(x.numpy())
        # Copies: OpenVINO's outputs are its own buffers, overwritten by the next call.
        return torch.from_numpy(np.array(simcc_x)), torch.from_numpy(np.array(simcc_y))


def load_test_splits(tfake: Path, charlotte: Path, input_size: int) -> tuple[Split, Split]:
    """The T-FAKE test split (every point labelled) and the CHARLOTTE test split at `input_size`, as evaluate
    loads them."""
    return (load_split(tfake, "test", input_size, all_labelled=True), load_split(charlotte, "test", input_size))


def predictions(model: nn.Module, splits: tuple[Split, Split], batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """`model`'s keypoints (N, K, 2) in crop px on the T-FAKE and the CHARLOTTE test split."""
    return tuple(crop_px(model, split, batch_size)[0] for split in splits)


def nme_of(preds: tuple[np.ndarray, np.ndarray], splits: tuple[Split, Split]) -> dict:
    """T-FAKE NME-IO and CHARLOTTE Full NME-diag of `predictions` (evaluate's scoring, no CED curves)."""
    (tfake, charlotte), (pred, ch_pred) = splits, preds
    return {"tfake": summarize(nme_io(pred, tfake.in_crop_px(tfake.kpts)))["nme"],
            "charlotte": summarize(nme_diag(ch_pred, charlotte.in_crop_px(charlotte.kpts), charlotte.visible))["nme"]}


def nme_change(fp32: dict, int8: dict, max_rise: float) -> dict:
    """Both NMEs, their rise under int8, and whether the student stays deployable (no rise above `max_rise`)."""
    out = {}
    for test in ("tfake", "charlotte"):
        out[f"{test}_nme_fp32"], out[f"{test}_nme_int8"] = fp32[test], int8[test]
        out[f"{test}_nme_rise"] = int8[test] - fp32[test]
    out["deployable_int8"] = bool(max(out["tfake_nme_rise"], out["charlotte_nme_rise"]) <= max_rise)
    return out
