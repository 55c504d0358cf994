"""int8 quantization, the ONNX scoring wrapper, the GEMM limit arithmetic, the detector + pose pipeline, and each
runtime variant's agreement with ONNX Runtime fp32."""

import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from model_builders import lively_rtmpose_t
from thermbench.datasets.crop_store import Split
from thermbench.models.rtmdet import build_rtmdet
from thermbench.models.rtmpose import crop_px
from thermbench.speed import deploy, detect_then_pose, gemm, quantize, runtimes
from thermbench.speed.pose_speed import OUTPUT_NAMES, export_onnx, fresh_model


@pytest.fixture(scope="module")
def tiny_pose(tmp_path_factory):
    """RTMPose-t at 64x64 whose SimCC logits vary (model_builders.lively_rtmpose_t), exported with a dynamic batch
    axis."""
    model = lively_rtmpose_t(64)
    path = tmp_path_factory.mktemp("onnx") / "t.onnx"
    export_onnx(model, path, (1, 3, 64, 64), 17, OUTPUT_NAMES, dynamic_batch=True)
    return model, path


def _int8_conv_weights(path):
    """The int8 4-D initializers of a QDQ file: its convolutions' quantized weights (zero points are 0-D or 1-D)."""
    import onnx
    from onnx import numpy_helper

    return [numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer
            if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]


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
    wrapped = quantize.OnnxPose(runtimes.onnxruntime_runner(path, 1), model.cfg)
    split = _split(4, 1)
    pred = crop_px(wrapped, split, 3)[0]
    assert len(np.unique(pred)) > 10  # predictions that differ between keypoints, so that agreement means something
    assert np.all(pred == crop_px(model, split, 4)[0], axis=-1).mean() >= 0.95
    splits = (split, _split(4, 2))
    scores = quantize.nme_of(quantize.predictions(wrapped, splits, 3), splits)
    assert scores == pytest.approx(quantize.nme_of(quantize.predictions(model, splits, 4), splits), rel=0.05)


def test_quantized_model_runs_every_convolution_in_int8(tiny_pose, tmp_path):
    model, path = tiny_pose
    images = np.random.default_rng(3).integers(0, 256, (4, 64, 64), dtype=np.uint8)
    settings = quantize.quantize(path, tmp_path / "t_int8.onnx", images)
    assert settings["calibration_crops"] == 4 and settings["format"] == "QDQ" and settings["pre_processed"]
    assert settings["float_head"] and settings["float_nodes"] == len(quantize.head_token_nodes(path)) > 0
    ops = quantize.int8_op_counts(tmp_path / "t_int8.onnx")
    # RTMPose-t has 38 convolutions, all fused into QLinearConv after quant_pre_process. Its 7 matrix products
    # (ScaleNorm's Linear, GAU uv/qk/Av/o, cls_x, cls_y) are all in the head, kept in float.
    assert (ops["int8_conv"], ops["float_conv"], ops["all_convs_int8"]) == (38, 0, True)
    assert (ops["int8_matmul"], ops["float_matmul"]) == (0, 7)
    # reduce_range: every convolution's per-channel int8 weights span 7 bits, [-64, 64], and reach its edge
    weights = _int8_conv_weights(tmp_path / "t_int8.onnx")
    assert settings["reduce_range"] and len(weights) == 38
    assert all(np.abs(w).max() == 64 for w in weights)
    quantize.quantize(path, tmp_path / "t_all_int8.onnx", images, float_head=False)
    assert quantize.int8_op_counts(tmp_path / "t_all_int8.onnx")["int8_matmul"] == 7
    wrapped = quantize.OnnxPose(runtimes.onnxruntime_runner(tmp_path / "t_int8.onnx", 1), model.cfg)
    simcc_x, simcc_y = wrapped(torch.zeros(2, 3, 64, 64))
    assert simcc_x.shape == (2, 68, 128) and simcc_y.shape == (2, 68, 128)


def _qdq_graph(path):
    """(op type -> how many such nodes run quantised: every non-constant input dequantized and every output read by
    a QuantizeLinear only, as ONNX Runtime's QDQ format marks them; {dequantized tensor: its scale's values})."""
    import collections

    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    made_by = {out: n.op_type for n in graph.node for out in n.output}
    readers = collections.defaultdict(set)
    for node in graph.node:
        for name in node.input:
            readers[name].add(node.op_type)
    quantised = collections.Counter(
        n.op_type for n in graph.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear")
        and all(made_by.get(i) == "DequantizeLinear" for i in n.input if i and i not in init)
        and any(i not in init for i in n.input) and all(readers[o] == {"QuantizeLinear"} for o in n.output))
    return quantised, {n.output[0]: init[n.input[1]] for n in graph.node if n.op_type == "DequantizeLinear"}


