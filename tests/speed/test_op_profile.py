"""The detector's op profile: each profiled node's kind, the per-run sums of a hand-made trace with its warm-up left
out, and a real ONNX Runtime profile of a small separable network, fp32 and int8 (node names keep the module path)."""

import numpy as np
import pytest
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from torch import nn

from thermbench.speed import op_profile
from thermbench.speed.pose_speed import export_onnx


@pytest.mark.parametrize(("node", "op", "expected"), [
    ("/backbone/stem/stem.0/conv/Conv_output_0_nchwc_kernel_time", "Conv", "stem_conv"),
    ("/backbone/stage1/stage1.0/depthwise_conv/conv/Conv_token_46_kernel_time", "QLinearConv", "depthwise_conv"),
    ("/neck/out_convs.0/pointwise_conv/conv/Conv_kernel_time", "FusedConv", "pointwise_conv"),
    ("/backbone/stage4/stage4.1/conv2/conv/Conv_kernel_time", "Conv", "other_conv"),
    ("/backbone/stem/stem.0/activate/Mul/QuickGeluFusion/_kernel_time", "QuickGelu", "silu_and_products"),
    ("/backbone/stem/stem.0/activate/Mul_kernel_time", "QLinearMul", "silu_and_products"),
    ("/backbone/stem/stem.0/conv/Conv_input_DequantizeLinear_kernel_time", "DequantizeLinear", "quantize_dequantize"),
    ("/neck/Concat_kernel_time", "QLinearConcat", "rest")])
def test_kind_of_a_profiled_node(node, op, expected):
    assert op_profile.kind(node, op) == expected


def _node(name, op, ts, dur):
    return {"cat": "Node", "name": f"{name}_kernel_time", "ts": ts, "dur": dur, "args": {"op_name": op}}


def test_by_kind_averages_the_runs_after_the_warmup():
    runs = [{"cat": "Session", "name": "model_run", "ts": ts, "dur": 90} for ts in (0, 100, 200)]
    events = [*runs, _node("/stem/Conv", "Conv", 10, 5000),  # the warm-up's: left out
              _node("/stem/Conv", "Conv", 110, 1000), _node("/a/Mul", "Mul", 120, 500),
              {"cat": "Node", "name": "/a/Mul_fence_before", "ts": 121, "dur": 7, "args": {"op_name": "Mul"}},
              _node("/stem/Conv", "Conv", 210, 3000), _node("/neck/Concat", "Concat", 230, 250)]
    got = op_profile.by_kind(events, skip_runs=1)
    # two timed runs: (1000 + 3000) / 2 us, 500 / 2, 250 / 2
    assert got == {"stem_conv": 2.0, "depthwise_conv": 0.0, "pointwise_conv": 0.0, "other_conv": 0.0,
                   "silu_and_products": 0.25, "quantize_dequantize": 0.0, "rest": 0.125, "total": 2.375}
    with pytest.raises(ValueError, match="3 run"):
        op_profile.by_kind(events, skip_runs=3)


class Separable(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.depthwise_conv = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.pointwise_conv = nn.Conv2d(16, 32, 1)

    def forward(self, x):
        x = nn.functional.silu(self.stem(x))
        return nn.functional.silu(self.pointwise_conv(self.depthwise_conv(x)))


class _Feeds(CalibrationDataReader):
    def __init__(self):
        self._feeds = iter([{"input": np.random.default_rng(i).uniform(-2, 2, (1, 3, 32, 32)).astype(np.float32)}
                            for i in range(4)])

    def get_next(self):
        return next(self._feeds, None)


def test_profile_of_a_real_fp32_and_int8_file(tmp_path):
    torch.manual_seed(0)
    fp32, int8 = tmp_path / "net.onnx", tmp_path / "net.int8.onnx"
    export_onnx(Separable(), fp32, (1, 3, 32, 32), 17)
    quantize_static(str(fp32), str(int8), _Feeds(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    for path in (fp32, int8):
        got = op_profile.profile(path, threads=1, runs=3, warmup=1)
        assert set(got) == {*op_profile.KINDS, "total"}
        for k in ("stem_conv", "depthwise_conv", "pointwise_conv", "silu_and_products"):
            assert got[k] > 0, (path.name, k)
        assert got["other_conv"] == 0.0
        assert got["total"] == pytest.approx(sum(got[k] for k in op_profile.KINDS), abs=0.01)
