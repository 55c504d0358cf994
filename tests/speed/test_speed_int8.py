"""int8 quantization, the ONNX scoring wrapper, the GEMM limit arithmetic and the detector + pose pipeline."""

import numpy as np
import pandas as pd
import pytest
import torch

from model_builders import lively_rtmpose_t
from thermbench.datasets.crop_store import Split
from thermbench.models.rtmdet import build_rtmdet
from thermbench.models.rtmpose import crop_px
from thermbench.speed import detect_then_pose, gemm, quantize
from thermbench.speed.pose_speed import OUTPUT_NAMES, export_onnx


@pytest.fixture(scope="module")
def tiny_pose(tmp_path_factory):
    """RTMPose-t at 64x64 whose SimCC logits vary (model_builders.lively_rtmpose_t), exported with a dynamic batch
    axis."""
    model = lively_rtmpose_t(64)
    path = tmp_path_factory.mktemp("onnx") / "t.onnx"
    export_onnx(model, path, (1, 3, 64, 64), 17, OUTPUT_NAMES, dynamic_batch=True)
    return model, path


def _split(n, seed):
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame({"width_group": ["high", "low"] * (n // 2), "view": ["front", "side"] * (n // 2)})
    kpts = rng.uniform(8, 56, (n, 68, 2)).astype(np.float32)
    return Split(images=rng.integers(0, 256, (n, 64, 64), dtype=np.uint8), kpts=kpts,
                 visible=np.ones((n, 68), np.float32), scale=np.full((n, 2), 4.0, np.float32), meta=meta)


# Seeded untrained heads give nearly flat SimCC logits, so float reordering between runtimes may flip an argmax on
# another CPU: agreement is asked of nearly all keypoints, not of every one.
def test_onnx_wrapper_predicts_like_the_torch_model(tiny_pose):
    model, path = tiny_pose
    wrapped = quantize.OnnxPose(path, model.cfg, threads=1)
    split = _split(4, 1)
    pred = crop_px(wrapped, split, 3)[0]
    assert len(np.unique(pred)) > 10  # predictions that differ between keypoints, so that agreement means something
    assert np.all(pred == crop_px(model, split, 4)[0], axis=-1).mean() >= 0.95
    splits = (split, _split(4, 2))
    scores = quantize.nme(wrapped, splits, 3)
    assert scores == pytest.approx(quantize.nme(model, splits, 4), rel=0.05)


def test_quantized_model_runs_convolutions_in_int8(tiny_pose, tmp_path):
    model, path = tiny_pose
    images = np.random.default_rng(3).integers(0, 256, (4, 64, 64), dtype=np.uint8)
    settings = quantize.quantize(path, tmp_path / "t_int8.onnx", images)
    assert settings["calibration_crops"] == 4 and settings["format"] == "QDQ"
    assert settings["float_head"] and settings["float_nodes"] > 0
    ops = quantize.int8_op_counts(tmp_path / "t_int8.onnx")
    # RTMPose-t has 38 convolutions; without quant_pre_process ONNX Runtime fuses nearly all into QLinearConv. Its 7
    # matrix products (ScaleNorm's Linear, GAU uv/qk/Av/o, cls_x, cls_y) are all in the head, kept in float.
    assert ops["int8_conv"] >= 30 and ops["int8_conv"] + ops["float_conv"] == 38
    assert (ops["int8_matmul"], ops["float_matmul"]) == (0, 7)
    quantize.quantize(path, tmp_path / "t_all_int8.onnx", images, float_head=False)
    assert quantize.int8_op_counts(tmp_path / "t_all_int8.onnx")["int8_matmul"] == 7
    wrapped = quantize.OnnxPose(tmp_path / "t_int8.onnx", model.cfg, threads=1)
    simcc_x, simcc_y = wrapped(torch.zeros(2, 3, 64, 64))
    assert simcc_x.shape == (2, 68, 128) and simcc_y.shape == (2, 68, 128)


def test_nme_change_and_deployable_threshold():
    fp32, int8 = {"tfake": 0.050, "charlotte": 0.100}, {"tfake": 0.054, "charlotte": 0.103}
    out = quantize.nme_change(fp32, int8, max_rise=0.005)
    assert out["tfake_nme_rise"] == pytest.approx(0.004) and out["charlotte_nme_rise"] == pytest.approx(0.003)
    assert out["deployable_int8"] is True
    assert quantize.nme_change(fp32, {"tfake": 0.050, "charlotte": 0.106}, 0.005)["deployable_int8"] is False


def test_achieved_fraction_of_gemm():
    # 0.5 GMACs in 10 ms = 1 GFLOP / 0.01 s = 100 GFLOP/s; half of a 200 GFLOP/s GEMM.
    out = gemm.achieved(0.5, 10.0, 200.0)
    assert out["gflops_per_s"] == pytest.approx(100.0) and out["fraction_of_gemm"] == pytest.approx(0.5)


def test_gemm_throughput_counts_two_flops_per_multiply_add():
    out = gemm.gemm_throughput(32, warmup=0, repeats=3)
    assert out["gflops_per_s"] == pytest.approx(2 * 32 ** 3 / out["median_ms"] / 1e6)
    assert out["best_gflops_per_s"] >= out["gflops_per_s"] and torch.get_num_threads() == 1


def test_crop_transform_pads_and_fixes_aspect():
    # Box 20x40 centred at (20, 40): padded 25x50, widened to 50x50 for a square input; 64 / 50 = 1.28 px per px.
    m = detect_then_pose.crop_transform(np.array([10.0, 20.0, 30.0, 60.0]), (64, 64))
    np.testing.assert_allclose(m, [[1.28, 0, 32 - 1.28 * 20], [0, 1.28, 32 - 1.28 * 40]])
    np.testing.assert_allclose(detect_then_pose.to_frame(np.array([[32.0, 32.0], [0.0, 0.0]]), m), [[20, 40], [-5, 15]])


def test_pipeline_onnx_matches_eager(tiny_pose, tmp_path):
    from thermbench.core.onnx_session import cpu_session

    pose, pose_path = tiny_pose
    torch.manual_seed(4)
    detector = build_rtmdet("nano", input_size=(64, 64)).eval()
    det_path = tmp_path / "det.onnx"
    export_onnx(detector, det_path, (1, 3, 64, 64), 17, detector.output_names)
    image = detect_then_pose.frame(detector, seed=0)
    got = detect_then_pose.run_onnx(image, cpu_session(det_path, 1), cpu_session(pose_path, 1), (8, 16, 32), (64, 64))
    want = detect_then_pose.run_torch(image, detector, pose)
    assert got.shape == (68, 2)
    assert np.mean(np.all(np.abs(got - want) < 1e-3, axis=-1)) >= 0.9  # see the note on flat logits above
    timing = detect_then_pose.measure_pipeline(detector, pose, det_path, pose_path, warmup=0, repeats=2, threads=1)
    assert timing["onnxruntime_ms"] > 0 and timing["torch_ms"] > 0 and timing["threads"] == 1