def test_openvino_file_quantizes_only_the_convolutions_with_the_same_calibration(tiny_pose, tmp_path):
    _, path = tiny_pose
    images = np.random.default_rng(3).integers(0, 256, (4, 64, 64), dtype=np.uint8)
    settings = quantize.quantize(path, tmp_path / "t.int8.onnx", images)
    assert settings["quantized_ops"] == {"onnxruntime": "all", "openvino": ["Conv"]}
    ort_file, ov_file = tmp_path / "t.int8.onnx", tmp_path / "t.int8-openvino.onnx"
    assert runtimes.int8_file(ort_file, "onnxruntime") == ort_file
    assert runtimes.int8_file(ort_file, "openvino") == ov_file
    (ort_ops, ort_scales), (ov_ops, ov_scales) = _qdq_graph(ort_file), _qdq_graph(ov_file)
    # RTMPose-t's 38 convolutions run quantised in both; ONNX Runtime's file quantises its SiLUs (Sigmoid, Mul) too
    assert ov_ops == {"Conv": 38}
    assert ort_ops["Conv"] == 38 and ort_ops["Sigmoid"] > 0 and ort_ops["Mul"] > 0
    # one calibration: a tensor dequantized in both files has the same scales, and the int8 weights are equal
    shared = set(ort_scales) & set(ov_scales)
    assert len(shared) > 2 * 38 and all(np.array_equal(ort_scales[n], ov_scales[n]) for n in shared)
    assert [w.tolist() for w in _int8_conv_weights(ov_file)] == [w.tolist() for w in _int8_conv_weights(ort_file)]
    ort_file.unlink()  # openvino-int8 runs its own file
    simcc_x, _ = runtimes.runner(runtimes.Variant("openvino", "int8"), path, ort_file, 1)(
        np.zeros((1, 3, 64, 64), np.float32))
    assert simcc_x.shape == (1, 68, 128)


def test_seeded_export_with_shared_biases_quantizes_every_convolution(tmp_path):
    # Seeded weights give identical folded conv biases, which the exporter shares through Identity nodes; without
    # quant_pre_process those convolutions stayed in float.
    import onnx

    model = fresh_model(lively_rtmpose_t(64).cfg, seed=0)
    path = tmp_path / "seeded.onnx"
    export_onnx(model, path, (1, 3, 64, 64), 17, OUTPUT_NAMES)
    assert any(n.op_type == "Identity" for n in onnx.load(str(path)).graph.node)
    images = np.random.default_rng(3).integers(0, 256, (2, 64, 64), dtype=np.uint8)
    quantize.quantize(path, tmp_path / "seeded.int8.onnx", images)
    ops = quantize.int8_op_counts(tmp_path / "seeded.int8.onnx")
    assert (ops["int8_conv"], ops["float_conv"]) == (38, 0)


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


def test_gemm_throughput_counts_two_flops_per_multiply_add(tmp_path):
    out = gemm.gemm_throughput(32, tmp_path, warmup=0, repeats=3, capabilities=["FP32", "INT8"])
    assert list(out) == ["onnxruntime-fp32", "openvino-fp32", "openvino-bf16"]
    for name in ("onnxruntime-fp32", "openvino-fp32"):
        row = out[name]
        assert row["gflops_per_s"] == pytest.approx(2 * 32 ** 3 / row["cpu_ms"] / 1e6)
        assert row["best_gflops_per_s"] == pytest.approx(2 * 32 ** 3 / row["cpu_min_ms"] / 1e6)
        assert row["best_gflops_per_s"] >= row["gflops_per_s"] and row["threads"] == 1
    assert out["openvino-bf16"]["not_run"].startswith("not run: OpenVINO's CPU plugin lists no BF16")


def test_matmul_onnx_multiplies_by_its_constant(tmp_path):
    path = gemm.matmul_onnx(tmp_path / "g.onnx", 4, seed=5)
    b = np.random.default_rng(5).standard_normal((4, 4)).astype(np.float32)
    a = np.eye(4, dtype=np.float32) * 2
    np.testing.assert_allclose(runtimes.onnxruntime_runner(path, 1)(a)[0], 2 * b, rtol=1e-6)


def test_crop_transform_pads_and_fixes_aspect():
    # Box 20x40 centred at (20, 40): padded 25x50, widened to 50x50 for a square input; 64 / 50 = 1.28 px per px.
    m = detect_then_pose.crop_transform(np.array([10.0, 20.0, 30.0, 60.0]), (64, 64))
    np.testing.assert_allclose(m, [[1.28, 0, 32 - 1.28 * 20], [0, 1.28, 32 - 1.28 * 40]])
    np.testing.assert_allclose(detect_then_pose.to_frame(np.array([[32.0, 32.0], [0.0, 0.0]]), m), [[20, 40], [-5, 15]])


def test_lut_normalisation_equals_torch_in_place():
    from thermbench.models.rtmdet import normalize_detector_input
    from thermbench.models.rtmpose import to_input

    gray = np.random.default_rng(0).integers(0, 256, (6, 5), dtype=np.uint8)
    out = np.empty((1, 3, 6, 5), np.float32)
    detect_then_pose.normalize_into(gray, detect_then_pose.POSE_TABLE, out[0])
    np.testing.assert_array_equal(out, to_input(gray[None]).numpy())  # bit for bit
    detect_then_pose.normalize_into(gray, detect_then_pose.DETECTOR_TABLE, out[0])
    np.testing.assert_array_equal(out, normalize_detector_input(torch.from_numpy(gray)[None, None]).numpy())
    # gray level 0 on the detector's first (blue) channel: -103.53 / 57.375
    assert detect_then_pose.DETECTOR_TABLE[0, 0] == np.float32(np.float32(-103.53) / np.float32(57.375))


def test_agreement_counts_keypoints_within_one_px():
    ref = np.zeros((2, 2, 2))
    pred = np.array([[[0.6, 0.8], [3.0, 4.0]], [[0.0, 0.0], [0.0, 2.0]]])  # distances 1, 5, 0, 2
    assert detect_then_pose.agreement(pred, ref) == {"mean_px_from_fp32": 2.0, "within_1px_share": 0.5}


def test_iou_and_box_agreement_by_hand():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(detect_then_pose.iou(a, b), [1.0, 50 / 150, 0.0])
    np.testing.assert_allclose(detect_then_pose.iou(a[:1], a[:1, [2, 3, 0, 1]]), [1.0])  # corners in either order
    point = np.array([[4.0, 4.0, 4.0, 4.0]])
    np.testing.assert_allclose(detect_then_pose.iou(point, point), [1.0])
    np.testing.assert_allclose(detect_then_pose.iou(point, point + 1), [0.0])
    assert detect_then_pose.box_agreement(b, a) == {"reference_box_side_px": 10.0, "box_iou_mean": (1.0 + 1 / 3) / 3,
                                                    "box_iou_min": 0.0, "boxes_missed": 2}
    # a reference box under 1 px on a side (a seeded detector's near-zero distances) has no overlap to compare
    thin = np.array([[0, 0, 10, 10], [3, 3, 3.5, 40]], float)
    assert detect_then_pose.box_agreement(thin + 1, thin) == {"reference_box_side_px": 0.5}


def test_the_precision_each_pipeline_row_runs_its_detector_and_its_pose_model_in():
    rows = detect_then_pose.row_names()
    precision = {name: detect_then_pose.detector_precision(name) for name in rows}
    assert precision == {"onnxruntime-fp32": "fp32", "onnxruntime-int8": "fp32", "onnxruntime-int8-both": "int8",
                         "openvino-fp32": "fp32", "openvino-bf16": "bf16", "openvino-int8": "fp32",
                         "openvino-int8-both": "int8", "torch-fp32": "fp32"}
    pose = {name: (detect_then_pose.pose_variant(name), detect_then_pose.pose_precision(name)) for name in rows}
    assert pose == {"onnxruntime-fp32": ("onnxruntime-fp32", "fp32"), "onnxruntime-int8": ("onnxruntime-int8", "int8"),
                    "onnxruntime-int8-both": ("onnxruntime-int8", "int8"), "openvino-fp32": ("openvino-fp32", "fp32"),
                    "openvino-bf16": ("openvino-bf16", "bf16"), "openvino-int8": ("openvino-int8", "int8"),
                    "openvino-int8-both": ("openvino-int8", "int8"), "torch-fp32": ("torch-fp32", "fp32")}


def test_each_variant_is_scored_against_onnxruntime_fp32s_keypoints(monkeypatch):
    """Fake runners named by their precision: the int8 ones move one of each test's two keypoints 2 px from fp32's,
    the others predict fp32's. NME stand-in: each test's mean coordinate, so 2 px on one of 4 coordinates is +0.5."""
    reference = (np.array([[[10.0, 20.0], [30.0, 40.0]]]), np.array([[[50.0, 60.0], [70.0, 80.0]]]))
    moved = (reference[0] + [[2.0, 0.0], [0.0, 0.0]], reference[1] + [[0.0, 0.0], [0.0, 2.0]])
    monkeypatch.setattr(runtimes, "runner", lambda variant, fp32, int8, threads: variant.precision)
    monkeypatch.setattr(quantize, "predictions",
                        lambda model, splits, batch: moved if model.run == "int8" else reference)
    monkeypatch.setattr(quantize, "nme_of", lambda preds, splits: {"tfake": preds[0].mean(),
                                                                   "charlotte": preds[1].mean()})
    fp32, rows = deploy.runtime_accuracy(None, Path("t.onnx"), Path("t.int8.onnx"), None, 4, ["FP32", "INT8"])
    assert fp32 == {"tfake": 25.0, "charlotte": 65.0}
    same = {"tfake_nme": 25.0, "charlotte_nme": 65.0, "tfake_nme_change": 0.0, "charlotte_nme_change": 0.0,
            "mean_px_from_fp32": 0.0, "within_1px_share": 1.0}
    assert rows["onnxruntime-fp32"] == rows["openvino-fp32"] == same
    # distances 2, 0 (T-FAKE) and 0, 2 (CHARLOTTE): 1 px on average, half within 1 px
    assert rows["onnxruntime-int8"] == rows["openvino-int8"] == {
        "tfake_nme": 25.5, "charlotte_nme": 65.5, "tfake_nme_change": 0.5, "charlotte_nme_change": 0.5,
        "mean_px_from_fp32": 1.0, "within_1px_share": 0.5}
    assert list(rows) == [v.name for v in runtimes.VARIANTS] and "not_run" in rows["openvino-bf16"]


def test_each_pipeline_row_is_compared_with_onnxruntime_fp32s_keypoints_and_boxes(monkeypatch):
    """Fake pipelines from runners named by their precision. Frame i's fp32 keypoints are (10 + i, 20), (30, 40 + i)
    and its top box (0, 0, 10, 10); an int8 pose model moves the first keypoint 2 px, an int8 detector shifts the box
    5 px right in frame 0 (IoU 50 / 150) and 2 px in frame 1 (IoU 80 / 120)."""
    box = np.array([0.0, 0.0, 10.0, 10.0])

    def keypoints(frame):
        i = int(frame[0, 0])
        return np.array([[10.0 + i, 20.0], [30.0, 40.0 + i]])

    class Pipeline:
        def __init__(self, detector, pose, *sizes):
            self.detector, self.pose = detector, pose

        def box(self, frame):
            return box + ([5.0, 0.0, 5.0, 0.0] if frame[0, 0] == 0 else [2.0, 0.0, 2.0, 0.0]) \
                if self.detector == "int8" else box

        def __call__(self, frame):
            return keypoints(frame) + ([[2.0, 0.0], [0.0, 0.0]] if self.pose == "int8" else 0.0)

    monkeypatch.setattr(runtimes, "openvino_capabilities", lambda: ["FP32", "INT8"])
    monkeypatch.setattr(runtimes, "runner", lambda variant, fp32, int8, threads: variant.precision)
    monkeypatch.setattr(detect_then_pose, "Pipeline", Pipeline)
    monkeypatch.setattr(detect_then_pose, "run_torch", lambda frame, detector, pose: keypoints(frame))
    monkeypatch.setattr(detect_then_pose, "torch_box", lambda frame, detector: box)
    model = lambda **cfg: types.SimpleNamespace(cfg=types.SimpleNamespace(**cfg), eval=lambda: None)  # noqa: E731
    frames = np.stack([np.full((4, 4), i, np.uint8) for i in range(2)])
    _, agreement = detect_then_pose.measure_pipeline(
        model(input_size=(4, 4), strides=(8,)), model(input_size=(4, 4)), Path("det.onnx"), Path("det.int8.onnx"),
        Path("t.onnx"), Path("t.int8.onnx"), warmup=0, repeats=1, threads=1, images=frames)
    rows = agreement["variants"]
    boxes_kept = {"reference_box_side_px": 10.0, "box_iou_mean": 1.0, "box_iou_min": 1.0, "boxes_missed": 0}
    for name in ("onnxruntime-fp32", "openvino-fp32", "torch-fp32"):
        assert rows[name] == {"mean_px_from_fp32": 0.0, "within_1px_share": 1.0, **boxes_kept}, name
    # 2 px on one keypoint of two: 1 px on average, half within 1 px
    moved = {"mean_px_from_fp32": 1.0, "within_1px_share": 0.5}
    for name in ("onnxruntime-int8", "openvino-int8"):
        assert rows[name] == {**moved, **boxes_kept}, name
        assert rows[name + detect_then_pose.BOTH] == {**moved, "reference_box_side_px": 10.0, "box_iou_mean": 0.5,
                                                      "box_iou_min": pytest.approx(1 / 3), "boxes_missed": 1}, name
    assert "not_run" in rows["openvino-bf16"]


def test_pipeline_matches_eager_in_every_runtime(tiny_pose, tmp_path):
    pose, pose_path = tiny_pose
    torch.manual_seed(4)
    detector = build_rtmdet("nano", input_size=(64, 64)).eval()
    det_path = tmp_path / "det.onnx"
    export_onnx(detector, det_path, (1, 3, 64, 64), 17, detector.output_names)
    image = detect_then_pose.frame(detector, seed=0)
    want = detect_then_pose.run_torch(image, detector, pose)
    for runtime in ("onnxruntime", "openvino"):
        fp32 = runtimes.Variant(runtime, "fp32")
        pipeline = detect_then_pose.Pipeline(runtimes.runner(fp32, det_path, None, 1),
                                             runtimes.runner(fp32, pose_path, None, 1), (64, 64), (8, 16, 32), (64, 64))
        got = pipeline(image)
        assert got.shape == (68, 2)
        assert np.mean(np.all(np.abs(got - want) < 1e-3, axis=-1)) >= 0.9, runtime  # see the note on flat logits
    int8_path, det_int8 = tmp_path / "t.int8.onnx", tmp_path / "det.int8.onnx"
    quantize.quantize(pose_path, int8_path, np.random.default_rng(3).integers(0, 256, (2, 64, 64), dtype=np.uint8))
    settings = quantize.quantize_detector(det_path, det_int8, detect_then_pose.calibration_frames(detector, 2, 0))
    assert settings["calibration_frames"] == 2 and settings["float_nodes"] == 6  # 3 strides x (logits, distances)
    timing, agreement = detect_then_pose.measure_pipeline(detector, pose, det_path, det_int8, pose_path, int8_path,
                                                          warmup=0, repeats=2, threads=1,
                                                          images=detect_then_pose.seeded_frames(detector, 2, 0))
    assert timing["threads"] == 1 and agreement["frames"] == 2
    variants = timing["variants"]
    assert list(variants) == detect_then_pose.row_names()
    assert set(variants) == {v.name for v in runtimes.VARIANTS} | {"torch-fp32", "onnxruntime-int8-both",
                                                                    "openvino-int8-both"}
    for name, row in variants.items():
        if "not_run" in row:
            assert name == "openvino-bf16" and "BF16" not in runtimes.openvino_capabilities()
            continue
        assert row["cpu_ms"] > 0 and row["wall_ms"] > 0
    ref = variants["onnxruntime-fp32"]["speedup_over_onnxruntime-fp32"]["cpu"]
    assert ref == {"median": 1.0, "q1": 1.0, "q3": 1.0}
    reference = agreement["variants"]["onnxruntime-fp32"]
    # the seeded detector's box distances are near 0: its top box is a point, so no row's boxes are compared
    assert reference["reference_box_side_px"] < detect_then_pose.MIN_BOX_SIDE_PX
    assert reference == {"mean_px_from_fp32": 0.0, "within_1px_share": 1.0,
                         "reference_box_side_px": reference["reference_box_side_px"]}
    assert all("box_iou_mean" not in row for row in agreement["variants"].values())
    assert agreement["variants"]["openvino-fp32"]["within_1px_share"] >= 0.9


def test_a_variant_its_runtime_cannot_compile_is_listed_with_the_reason(tiny_pose, tmp_path, monkeypatch):
    """OpenVINO under ONEDNN_MAX_CPU_ISA=SSE41 refuses RTMDet ("bad combination"): that variant is not run, and
    says why; the others are timed."""
    pose, pose_path = tiny_pose
    torch.manual_seed(4)
    detector = build_rtmdet("nano", input_size=(64, 64)).eval()
    det_path = tmp_path / "det.onnx"
    export_onnx(detector, det_path, (1, 3, 64, 64), 17, detector.output_names)
    int8_path = tmp_path / "t.int8.onnx"
    quantize.quantize(pose_path, int8_path, np.random.default_rng(3).integers(0, 256, (2, 64, 64), dtype=np.uint8))
    real = runtimes.runner

    def runner(variant, fp32, int8, threads):
        if variant.runtime == "openvino" and Path(fp32) == det_path:
            raise RuntimeError("Exception from src/inference/src/dev/plugin.cpp:59:\nbad combination\n")
        return real(variant, fp32, int8, threads)

    monkeypatch.setattr(runtimes, "runner", runner)
    timing, _ = detect_then_pose.measure_pipeline(detector, pose, det_path, det_path, pose_path, int8_path, warmup=0,
                                                  repeats=1, threads=1,
                                                  images=detect_then_pose.seeded_frames(detector, 1, 0))
    assert timing["variants"]["openvino-fp32"] == {
        "not_run": "not run: openvino cannot compile it on this CPU's kernels (bad combination)"}
    assert "not_run" in timing["variants"]["openvino-int8-both"]
    assert timing["variants"]["onnxruntime-fp32"]["cpu_ms"] > 0


def test_seeded_frames_are_the_frames_of_consecutive_seeds_and_calibration_uses_others():
    detector = build_rtmdet("nano", input_size=(64, 32))
    frames = detect_then_pose.seeded_frames(detector, 3, 5)
    assert frames.shape == (3, 32, 64) and frames.dtype == np.uint8
    assert np.array_equal(frames[1], detect_then_pose.frame(detector, 6))
    calibration = detect_then_pose.calibration_frames(detector, 2, 5)
    assert np.array_equal(calibration[0], detect_then_pose.frame(detector, detect_then_pose.CALIBRATION_SEED + 5))


def test_a_detector_with_boxes_gets_its_boxes_compared_in_every_row(tiny_pose, tmp_path):
    """Distances biased to 2 strides (as trained weights give boxes wider than a pixel): every row's top box is
    compared with ONNX Runtime fp32's; fp32 rows match it. A seeded head's class logits are nearly flat, so another
    runtime's rounding could pick another prior: constant logits, highest at stride 8, make the first prior the top
    one in every runtime (equal scores: the first wins)."""
    pose, pose_path = tiny_pose
    torch.manual_seed(4)
    detector = build_rtmdet("nano", input_size=(64, 64)).eval()
    with torch.no_grad():
        for conv in detector.bbox_head.rtm_reg:
            conv.bias.fill_(2.0)
        for level, conv in enumerate(detector.bbox_head.rtm_cls):
            conv.weight.zero_()
            conv.bias.fill_(1.0 if level == 0 else 0.0)
    det_path, det_int8 = tmp_path / "det.onnx", tmp_path / "det.int8.onnx"
    export_onnx(detector, det_path, (1, 3, 64, 64), 17, detector.output_names)
    quantize.quantize_detector(det_path, det_int8, detect_then_pose.calibration_frames(detector, 2, 0))
    int8_path = tmp_path / "t.int8.onnx"
    quantize.quantize(pose_path, int8_path, np.random.default_rng(3).integers(0, 256, (2, 64, 64), dtype=np.uint8))
    _, agreement = detect_then_pose.measure_pipeline(detector, pose, det_path, det_int8, pose_path, int8_path,
                                                     warmup=0, repeats=1, threads=1,
                                                     images=detect_then_pose.seeded_frames(detector, 2, 0))
    rows = agreement["variants"]
    assert rows["onnxruntime-fp32"]["reference_box_side_px"] >= detect_then_pose.MIN_BOX_SIDE_PX
    for name, row in rows.items():
        if "not_run" not in row:
            assert 0 <= row["box_iou_min"] <= row["box_iou_mean"] <= 1 and row["boxes_missed"] in (0, 1, 2), name
    for name in ("onnxruntime-fp32", "onnxruntime-int8", "openvino-fp32", "torch-fp32"):
        assert rows[name]["box_iou_min"] > 0.99 and rows[name]["boxes_missed"] == 0, name
